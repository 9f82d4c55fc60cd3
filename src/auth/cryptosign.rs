//! WAMP-Cryptosign (Ed25519) challenge–response, router side.
//!
//! The pure cryptographic part of the `cryptosign` authentication method of the WAMP
//! advanced profile: making the random challenge sent in `CHALLENGE.Extra.challenge`, and
//! checking the signature the client returns in `AUTHENTICATE`. No I/O, no session state.
//!
//! The exchange, as the specification describes it:
//!
//! 1. The client announces its Ed25519 public key (32 bytes, hex) in
//!    `HELLO.Details.authextra.pubkey` ([`parse_public_key`] checks it).
//! 2. The router sends 32 random bytes ([`new_challenge`]) as lowercase hex
//!    ([`challenge_hex`]) in `CHALLENGE.Extra.challenge`.
//! 3. The client signs a 32-byte message: the challenge itself or, with TLS channel binding,
//!    the challenge XOR'ed bytewise with the 32-byte channel id. It returns, hex encoded,
//!    the 64-byte signature followed by the 32-byte message it signed: 96 bytes, 192 hex
//!    digits, as the `AUTHENTICATE` signature.
//! 4. The router checks that the trailing message is the one it expects and that the
//!    signature verifies under the announced key ([`verify`]).
//!
//! # Channel id for `tls-unique`
//!
//! The specification speaks of "the 32 bytes from TLS with channel binding `tls-unique`",
//! while `tls-unique` itself (RFC 5929: the first TLS Finished message of the latest
//! handshake) is 12 bytes with the usual TLS 1.2 cipher suites. The reference
//! implementation (Autobahn, and so the Crossbar.io router) takes the channel id to be the
//! SHA-256 digest of the `tls-unique` bytes, which is what [`ChannelBinding::TlsUnique`]
//! does here: give it the raw `tls-unique` bytes of the connection, not a digest.

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// Length in bytes of a challenge, and of the message a client signs.
const MESSAGE_LEN: usize = 32;

/// Length in bytes of an Ed25519 public key.
const PUBLIC_KEY_LEN: usize = 32;

/// Length in bytes of an Ed25519 signature.
const SIGNATURE_LEN: usize = 64;

/// Length in bytes of the `AUTHENTICATE` signature: Ed25519 signature, then signed message.
const AUTHENTICATE_LEN: usize = SIGNATURE_LEN + MESSAGE_LEN;

/// Why a Cryptosign public key or `AUTHENTICATE` signature was refused.
///
/// Each variant names what was wrong, for logs. None of them quotes the client's input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum CryptosignError {
    /// The value is not hexadecimal.
    #[error("{field} is not valid hex: {detail}")]
    BadHex {
        /// Which value: `"public key"` or `"signature"`.
        field: &'static str,
        /// The first offending character and its position.
        detail: hex::FromHexError,
    },
    /// The value does not have the length the protocol fixes (odd lengths included).
    #[error("{field} is {actual} bytes of text, expected {expected} hex digits")]
    WrongLength {
        /// Which value: `"public key"` or `"signature"`.
        field: &'static str,
        /// The number of hex digits required.
        expected: usize,
        /// The length of the text received, in bytes.
        actual: usize,
    },
    /// The public key is not a usable Ed25519 key.
    #[error("public key is not a usable Ed25519 key: {reason}")]
    BadPublicKey {
        /// What is wrong with the key.
        reason: &'static str,
    },
    /// The message carried after the signature is not the one the router expects: not the
    /// challenge (without channel binding) or not the challenge XOR the channel id (with it).
    #[error(
        "signed message does not match the challenge{}",
        if *.channel_bound {
            " XOR the channel id (client signed for another challenge or another TLS channel, \
             or without channel binding)"
        } else {
            ""
        }
    )]
    MessageMismatch {
        /// Whether channel binding was in use for this authentication.
        channel_bound: bool,
    },
    /// The Ed25519 signature does not verify (under `verify_strict` rules) for the expected
    /// message and the client's public key.
    #[error("Ed25519 signature does not verify under the client's public key")]
    BadSignature,
    /// Channel binding was requested but the connection supplied no channel-binding data.
    #[error("channel binding data of the connection is empty")]
    EmptyChannelBinding,
}

/// The TLS channel binding in force for one authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChannelBinding {
    /// No channel binding: the client signs the challenge itself.
    None,
    /// `tls-unique` (RFC 5929), as requested by `HELLO.Details.authextra.channel_binding`:
    /// the raw `tls-unique` bytes of this connection (the first Finished message of its
    /// latest TLS handshake). The channel id is their SHA-256 digest, and the client signs
    /// the challenge XOR that id.
    // Constructed once a transport offers TLS channel binding data (TLS
    // arrives with the transports issue); tested already.
    #[cfg_attr(not(test), allow(dead_code))]
    TlsUnique(Vec<u8>),
}

impl ChannelBinding {
    /// The 32-byte channel id the challenge is XOR'ed with, if any.
    fn channel_id(&self) -> Result<Option<[u8; MESSAGE_LEN]>, CryptosignError> {
        match self {
            Self::None => Ok(None),
            Self::TlsUnique(data) if data.is_empty() => Err(CryptosignError::EmptyChannelBinding),
            Self::TlsUnique(data) => Ok(Some(Sha256::digest(data).into())),
        }
    }
}

/// A fresh 32-byte challenge from a cryptographically secure generator.
///
/// Uses `rand`'s thread-local generator (ChaCha-based, seeded and periodically reseeded
/// from the operating system).
pub(crate) fn new_challenge() -> [u8; MESSAGE_LEN] {
    rand::random()
}

/// The challenge as lowercase hex (64 digits), the form sent in `CHALLENGE.Extra.challenge`.
pub(crate) fn challenge_hex(challenge: &[u8; MESSAGE_LEN]) -> String {
    hex::encode(challenge)
}

/// Decodes a client's public key from `HELLO.Details.authextra.pubkey`.
///
/// Takes exactly 64 hex digits, either case. Refuses values that are not a valid Ed25519
/// point, and small-order ("weak") keys, for which a signature can be valid for any message.
pub(crate) fn parse_public_key(hex: &str) -> Result<[u8; PUBLIC_KEY_LEN], CryptosignError> {
    decode_verifying_key(hex).map(|key| key.to_bytes())
}

/// Checks the signature a client sent in `AUTHENTICATE` for a `cryptosign` challenge.
///
/// `public_key_hex` is the key from `HELLO.Details.authextra.pubkey`, `challenge` the bytes
/// sent in `CHALLENGE.Extra.challenge`, `binding` the channel binding in force, and
/// `signature_hex` the `AUTHENTICATE` signature: 192 hex digits (either case) encoding the
/// 64-byte Ed25519 signature followed by the 32-byte message signed.
///
/// Succeeds only when the trailing message is the challenge (XOR the channel id, with
/// channel binding) and the signature verifies for it under the key, by `verify_strict`
/// rules (canonical signatures only, no small-order keys or nonce points).
pub(crate) fn verify(
    public_key_hex: &str,
    challenge: &[u8; MESSAGE_LEN],
    binding: &ChannelBinding,
    signature_hex: &str,
) -> Result<(), CryptosignError> {
    let key = decode_verifying_key(public_key_hex)?;
    let channel_id = binding.channel_id()?;
    let expected = expected_message(challenge, channel_id.as_ref());
    verify_message(&key, &expected, channel_id.is_some(), signature_hex)
}

/// The message a client must sign: the challenge, or the challenge XOR the channel id.
fn expected_message(
    challenge: &[u8; MESSAGE_LEN],
    channel_id: Option<&[u8; MESSAGE_LEN]>,
) -> [u8; MESSAGE_LEN] {
    let mut message = *challenge;
    if let Some(channel_id) = channel_id {
        for (byte, id_byte) in message.iter_mut().zip(channel_id) {
            *byte ^= id_byte;
        }
    }
    message
}

/// Checks an `AUTHENTICATE` signature against the message the router expects.
fn verify_message(
    key: &VerifyingKey,
    expected: &[u8; MESSAGE_LEN],
    channel_bound: bool,
    signature_hex: &str,
) -> Result<(), CryptosignError> {
    let raw: [u8; AUTHENTICATE_LEN] = decode_hex("signature", signature_hex)?;
    let (signature, message) = raw.split_at(SIGNATURE_LEN);
    // Neither value is secret (the challenge went out in clear), so a plain comparison is fine.
    if message != expected {
        return Err(CryptosignError::MessageMismatch { channel_bound });
    }
    let signature = Signature::from_slice(signature).map_err(|_| CryptosignError::BadSignature)?;
    key.verify_strict(expected, &signature)
        .map_err(|_| CryptosignError::BadSignature)
}

/// Decodes and validates a hex Ed25519 public key.
fn decode_verifying_key(hex: &str) -> Result<VerifyingKey, CryptosignError> {
    let bytes: [u8; PUBLIC_KEY_LEN] = decode_hex("public key", hex)?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| CryptosignError::BadPublicKey {
        reason: "not the encoding of a curve point",
    })?;
    if key.is_weak() {
        return Err(CryptosignError::BadPublicKey {
            reason: "small-order (weak) key",
        });
    }
    Ok(key)
}

/// Decodes exactly `2 * N` hex digits (either case) into `N` bytes.
///
/// The length is checked first, so oversized input costs nothing to refuse.
fn decode_hex<const N: usize>(field: &'static str, text: &str) -> Result<[u8; N], CryptosignError> {
    let expected = N * 2;
    if text.len() != expected {
        return Err(CryptosignError::WrongLength {
            field,
            expected,
            actual: text.len(),
        });
    }
    let mut out = [0_u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|detail| CryptosignError::BadHex { field, detail })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};

    /// Decodes test hex of a known length.
    fn bytes<const N: usize>(text: &str) -> [u8; N] {
        let mut out = [0_u8; N];
        hex::decode_to_slice(text, &mut out).unwrap();
        out
    }

    /// One known-answer vector: signing seed, challenge, optional channel id, and the
    /// expected `AUTHENTICATE` signature (signature ++ message, hex).
    struct Vector {
        private_key: &'static str,
        challenge: &'static str,
        channel_id: Option<&'static str>,
        signature: &'static str,
    }

    const CHANNEL_ID: &str = "62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff";
    const KEY_1: &str = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510";
    const KEY_2: &str = "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd";
    const KEY_3: &str = "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b";
    const CHALLENGE_1: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    const CHALLENGE_2: &str = "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d";
    const CHALLENGE_3: &str = "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2";

    /// `test_vectors_1` of the WAMP-Cryptosign specification ("Test Vectors").
    const SPEC_VECTORS: [Vector; 6] = [
        Vector {
            private_key: KEY_1,
            challenge: CHALLENGE_1,
            channel_id: None,
            signature: "b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        },
        Vector {
            private_key: KEY_2,
            challenge: CHALLENGE_2,
            channel_id: None,
            signature: "d4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
        },
        Vector {
            private_key: KEY_3,
            challenge: CHALLENGE_3,
            channel_id: None,
            signature: "7beb282184baadd08f166f16dd683b39cab53816ed81e6955def951cb2ddad1ec184e206746fd82bda075af03711d3d5658fc84a76196b0fa8d1ebc92ef9f30bb05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
        },
        Vector {
            private_key: KEY_1,
            challenge: CHALLENGE_1,
            channel_id: Some(CHANNEL_ID),
            signature: "9b6f41540c9b95b4b7b281c3042fa9c54cef43c842d62ea3fd6030fcb66e70b3e80d49d44c29d1635da9348d02ec93f3ed1ef227dfb59a07b580095c2b82f80f9d16ca518aa0c2b707f2b2a609edeca73bca8dd59817a633f35574ac6fd80d00",
        },
        Vector {
            private_key: KEY_2,
            challenge: CHALLENGE_2,
            channel_id: Some(CHANNEL_ID),
            signature: "305aaa3ac25e98f651427688b3fc43fe7d8a68a7ec1d7d61c61517c519bd4a427c3015599d83ca28b4c652333920223844ef0725eb5dc2febfd6af7677b73f01d0852a29b460fc92ec943242ac638a053bbacc200512b18b30d15083cbdc9282",
        },
        Vector {
            private_key: KEY_3,
            challenge: CHALLENGE_3,
            channel_id: Some(CHANNEL_ID),
            signature: "ee3c7644fd8070532bc1fde3d70d742267da545d8c8f03e63bda63f1ad4214f4d2c4bfdb4eb9526def42deeb7e31602a6ff99eba893e0a4ad4d45892ca75e608d2b75e24a189a7f78ca776ba36fc53f6c3e31c32f251f2c524f0a44202f2902d",
        },
    ];

    /// Public key (hex) of a signing seed (hex).
    fn public_key_of(seed_hex: &str) -> String {
        hex::encode(
            SigningKey::from_bytes(&bytes(seed_hex))
                .verifying_key()
                .to_bytes(),
        )
    }

    /// Verifies with an explicit 32-byte channel id, as the specification's vectors give it.
    fn verify_with_channel_id(
        public_key_hex: &str,
        challenge_hex: &str,
        channel_id_hex: Option<&str>,
        signature_hex: &str,
    ) -> Result<(), CryptosignError> {
        let key = decode_verifying_key(public_key_hex)?;
        let channel_id: Option<[u8; 32]> = channel_id_hex.map(bytes);
        let expected = expected_message(&bytes(challenge_hex), channel_id.as_ref());
        verify_message(&key, &expected, channel_id.is_some(), signature_hex)
    }

    #[test]
    fn spec_vectors_verify() {
        for vector in &SPEC_VECTORS {
            let public_key = public_key_of(vector.private_key);
            assert_eq!(
                verify_with_channel_id(
                    &public_key,
                    vector.challenge,
                    vector.channel_id,
                    vector.signature
                ),
                Ok(()),
                "vector with key {} and channel id {:?}",
                vector.private_key,
                vector.channel_id
            );
        }
    }

    #[test]
    fn spec_vectors_are_reproduced_by_signing() {
        // Ed25519 signatures are deterministic: signing the expected message with the
        // vector's seed must give the vector's signature byte for byte, which pins down
        // the message layout (signature first, then the message, XOR'ed with the id).
        for vector in &SPEC_VECTORS {
            let signing_key = SigningKey::from_bytes(&bytes(vector.private_key));
            let channel_id: Option<[u8; 32]> = vector.channel_id.map(bytes);
            let message = expected_message(&bytes(vector.challenge), channel_id.as_ref());
            let mut produced = hex::encode(signing_key.sign(&message).to_bytes());
            produced.push_str(&hex::encode(message));
            assert_eq!(produced, vector.signature);
        }
    }

    #[test]
    fn spec_vector_messages_are_challenge_xor_channel_id() {
        // The first bound vector has an all-ones challenge, so its message is the bitwise
        // complement of the channel id.
        let message = expected_message(&bytes(CHALLENGE_1), Some(&bytes(CHANNEL_ID)));
        let complement: Vec<u8> = bytes::<32>(CHANNEL_ID).iter().map(|b| !b).collect();
        assert_eq!(message.to_vec(), complement);
        assert_eq!(&SPEC_VECTORS[3].signature[128..], hex::encode(message));
    }

    /// Public key of the client in the specification's example message exchanges.
    const EXAMPLE_CLIENT_KEY: &str =
        "545efb0a2192db8d43f118e9bf9aee081466e1ef36c708b96ee6f62dddad9122";
    /// Public key of the router in the specification's example message exchanges.
    const EXAMPLE_ROUTER_KEY: &str =
        "4a3838f6fe75251e613329d53fc69b262d5eac97fb1d73bebbaed4015b53c862";
    /// `tls-unique` channel id shown in the session details of the specification's Example 2.
    const EXAMPLE_2_CHANNEL_ID: &str =
        "e973bee24dcea9e20625f949c0e3cd28d632ccbefe4907c2fac2728710f7b160";

    #[test]
    fn spec_example_message_flow_verifies() {
        assert_eq!(
            verify_with_channel_id(
                EXAMPLE_CLIENT_KEY,
                "fa034062ad76352b53a25358854577730db82f367aa439709c91296d04a5716c",
                None,
                "e2f0297a193b63b7a4a92028e9e2e6107f82730560d54a657bd982cb4b3151490399debbbde998e494d3c3b2a5e2e91271291e10dee85a6cfaa127885ddd8b0afa034062ad76352b53a25358854577730db82f367aa439709c91296d04a5716c",
            ),
            Ok(())
        );
    }

    #[test]
    fn spec_example_1_without_channel_binding_verifies() {
        // Client signature over the router's challenge.
        assert_eq!(
            verify_with_channel_id(
                EXAMPLE_CLIENT_KEY,
                "0e9192bc08512c8198da159c1ae600ba91729215f35d56102ee318558e773537",
                None,
                "a3a178fe792ed772a8fc092f8341e455de96670c8901264a7c312dbf940d5743626fe9fbc29b23dcd2169b308eca309de85a89ccd296b24835de3d95b16b77030e9192bc08512c8198da159c1ae600ba91729215f35d56102ee318558e773537",
            ),
            Ok(())
        );
        // Router signature over the client's challenge: same format.
        assert_eq!(
            verify_with_channel_id(
                EXAMPLE_ROUTER_KEY,
                "bbae60ea44cdd7b20dc7010a618b0f0803fab25a817520b4b7f057299b524deb",
                None,
                "fd5128d2d207ba58a9d1d6f41b72c747964ad9d1294077b3b1eee6130b05843ab12c53c7f2519f73d4feb82db19d8ca0fc26b62bde6518e79a882f5795bc9f00bbae60ea44cdd7b20dc7010a618b0f0803fab25a817520b4b7f057299b524deb",
            ),
            Ok(())
        );
    }

    #[test]
    fn spec_example_2_with_channel_binding_verifies() {
        let client_signature = "25114474580d6e99a6126b091b4565c23db567d686c5b8c3a94e3f2f09dc80300c5b40a124236733fa56396df721eb12ac092362379bd5b27b4db9e2beaa1408dcf59bd361a2921448f0e45e12f303097924f5798a83b895cf6b179a6d664d0a";
        let router_challenge = "358625312c6c3bf64ed51d17d210ce21af1639c774cabf5735a9651d7d91fc6a";
        assert_eq!(
            verify_with_channel_id(
                EXAMPLE_CLIENT_KEY,
                router_challenge,
                Some(EXAMPLE_2_CHANNEL_ID),
                client_signature,
            ),
            Ok(())
        );
        // Without the binding, the same signature is refused: it carries the XOR'ed message.
        assert_eq!(
            verify_with_channel_id(EXAMPLE_CLIENT_KEY, router_challenge, None, client_signature),
            Err(CryptosignError::MessageMismatch {
                channel_bound: false
            })
        );
        assert_eq!(
            verify_with_channel_id(
                EXAMPLE_ROUTER_KEY,
                "4f861f12796c2972b7b0026522a687aa851d90355122a61d4f1fdce4d06b564f",
                Some(EXAMPLE_2_CHANNEL_ID),
                "aa05f4cd7747d36b79443f1d4703a681e107edc085d876b508714e2a3a8135bacaae1c018452c4acb3ad2818aa97a6d23e5ac7e3734c7b1f40e6232a70938205a6f5a1f034a28090b195fb2ce2454a82532f5c8baf6ba1dfb5ddae63c09ce72f",
            ),
            Ok(())
        );
    }

    /// A vector produced independently by autobahn-python's `CryptosignKey.sign_challenge`
    /// (PyNaCl), with the channel id from its `transport_channel_id` for the given raw
    /// `tls-unique` bytes.
    struct OracleVector {
        seed: &'static str,
        public_key: &'static str,
        challenge: &'static str,
        tls_unique: Option<&'static str>,
        channel_id: Option<&'static str>,
        signature: &'static str,
    }

    const ORACLE_VECTORS: [OracleVector; 3] = [
        OracleVector {
            seed: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            public_key: "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
            challenge: "0000000000000000000000000000000000000000000000000000000000000000",
            tls_unique: None,
            channel_id: None,
            signature: "f726a1147f71f0ded8fb576ddb369acebf5becc3fc93a31c827fb18eef8de7b168d4d57205874ada00debe2e855023e0ecfc86586e86bd7d4bd5b4feb640da0b0000000000000000000000000000000000000000000000000000000000000000",
        },
        OracleVector {
            seed: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            public_key: "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
            challenge: "0000000000000000000000000000000000000000000000000000000000000000",
            tls_unique: Some("0102030405060708090a0b0c"),
            channel_id: Some("206402cab345415716d9a33469feba57a90dc200c064bc0190b4191af058b0eb"),
            signature: "2766876fb8472b97a13b2f4476eea4e04c8f4f2538b1919637222a38b2b0cbab136a9bee7edd15dd98c0da17720a6f8450a149dc825f09335cbd33a6ca9f0d04206402cab345415716d9a33469feba57a90dc200c064bc0190b4191af058b0eb",
        },
        OracleVector {
            seed: "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
            public_key: "0d7550754e0800a5d237eef5826035766b9b3e5a15868a940ab289958788e3b0",
            challenge: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            tls_unique: Some("a1b2c3d4e5f60718293a4b5c"),
            channel_id: Some("324a7cde16d740645ca4cdb5ea8201fc5385368ca3d36c7d72a8e39a34232da7"),
            signature: "81bcd04e4f170ce277ba4dea066ac739272e961247752b761f21f7d288795dc8f10c0e6d2d4ad825d7cfe7c640d69ce288e5d33a723735e89d579aa4ba800609336939b99f7c8d8b5d8788d26329cc1352a673eb2a78a192738ba6fdbd88e048",
        },
    ];

    /// The binding for an oracle vector, from its raw `tls-unique` bytes.
    fn oracle_binding(vector: &OracleVector) -> ChannelBinding {
        vector.tls_unique.map_or(ChannelBinding::None, |raw| {
            ChannelBinding::TlsUnique(hex::decode(raw).unwrap())
        })
    }

    #[test]
    fn oracle_vectors_verify_through_the_public_api() {
        for vector in &ORACLE_VECTORS {
            assert_eq!(public_key_of(vector.seed), vector.public_key);
            let binding = oracle_binding(vector);
            assert_eq!(
                binding.channel_id().unwrap().map(hex::encode).as_deref(),
                vector.channel_id
            );
            assert_eq!(
                verify(
                    vector.public_key,
                    &bytes(vector.challenge),
                    &binding,
                    vector.signature
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn tls_unique_channel_id_is_sha256_of_the_raw_bytes() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            ChannelBinding::TlsUnique(b"abc".to_vec())
                .channel_id()
                .unwrap()
                .map(hex::encode)
                .as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(ChannelBinding::None.channel_id(), Ok(None));
    }

    #[test]
    fn empty_tls_unique_is_refused() {
        let vector = &ORACLE_VECTORS[1];
        assert_eq!(
            verify(
                vector.public_key,
                &bytes(vector.challenge),
                &ChannelBinding::TlsUnique(Vec::new()),
                vector.signature
            ),
            Err(CryptosignError::EmptyChannelBinding)
        );
    }

    #[test]
    fn wrong_binding_is_refused() {
        let bound = &ORACLE_VECTORS[2];
        let challenge = bytes(bound.challenge);
        // Another TLS channel.
        assert_eq!(
            verify(
                bound.public_key,
                &challenge,
                &ChannelBinding::TlsUnique(hex::decode("a1b2c3d4e5f60718293a4b5d").unwrap()),
                bound.signature
            ),
            Err(CryptosignError::MessageMismatch {
                channel_bound: true
            })
        );
        // Binding expected, but the client signed the bare challenge.
        let mut unbound = hex::encode(
            SigningKey::from_bytes(&bytes(bound.seed))
                .sign(&challenge)
                .to_bytes(),
        );
        unbound.push_str(bound.challenge);
        assert_eq!(
            verify(
                bound.public_key,
                &challenge,
                &oracle_binding(bound),
                &unbound
            ),
            Err(CryptosignError::MessageMismatch {
                channel_bound: true
            })
        );
        assert_eq!(
            verify(
                bound.public_key,
                &challenge,
                &ChannelBinding::None,
                &unbound
            ),
            Ok(())
        );
        // No binding in force, but the client bound its signature to a channel.
        assert_eq!(
            verify(
                bound.public_key,
                &challenge,
                &ChannelBinding::None,
                bound.signature
            ),
            Err(CryptosignError::MessageMismatch {
                channel_bound: false
            })
        );
    }

    #[test]
    fn wrong_challenge_is_refused() {
        let vector = &ORACLE_VECTORS[0];
        let mut challenge = bytes(vector.challenge);
        challenge[31] ^= 1;
        assert_eq!(
            verify(
                vector.public_key,
                &challenge,
                &ChannelBinding::None,
                vector.signature
            ),
            Err(CryptosignError::MessageMismatch {
                channel_bound: false
            })
        );
    }

    /// Flips one bit of the byte at `index` of a hex string.
    fn flip_bit(hex_text: &str, index: usize) -> String {
        let mut raw = hex::decode(hex_text).unwrap();
        raw[index] ^= 0x01;
        hex::encode(raw)
    }

    #[test]
    fn tampered_signature_is_refused() {
        for vector in &SPEC_VECTORS {
            let public_key = public_key_of(vector.private_key);
            for index in [0, 31, 32, 63] {
                assert_eq!(
                    verify_with_channel_id(
                        &public_key,
                        vector.challenge,
                        vector.channel_id,
                        &flip_bit(vector.signature, index)
                    ),
                    Err(CryptosignError::BadSignature),
                    "bit flipped in byte {index}"
                );
            }
        }
    }

    #[test]
    fn tampered_message_is_refused() {
        for vector in &SPEC_VECTORS {
            let public_key = public_key_of(vector.private_key);
            for index in [64, 80, 95] {
                assert_eq!(
                    verify_with_channel_id(
                        &public_key,
                        vector.challenge,
                        vector.channel_id,
                        &flip_bit(vector.signature, index)
                    ),
                    Err(CryptosignError::MessageMismatch {
                        channel_bound: vector.channel_id.is_some()
                    }),
                    "bit flipped in byte {index}"
                );
            }
        }
    }

    #[test]
    fn tampered_message_with_matching_challenge_is_refused() {
        // The client's message and the router's challenge both changed: the message check
        // passes, the signature (made for the original message) does not.
        let vector = &ORACLE_VECTORS[0];
        let mut challenge = bytes(vector.challenge);
        challenge[0] ^= 1;
        assert_eq!(
            verify(
                vector.public_key,
                &challenge,
                &ChannelBinding::None,
                &flip_bit(vector.signature, 64)
            ),
            Err(CryptosignError::BadSignature)
        );
    }

    #[test]
    fn wrong_key_is_refused() {
        let vector = &SPEC_VECTORS[0];
        let other_key = public_key_of(KEY_2);
        assert_eq!(
            verify_with_channel_id(&other_key, vector.challenge, None, vector.signature),
            Err(CryptosignError::BadSignature)
        );
        let oracle = &ORACLE_VECTORS[2];
        assert_eq!(
            verify(
                ORACLE_VECTORS[0].public_key,
                &bytes(oracle.challenge),
                &oracle_binding(oracle),
                oracle.signature
            ),
            Err(CryptosignError::BadSignature)
        );
    }

    #[test]
    fn hex_case_is_ignored() {
        let vector = &ORACLE_VECTORS[2];
        let challenge = bytes(vector.challenge);
        let binding = oracle_binding(vector);
        let upper_key = vector.public_key.to_uppercase();
        let upper_signature = vector.signature.to_uppercase();
        // Mixed case: upper-case signature, lower-case message.
        let mixed_signature = format!("{}{}", &upper_signature[..128], &vector.signature[128..]);
        for (key, signature) in [
            (vector.public_key, vector.signature),
            (upper_key.as_str(), vector.signature),
            (vector.public_key, upper_signature.as_str()),
            (upper_key.as_str(), upper_signature.as_str()),
            (upper_key.as_str(), mixed_signature.as_str()),
        ] {
            assert_eq!(verify(key, &challenge, &binding, signature), Ok(()));
        }
        assert_eq!(
            parse_public_key(&upper_key),
            parse_public_key(vector.public_key)
        );
    }

    #[test]
    fn malformed_signature_is_refused() {
        let vector = &ORACLE_VECTORS[0];
        let challenge = bytes(vector.challenge);
        let check = |signature: &str| {
            verify(
                vector.public_key,
                &challenge,
                &ChannelBinding::None,
                signature,
            )
        };
        // Odd length, one digit short.
        assert_eq!(
            check(&vector.signature[..191]),
            Err(CryptosignError::WrongLength {
                field: "signature",
                expected: 192,
                actual: 191
            })
        );
        // Only the 64-byte signature, without the message.
        assert_eq!(
            check(&vector.signature[..128]),
            Err(CryptosignError::WrongLength {
                field: "signature",
                expected: 192,
                actual: 128
            })
        );
        // One byte too many.
        assert_eq!(
            check(&format!("{}00", vector.signature)),
            Err(CryptosignError::WrongLength {
                field: "signature",
                expected: 192,
                actual: 194
            })
        );
        assert_eq!(
            check(""),
            Err(CryptosignError::WrongLength {
                field: "signature",
                expected: 192,
                actual: 0
            })
        );
        // Right length, not hex.
        let not_hex = format!("{}g{}", &vector.signature[..10], &vector.signature[11..]);
        assert_eq!(
            check(&not_hex),
            Err(CryptosignError::BadHex {
                field: "signature",
                detail: hex::FromHexError::InvalidHexCharacter { c: 'g', index: 10 }
            })
        );
        // A "0x" prefix is not accepted.
        let prefixed = format!("0x{}", &vector.signature[2..]);
        assert!(matches!(
            check(&prefixed),
            Err(CryptosignError::BadHex {
                field: "signature",
                ..
            })
        ));
        // Multi-byte characters: length counted in bytes, then refused as non-hex.
        let non_ascii = format!("é{}", &vector.signature[2..]);
        assert!(matches!(
            check(&non_ascii),
            Err(CryptosignError::BadHex {
                field: "signature",
                ..
            })
        ));
    }

    #[test]
    fn malformed_public_key_is_refused() {
        let good = ORACLE_VECTORS[0].public_key;
        assert_eq!(parse_public_key(good), Ok(bytes(good)));
        assert_eq!(
            parse_public_key(&good[..63]),
            Err(CryptosignError::WrongLength {
                field: "public key",
                expected: 64,
                actual: 63
            })
        );
        assert_eq!(
            parse_public_key(&format!("{good}00")),
            Err(CryptosignError::WrongLength {
                field: "public key",
                expected: 64,
                actual: 66
            })
        );
        assert!(matches!(
            parse_public_key(&format!("{}zz", &good[..62])),
            Err(CryptosignError::BadHex {
                field: "public key",
                ..
            })
        ));
        // y = 2 is not the y-coordinate of any point on the curve.
        let not_a_point = format!("02{}", "00".repeat(31));
        assert!(matches!(
            parse_public_key(&not_a_point),
            Err(CryptosignError::BadPublicKey { .. })
        ));
        // The identity point (y = 1) has small order.
        let identity = format!("01{}", "00".repeat(31));
        assert_eq!(
            parse_public_key(&identity),
            Err(CryptosignError::BadPublicKey {
                reason: "small-order (weak) key"
            })
        );
        // verify refuses the same inputs, before looking at the signature.
        let vector = &ORACLE_VECTORS[0];
        assert_eq!(
            verify(
                &identity,
                &bytes(vector.challenge),
                &ChannelBinding::None,
                vector.signature
            ),
            Err(CryptosignError::BadPublicKey {
                reason: "small-order (weak) key"
            })
        );
    }

    #[test]
    fn challenges_are_fresh_and_hex_is_lowercase() {
        let first = new_challenge();
        let second = new_challenge();
        assert_ne!(first, second);
        assert_ne!(first, [0; 32]);
        let text = challenge_hex(&first);
        assert_eq!(text.len(), 64);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(bytes::<32>(&text), first);
        assert_eq!(
            challenge_hex(&bytes(CHALLENGE_2)),
            CHALLENGE_2,
            "round trip of a known value"
        );
        assert_eq!(challenge_hex(&[0xab; 32]), "ab".repeat(32));
    }

    #[test]
    fn a_fresh_challenge_round_trips_through_sign_and_verify() {
        let signing_key = SigningKey::from_bytes(&bytes(KEY_3));
        let public_key = hex::encode(signing_key.verifying_key().to_bytes());
        let challenge = new_challenge();
        let binding = ChannelBinding::TlsUnique(b"finished-message".to_vec());
        let channel_id = binding.channel_id().unwrap();
        let message = expected_message(&challenge, channel_id.as_ref());
        let mut signature = hex::encode(signing_key.sign(&message).to_bytes());
        signature.push_str(&hex::encode(message));
        assert_eq!(
            verify(&public_key, &challenge, &binding, &signature),
            Ok(())
        );
    }

    #[test]
    fn errors_describe_the_problem() {
        assert_eq!(
            CryptosignError::WrongLength {
                field: "signature",
                expected: 192,
                actual: 191
            }
            .to_string(),
            "signature is 191 bytes of text, expected 192 hex digits"
        );
        assert_eq!(
            CryptosignError::MessageMismatch {
                channel_bound: false
            }
            .to_string(),
            "signed message does not match the challenge"
        );
        assert!(
            CryptosignError::MessageMismatch {
                channel_bound: true
            }
            .to_string()
            .starts_with("signed message does not match the challenge XOR the channel id")
        );
        assert_eq!(
            CryptosignError::BadHex {
                field: "public key",
                detail: hex::FromHexError::InvalidHexCharacter { c: 'z', index: 62 }
            }
            .to_string(),
            "public key is not valid hex: Invalid character 'z' at position 62"
        );
    }
}
