//! WAMP-SCRAM (salted challenge-response authentication), the router's half.
//!
//! The cryptography only; the session flow lives elsewhere. One exchange:
//!
//! 1. HELLO carries `authextra.nonce` (the client nonce) and maybe
//!    `authextra.channel_binding`. The flow looks up the user's
//!    [`ScramCredential`] and creates a [`ScramServer`].
//! 2. CHALLENGE carries [`ScramServer::challenge_extra`]: the combined nonce,
//!    the salt, the KDF and its cost parameters.
//! 3. AUTHENTICATE carries the base64 `ClientProof` as its signature and
//!    [`AuthenticateExtra`]; [`ScramServer::verify`] checks them and returns
//!    the base64 `ServerSignature` for the WELCOME `authextra`.
//!
//! # Two dialects
//!
//! The spec's `wamp-scram` ([`ScramDialect::Wamp`]) and what autobahn-python's
//! `AuthScram` client and the Crossbar.io router actually speak
//! ([`ScramDialect::Crossbar`], authmethod `scram`) compute different keys and
//! proofs from the same password, so a credential belongs to one dialect:
//!
//! | | `Wamp` (spec) | `Crossbar` (autobahn-python) |
//! | --- | --- | --- |
//! | authmethod | `wamp-scram` | `scram` |
//! | argon2 KDF name | `argon2id13` | `argon2id-13` |
//! | argon2 `SaltedPassword` | the 32 raw output bytes | the ASCII of their unpadded base64 |
//! | PBKDF2 | supported | not supported (autobahn's client fails on it) |
//! | `AuthMessage` user | `n=` + authid with `,` → `=2C`, `=` → `=3D` | `n=` + authid as is |
//! | `AuthMessage` channel binding | `c=` + base64 of the GS2 header and data (`c=biws` without) | `c=` (empty) |
//! | AUTHENTICATE `nonce` | required | optional (autobahn sends none) |
//! | channel binding | `tls-unique`, `tls-server-end-point` | none |
//! | WELCOME `authextra` key (the flow's choice) | `verifier` | `scram_server_signature` |
//!
//! In both, salts are random bytes sent as canonical base64 and decoded
//! before the KDF, nonces are base64 text, and the server nonce is appended
//! to the client nonce as text.
//!
//! # Normalization
//!
//! The spec asks for SASLprep (RFC 4013) of user names and passwords. No
//! normalization is applied here: names and passwords are used as their UTF-8
//! bytes, which is what SASLprep yields for printable ASCII. Applications
//! with non-ASCII passwords should normalize them the same way on both sides
//! (autobahn-python does not normalize passwords either).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, STANDARD_NO_PAD as BASE64_NO_PAD};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// HMAC-SHA256, the MAC of WAMP-SCRAM.
type HmacSha256 = Hmac<Sha256>;

/// Length of SHA-256 outputs, and so of every SCRAM key and proof.
const KEY_LEN: usize = 32;

/// SHA-256's block size in bytes: the HMAC key length after RFC 2104's key
/// preparation.
const SHA256_BLOCK_LEN: usize = 64;

/// Random bytes in the server's part of the nonce (the spec recommends 16).
const SERVER_NONCE_LEN: usize = 16;

/// Which variant of SCRAM an exchange speaks (see the module docs for the
/// differences).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ScramDialect {
    /// WAMP-SCRAM as the WAMP spec defines it (authmethod `wamp-scram`).
    Wamp,
    /// The SCRAM that autobahn-python's `AuthScram` client and the
    /// Crossbar.io router implement (authmethod `scram`); argon2id only.
    Crossbar,
}

impl ScramDialect {
    /// The `authmethod` string clients announce in HELLO for this dialect.
    pub(crate) fn authmethod(self) -> &'static str {
        match self {
            ScramDialect::Wamp => "wamp-scram",
            ScramDialect::Crossbar => "scram",
        }
    }
}

/// The key derivation function that turns a password into `SaltedPassword`,
/// with its cost parameters (stored with each user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kdf {
    /// Argon2id, version 1.3 (0x13), parallelism 1, 32 output bytes.
    Argon2id13 {
        /// Memory cost in KiB (at least 8).
        memory_kib: u32,
        /// Time cost: passes over the memory (at least 1).
        iterations: u32,
    },
    /// PBKDF2 with HMAC-SHA256, 32 output bytes.
    Pbkdf2 {
        /// Iteration count (at least 1; RFC 7677 recommends 4096 or more).
        iterations: u32,
    },
}

impl Kdf {
    /// The name sent as `CHALLENGE.Details.kdf` in `dialect`.
    pub(crate) fn name(self, dialect: ScramDialect) -> &'static str {
        match (self, dialect) {
            (Kdf::Argon2id13 { .. }, ScramDialect::Wamp) => "argon2id13",
            (Kdf::Argon2id13 { .. }, ScramDialect::Crossbar) => "argon2id-13",
            (Kdf::Pbkdf2 { .. }, _) => "pbkdf2",
        }
    }

    /// The iteration count (`CHALLENGE.Details.iterations`).
    pub(crate) fn iterations(self) -> u32 {
        match self {
            Kdf::Argon2id13 { iterations, .. } | Kdf::Pbkdf2 { iterations } => iterations,
        }
    }

    /// The memory cost in KiB (`CHALLENGE.Details.memory`); `None` (JSON
    /// `null`) for PBKDF2.
    pub(crate) fn memory_kib(self) -> Option<u32> {
        match self {
            Kdf::Argon2id13 { memory_kib, .. } => Some(memory_kib),
            Kdf::Pbkdf2 { .. } => None,
        }
    }
}

/// What went wrong in a SCRAM exchange, for the router's logs. Peers should
/// only be told that authentication failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScramError {
    /// The KDF's cost parameters or the salt were refused (for instance
    /// argon2 memory below 8 KiB, zero iterations, a salt shorter than the 8
    /// bytes argon2 needs).
    #[error("invalid SCRAM key derivation parameters: {0}")]
    InvalidKdfParameters(String),
    /// The dialect cannot use this KDF (PBKDF2 with [`ScramDialect::Crossbar`]).
    #[error("the {dialect:?} SCRAM dialect does not support the {kdf} KDF")]
    UnsupportedKdf {
        /// The dialect of the credential.
        dialect: ScramDialect,
        /// The KDF's name.
        kdf: &'static str,
    },
    /// The HELLO `authextra.nonce` was empty or not canonical base64.
    #[error("the client nonce is empty or not canonical base64")]
    InvalidClientNonce,
    /// Channel binding was requested in a dialect without it.
    #[error("the {0:?} SCRAM dialect does not support channel binding")]
    UnsupportedChannelBinding(ScramDialect),
    /// AUTHENTICATE carried no `nonce` where the dialect requires one.
    #[error("AUTHENTICATE carried no nonce")]
    MissingNonce,
    /// AUTHENTICATE's `nonce` differs from the one sent in CHALLENGE.
    #[error("AUTHENTICATE's nonce differs from the CHALLENGE's")]
    NonceMismatch,
    /// AUTHENTICATE's `channel_binding` differs from the HELLO's.
    #[error("AUTHENTICATE's channel_binding {received:?} differs from HELLO's {expected:?}")]
    ChannelBindingMismatch {
        /// The binding type agreed at HELLO, if any.
        expected: Option<&'static str>,
        /// What AUTHENTICATE carried.
        received: Option<String>,
    },
    /// Channel binding is in use but AUTHENTICATE carried no `cbind_data`.
    #[error("AUTHENTICATE carried no cbind_data although channel binding is in use")]
    MissingChannelBindingData,
    /// AUTHENTICATE carried `cbind_data` without channel binding in use.
    #[error("AUTHENTICATE carried cbind_data although no channel binding is in use")]
    UnexpectedChannelBindingData,
    /// AUTHENTICATE's `cbind_data` was not canonical base64.
    #[error("AUTHENTICATE's cbind_data is not canonical base64")]
    MalformedChannelBindingData,
    /// AUTHENTICATE's `cbind_data` differs from this side's view of the
    /// channel.
    #[error("AUTHENTICATE's cbind_data does not match this side of the channel")]
    ChannelBindingDataMismatch,
    /// The client proof was not canonical base64 of 32 bytes.
    #[error("the client proof is not canonical base64 of 32 bytes")]
    MalformedProof,
    /// The client proof is wrong: a wrong password, or a tampered exchange.
    #[error("the client proof does not match the stored key")]
    ProofMismatch,
}

/// A channel binding type (RFC 5929) a client may request in
/// `HELLO.Details.authextra.channel_binding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
// Channel binding needs TLS data, which arrives with the transports issue.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum ChannelBindingType {
    /// `tls-unique`: the first TLS Finished message of the connection.
    TlsUnique,
    /// `tls-server-end-point`: the hash of the TLS server certificate.
    TlsServerEndPoint,
}

impl ChannelBindingType {
    /// The type's name on the wire.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ChannelBindingType::TlsUnique => "tls-unique",
            ChannelBindingType::TlsServerEndPoint => "tls-server-end-point",
        }
    }

    /// Parses a wire name; `None` for types this module does not know.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "tls-unique" => Some(ChannelBindingType::TlsUnique),
            "tls-server-end-point" => Some(ChannelBindingType::TlsServerEndPoint),
            _ => None,
        }
    }
}

/// Channel binding in use for one exchange: the type the client asked for in
/// HELLO and the binding data as seen from the router's side of the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelBinding {
    /// The binding type.
    pub(crate) kind: ChannelBindingType,
    /// The binding data of this connection, as this side sees it (for
    /// `tls-unique`, the bytes of the first TLS Finished message).
    pub(crate) data: Vec<u8>,
}

/// What the router stores for one user: never the password, only what
/// verifies a proof and signs the server's answer.
#[derive(Clone)]
pub(crate) struct ScramCredential {
    /// The dialect the keys were derived for.
    pub(crate) dialect: ScramDialect,
    /// The KDF and its cost parameters.
    pub(crate) kdf: Kdf,
    /// The per-user random salt, raw (sent base64-encoded in CHALLENGE).
    pub(crate) salt: Vec<u8>,
    /// `StoredKey = SHA256(HMAC(SaltedPassword, "Client Key"))`.
    pub(crate) stored_key: [u8; KEY_LEN],
    /// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    pub(crate) server_key: [u8; KEY_LEN],
}

impl fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredential")
            .field("dialect", &self.dialect)
            .field("kdf", &self.kdf)
            .field("salt", &BASE64.encode(&self.salt))
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// Derives a user's credential from their password, for `dialect`.
    ///
    /// `SaltedPassword` is the KDF of the password's UTF-8 bytes with the raw
    /// salt (argon2id: version 0x13, the given memory and iterations,
    /// parallelism 1, 32 bytes; PBKDF2-HMAC-SHA256: 32 bytes). In the
    /// Crossbar dialect the argon2 output is then replaced by the ASCII of
    /// its unpadded base64, as autobahn-python does. The password is not
    /// SASLprep-normalized (see the module docs).
    ///
    /// Use a fresh random salt per user, 16 bytes recommended (argon2 needs
    /// at least 8). This runs the KDF: deliberately slow, so call it off the
    /// async executor.
    ///
    /// # Errors
    /// [`ScramError::InvalidKdfParameters`] for unusable cost parameters or
    /// salt, [`ScramError::UnsupportedKdf`] for PBKDF2 in the Crossbar
    /// dialect.
    pub(crate) fn from_password(
        password: &str,
        salt: &[u8],
        kdf: Kdf,
        dialect: ScramDialect,
    ) -> Result<Self, ScramError> {
        let salted_password: Vec<u8> = match (kdf, dialect) {
            (
                Kdf::Argon2id13 {
                    memory_kib,
                    iterations,
                },
                _,
            ) => {
                let raw = argon2id13(password.as_bytes(), salt, memory_kib, iterations)?;
                match dialect {
                    ScramDialect::Wamp => raw.to_vec(),
                    ScramDialect::Crossbar => BASE64_NO_PAD.encode(raw).into_bytes(),
                }
            }
            (Kdf::Pbkdf2 { iterations }, ScramDialect::Wamp) => {
                if iterations == 0 {
                    return Err(ScramError::InvalidKdfParameters(
                        "PBKDF2 needs at least one iteration".to_owned(),
                    ));
                }
                let mut raw = [0u8; KEY_LEN];
                pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut raw);
                raw.to_vec()
            }
            (Kdf::Pbkdf2 { .. }, ScramDialect::Crossbar) => {
                return Err(ScramError::UnsupportedKdf {
                    dialect,
                    kdf: kdf.name(dialect),
                });
            }
        };
        let client_key = hmac_sha256(&salted_password, b"Client Key");
        Ok(ScramCredential {
            dialect,
            kdf,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted_password, b"Server Key"),
        })
    }
}

/// Raw Argon2id v1.3 output (32 bytes) with parallelism 1.
fn argon2id13(
    password: &[u8],
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
) -> Result<[u8; KEY_LEN], ScramError> {
    let invalid = |e: argon2::Error| ScramError::InvalidKdfParameters(format!("argon2id: {e}"));
    let params = argon2::Params::new(memory_kib, iterations, 1, Some(KEY_LEN)).map_err(invalid)?;
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; KEY_LEN];
    hasher
        .hash_password_into(password, salt, &mut out)
        .map_err(invalid)?;
    Ok(out)
}

/// The SCRAM attributes for `CHALLENGE.Details`, borrowed from a
/// [`ScramServer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScramChallenge<'a> {
    /// `nonce`: the client nonce followed by the server's.
    pub(crate) nonce: &'a str,
    /// `salt`: the user's salt as canonical base64.
    pub(crate) salt: &'a str,
    /// `kdf`: the KDF's name in the exchange's dialect.
    pub(crate) kdf: &'static str,
    /// `iterations`.
    pub(crate) iterations: u32,
    /// `memory` in KiB; `None` for PBKDF2. The spec sends `null` then, but
    /// autobahn-python's client fails on a `null` memory: omit the key
    /// instead where it must interoperate.
    pub(crate) memory: Option<u32>,
}

/// The SCRAM attributes of `AUTHENTICATE.Extra`, each `None` when absent or
/// `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AuthenticateExtra<'a> {
    /// `nonce`: must repeat the CHALLENGE's combined nonce.
    pub(crate) nonce: Option<&'a str>,
    /// `channel_binding`: must repeat the HELLO's binding type.
    pub(crate) channel_binding: Option<&'a str>,
    /// `cbind_data`: base64 channel binding data, iff channel binding is in
    /// use.
    pub(crate) cbind_data: Option<&'a str>,
}

/// The router's side of one SCRAM exchange, from HELLO to the AUTHENTICATE
/// check. Use it for one [`ScramServer::verify`] and then drop it.
#[derive(Debug, Clone)]
pub(crate) struct ScramServer {
    /// The user's stored credential.
    credential: ScramCredential,
    /// `HELLO.Details.authid`.
    authid: String,
    /// `HELLO.Details.authextra.nonce`.
    client_nonce: String,
    /// The client nonce followed by the server's: CHALLENGE's `nonce`.
    nonce: String,
    /// The salt as canonical base64: CHALLENGE's `salt`.
    salt: String,
    /// The channel binding in use, if any.
    channel_binding: Option<ChannelBinding>,
}

impl ScramServer {
    /// Starts an exchange for `authid` (from HELLO) with the user's stored
    /// `credential`, the client's nonce (HELLO `authextra.nonce`) and the
    /// channel binding the client asked for, with this side's binding data
    /// (`None` when the client asked for none; a router that cannot see the
    /// TLS data must refuse binding requests before getting here).
    ///
    /// The server nonce is 16 random bytes from a CSPRNG, as base64,
    /// appended to the client nonce.
    ///
    /// # Errors
    /// [`ScramError::InvalidClientNonce`] unless the client nonce is
    /// non-empty canonical base64; [`ScramError::UnsupportedChannelBinding`]
    /// for channel binding in the Crossbar dialect.
    pub(crate) fn new(
        credential: ScramCredential,
        authid: &str,
        client_nonce: &str,
        channel_binding: Option<ChannelBinding>,
    ) -> Result<Self, ScramError> {
        let server_nonce = BASE64.encode(rand::random::<[u8; SERVER_NONCE_LEN]>());
        Self::with_server_nonce(
            credential,
            authid,
            client_nonce,
            channel_binding,
            &server_nonce,
        )
    }

    /// [`ScramServer::new`] with the server's part of the nonce given
    /// (tests inject a fixed one).
    fn with_server_nonce(
        credential: ScramCredential,
        authid: &str,
        client_nonce: &str,
        channel_binding: Option<ChannelBinding>,
        server_nonce: &str,
    ) -> Result<Self, ScramError> {
        if client_nonce.is_empty() || BASE64.decode(client_nonce).is_err() {
            return Err(ScramError::InvalidClientNonce);
        }
        if channel_binding.is_some() && credential.dialect == ScramDialect::Crossbar {
            return Err(ScramError::UnsupportedChannelBinding(credential.dialect));
        }
        let salt = BASE64.encode(&credential.salt);
        Ok(ScramServer {
            credential,
            authid: authid.to_owned(),
            client_nonce: client_nonce.to_owned(),
            nonce: format!("{client_nonce}{server_nonce}"),
            salt,
            channel_binding,
        })
    }

    /// The attributes to send in `CHALLENGE.Details`.
    pub(crate) fn challenge_extra(&self) -> ScramChallenge<'_> {
        let kdf = self.credential.kdf;
        ScramChallenge {
            nonce: &self.nonce,
            salt: &self.salt,
            kdf: kdf.name(self.credential.dialect),
            iterations: kdf.iterations(),
            memory: kdf.memory_kib(),
        }
    }

    /// Checks AUTHENTICATE: its signature (`client_proof_b64`, the base64
    /// `ClientProof`) and its `extra`. On success returns the base64
    /// `ServerSignature` for the WELCOME `authextra`.
    ///
    /// Checks, in order: the nonce repeats CHALLENGE's (required in the
    /// Wamp dialect, checked if present in the Crossbar one); the channel
    /// binding type repeats HELLO's; `cbind_data` is present exactly when
    /// binding is in use and equals this side's data; the proof is 32 bytes
    /// of canonical base64; and `SHA256(ClientProof XOR HMAC(StoredKey,
    /// AuthMessage)) == StoredKey`, compared in constant time.
    ///
    /// # Errors
    /// The [`ScramError`] naming the first check that failed; a wrong
    /// password is [`ScramError::ProofMismatch`].
    pub(crate) fn verify(
        &self,
        client_proof_b64: &str,
        extra: &AuthenticateExtra<'_>,
    ) -> Result<String, ScramError> {
        match extra.nonce {
            Some(nonce) if nonce != self.nonce => return Err(ScramError::NonceMismatch),
            None if self.credential.dialect == ScramDialect::Wamp => {
                return Err(ScramError::MissingNonce);
            }
            _ => {}
        }
        self.check_channel_binding(extra)?;

        let proof: [u8; KEY_LEN] = BASE64
            .decode(client_proof_b64)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(ScramError::MalformedProof)?;

        let auth_message = self.auth_message();
        let client_signature = hmac_sha256(&self.credential.stored_key, auth_message.as_bytes());
        let mut client_key = proof;
        for (byte, signature_byte) in client_key.iter_mut().zip(client_signature) {
            *byte ^= signature_byte;
        }
        let recovered_stored_key = sha256(&client_key);
        if !bool::from(recovered_stored_key.ct_eq(&self.credential.stored_key)) {
            return Err(ScramError::ProofMismatch);
        }
        let server_signature = hmac_sha256(&self.credential.server_key, auth_message.as_bytes());
        Ok(BASE64.encode(server_signature))
    }

    /// Checks AUTHENTICATE's `channel_binding` and `cbind_data` against the
    /// binding agreed at HELLO.
    fn check_channel_binding(&self, extra: &AuthenticateExtra<'_>) -> Result<(), ScramError> {
        let expected = self.channel_binding.as_ref().map(|cb| cb.kind.name());
        if extra.channel_binding != expected {
            return Err(ScramError::ChannelBindingMismatch {
                expected,
                received: extra.channel_binding.map(str::to_owned),
            });
        }
        match (&self.channel_binding, extra.cbind_data) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(ScramError::UnexpectedChannelBindingData),
            (Some(_), None) => Err(ScramError::MissingChannelBindingData),
            (Some(binding), Some(data_b64)) => {
                let data = BASE64
                    .decode(data_b64)
                    .map_err(|_| ScramError::MalformedChannelBindingData)?;
                if bool::from(data.ct_eq(&binding.data)) {
                    Ok(())
                } else {
                    Err(ScramError::ChannelBindingDataMismatch)
                }
            }
        }
    }

    /// The `AuthMessage` both sides sign: `client-first-message-bare`,
    /// `server-first-message` and `client-final-message-without-proof`
    /// joined by commas (RFC 5802 section 3, with the dialect's variations).
    fn auth_message(&self) -> String {
        let (user, channel) = match self.credential.dialect {
            ScramDialect::Wamp => {
                // The GS2 header, then the binding data (RFC 5802 `cbind-input`).
                let cbind_input = match &self.channel_binding {
                    None => b"n,,".to_vec(),
                    Some(binding) => [
                        format!("p={},,", binding.kind.name()).as_bytes(),
                        &binding.data,
                    ]
                    .concat(),
                };
                (escape_username(&self.authid), BASE64.encode(cbind_input))
            }
            ScramDialect::Crossbar => (self.authid.clone(), String::new()),
        };
        format!(
            "n={user},r={client_nonce},r={nonce},s={salt},i={iterations},c={channel},r={nonce}",
            client_nonce = self.client_nonce,
            nonce = self.nonce,
            salt = self.salt,
            iterations = self.credential.kdf.iterations(),
        )
    }
}

/// RFC 5802's `saslname` escaping: `=` becomes `=3D` and `,` becomes `=2C`.
fn escape_username(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// SHA-256 of `data`.
fn sha256(data: &[u8]) -> [u8; KEY_LEN] {
    Sha256::digest(data).into()
}

/// HMAC-SHA256 of `data` under `key`, of any length.
///
/// The key is prepared as RFC 2104 section 2 says (hashed when longer than
/// the block, then zero-padded to the block size), which yields the same MAC
/// as the raw key and lets the infallible fixed-size constructor be used.
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; KEY_LEN] {
    let mut block = [0u8; SHA256_BLOCK_LEN];
    if key.len() > SHA256_BLOCK_LEN {
        block[..KEY_LEN].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = HmacSha256::new(&block.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> Vec<u8> {
        BASE64.decode(text).unwrap()
    }

    fn extra(nonce: &str) -> AuthenticateExtra<'_> {
        AuthenticateExtra {
            nonce: Some(nonce),
            ..AuthenticateExtra::default()
        }
    }

    // ---- RFC 7677 section 3 (SCRAM-SHA-256), the vector the spec's own
    // examples reuse. PBKDF2, i=4096, user "user", password "pencil".

    const RFC_CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const RFC_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const RFC_PROOF: &str = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const RFC_SERVER_SIGNATURE: &str = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc7677_server() -> ScramServer {
        let credential = ScramCredential::from_password(
            "pencil",
            &b64(RFC_SALT),
            Kdf::Pbkdf2 { iterations: 4096 },
            ScramDialect::Wamp,
        )
        .unwrap();
        ScramServer::with_server_nonce(credential, "user", RFC_CLIENT_NONCE, None, RFC_SERVER_NONCE)
            .unwrap()
    }

    #[test]
    fn rfc7677_vector() {
        let server = rfc7677_server();
        let challenge = server.challenge_extra();
        let nonce = format!("{RFC_CLIENT_NONCE}{RFC_SERVER_NONCE}");
        assert_eq!(
            challenge,
            ScramChallenge {
                nonce: &nonce,
                salt: RFC_SALT,
                kdf: "pbkdf2",
                iterations: 4096,
                memory: None,
            }
        );
        assert_eq!(
            server.auth_message(),
            "n=user,r=rOprNGfwEbeRWgbNEkqO,\
             r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
             c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        assert_eq!(
            server.verify(RFC_PROOF, &extra(&nonce)),
            Ok(RFC_SERVER_SIGNATURE.to_owned())
        );
    }

    #[test]
    fn rfc7677_wrong_or_malformed_proof() {
        let server = rfc7677_server();
        let nonce = server.challenge_extra().nonce.to_owned();
        let mut proof = b64(RFC_PROOF);
        proof[0] ^= 0x80;
        assert_eq!(
            server.verify(&BASE64.encode(&proof), &extra(&nonce)),
            Err(ScramError::ProofMismatch)
        );
        for malformed in [
            "",
            "garbage!",
            &RFC_PROOF[..43],
            &RFC_PROOF[..40],
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=AAAA",
            "dHzbZapWIk4jUhN-Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        ] {
            assert_eq!(
                server.verify(malformed, &extra(&nonce)),
                Err(ScramError::MalformedProof),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn rfc7677_nonce_checks() {
        let server = rfc7677_server();
        let nonce = server.challenge_extra().nonce.to_owned();
        assert_eq!(
            server.verify(RFC_PROOF, &AuthenticateExtra::default()),
            Err(ScramError::MissingNonce)
        );
        let tampered = format!("{nonce}x");
        assert_eq!(
            server.verify(RFC_PROOF, &extra(&tampered)),
            Err(ScramError::NonceMismatch)
        );
        assert_eq!(
            server.verify(RFC_PROOF, &extra(RFC_CLIENT_NONCE)),
            Err(ScramError::NonceMismatch)
        );
    }

    #[test]
    fn rfc7677_unrequested_channel_binding_is_refused() {
        let server = rfc7677_server();
        let nonce = server.challenge_extra().nonce.to_owned();
        let with_binding = AuthenticateExtra {
            nonce: Some(&nonce),
            channel_binding: Some("tls-unique"),
            cbind_data: Some("AAAA"),
        };
        assert_eq!(
            server.verify(RFC_PROOF, &with_binding),
            Err(ScramError::ChannelBindingMismatch {
                expected: None,
                received: Some("tls-unique".to_owned())
            })
        );
        let data_only = AuthenticateExtra {
            nonce: Some(&nonce),
            channel_binding: None,
            cbind_data: Some("AAAA"),
        };
        assert_eq!(
            server.verify(RFC_PROOF, &data_only),
            Err(ScramError::UnexpectedChannelBindingData)
        );
    }

    // ---- Wamp dialect with argon2id and channel binding. Expected values
    // computed independently in Python (argon2-cffi's `hash_secret_raw`,
    // `hmac`, `hashlib`) from the spec's pseudocode.

    const WAMP_SALT: &str = "c2FsdHNhbHRzYWx0c2FsdA==";
    const WAMP_CLIENT_NONCE: &str = "Y2xpZW50LW5vbmNlLTE2Qg==";
    const WAMP_SERVER_NONCE: &str = "c2VydmVyLW5vbmNlLTE2Qg==";
    const WAMP_ARGON2: Kdf = Kdf::Argon2id13 {
        memory_kib: 64,
        iterations: 3,
    };
    const WAMP_ARGON2_STORED_KEY: &str = "3330rVPvaBT7MQD81/nd8U5zwN6DXCuIxvYLcf3WS8w=";
    const WAMP_ARGON2_SERVER_KEY: &str = "Iikg70h8fHkcgJh5ry/mPXadDfWXag9PHTg1efqwm9M=";
    const WAMP_ARGON2_PROOF: &str = "DfBrG3ULbFNEBjdOEJuOdwjBfNQ1I+Svt0DythlLgHc=";
    const WAMP_ARGON2_SERVER_SIGNATURE: &str = "gp1mXgWjk7l4UfkXx3RhpJC53K75I2C0/jrjcr6GLfE=";
    const WAMP_CB_DATA: &[u8] = b"tls-finished-message-bytes";
    const WAMP_CB_PROOF: &str = "LPJxTkYejQtu1C4AkdwxWZr+mpsnEtLJGrYCYCKhWXY=";
    const WAMP_CB_SERVER_SIGNATURE: &str = "aF9RTuph+T9LMaFpcVGZ9alROIBP/5LKfJ9ZLVK37eg=";

    fn wamp_argon2_credential() -> ScramCredential {
        ScramCredential::from_password("p4ssw0rd", &b64(WAMP_SALT), WAMP_ARGON2, ScramDialect::Wamp)
            .unwrap()
    }

    #[test]
    fn wamp_argon2_credential_known_answer() {
        let credential = wamp_argon2_credential();
        assert_eq!(BASE64.encode(credential.stored_key), WAMP_ARGON2_STORED_KEY);
        assert_eq!(BASE64.encode(credential.server_key), WAMP_ARGON2_SERVER_KEY);
    }

    #[test]
    fn wamp_argon2_exchange() {
        let server = ScramServer::with_server_nonce(
            wamp_argon2_credential(),
            "us=er,1",
            WAMP_CLIENT_NONCE,
            None,
            WAMP_SERVER_NONCE,
        )
        .unwrap();
        let challenge = server.challenge_extra();
        assert_eq!(challenge.kdf, "argon2id13");
        assert_eq!(challenge.iterations, 3);
        assert_eq!(challenge.memory, Some(64));
        assert_eq!(challenge.salt, WAMP_SALT);
        let nonce = challenge.nonce.to_owned();
        assert_eq!(nonce, format!("{WAMP_CLIENT_NONCE}{WAMP_SERVER_NONCE}"));
        assert!(server.auth_message().starts_with("n=us=3Der=2C1,r="));
        assert_eq!(
            server.verify(WAMP_ARGON2_PROOF, &extra(&nonce)),
            Ok(WAMP_ARGON2_SERVER_SIGNATURE.to_owned())
        );
    }

    #[test]
    fn wamp_wrong_password_is_rejected() {
        let credential = ScramCredential::from_password(
            "p4ssw0rD",
            &b64(WAMP_SALT),
            WAMP_ARGON2,
            ScramDialect::Wamp,
        )
        .unwrap();
        let server = ScramServer::with_server_nonce(
            credential,
            "us=er,1",
            WAMP_CLIENT_NONCE,
            None,
            WAMP_SERVER_NONCE,
        )
        .unwrap();
        let nonce = server.challenge_extra().nonce.to_owned();
        assert_eq!(
            server.verify(WAMP_ARGON2_PROOF, &extra(&nonce)),
            Err(ScramError::ProofMismatch)
        );
    }

    #[test]
    fn wamp_different_authid_is_rejected() {
        let server = ScramServer::with_server_nonce(
            wamp_argon2_credential(),
            "us=er,2",
            WAMP_CLIENT_NONCE,
            None,
            WAMP_SERVER_NONCE,
        )
        .unwrap();
        let nonce = server.challenge_extra().nonce.to_owned();
        assert_eq!(
            server.verify(WAMP_ARGON2_PROOF, &extra(&nonce)),
            Err(ScramError::ProofMismatch)
        );
    }

    fn wamp_cb_server() -> ScramServer {
        ScramServer::with_server_nonce(
            wamp_argon2_credential(),
            "us=er,1",
            WAMP_CLIENT_NONCE,
            Some(ChannelBinding {
                kind: ChannelBindingType::TlsUnique,
                data: WAMP_CB_DATA.to_vec(),
            }),
            WAMP_SERVER_NONCE,
        )
        .unwrap()
    }

    #[test]
    fn wamp_channel_binding_exchange() {
        let server = wamp_cb_server();
        let nonce = server.challenge_extra().nonce.to_owned();
        let cbind_data = BASE64.encode(WAMP_CB_DATA);
        let good = AuthenticateExtra {
            nonce: Some(&nonce),
            channel_binding: Some("tls-unique"),
            cbind_data: Some(&cbind_data),
        };
        assert_eq!(
            server.verify(WAMP_CB_PROOF, &good),
            Ok(WAMP_CB_SERVER_SIGNATURE.to_owned())
        );
        // The proof without binding does not pass with binding, even if the
        // client leaves the binding out of AUTHENTICATE.
        assert_eq!(
            server.verify(WAMP_ARGON2_PROOF, &good),
            Err(ScramError::ProofMismatch)
        );
        assert_eq!(
            server.verify(WAMP_CB_PROOF, &extra(&nonce)),
            Err(ScramError::ChannelBindingMismatch {
                expected: Some("tls-unique"),
                received: None
            })
        );
    }

    #[test]
    fn wamp_channel_binding_data_checks() {
        let server = wamp_cb_server();
        let nonce = server.challenge_extra().nonce.to_owned();
        let with = |channel_binding, cbind_data| AuthenticateExtra {
            nonce: Some(&nonce),
            channel_binding,
            cbind_data,
        };
        let other_data = BASE64.encode(b"another-connection");
        let cases = [
            (
                with(Some("tls-unique"), None),
                ScramError::MissingChannelBindingData,
            ),
            (
                with(Some("tls-unique"), Some(&other_data)),
                ScramError::ChannelBindingDataMismatch,
            ),
            (
                with(Some("tls-unique"), Some("not base64")),
                ScramError::MalformedChannelBindingData,
            ),
            (
                with(Some("tls-server-end-point"), Some(&other_data)),
                ScramError::ChannelBindingMismatch {
                    expected: Some("tls-unique"),
                    received: Some("tls-server-end-point".to_owned()),
                },
            ),
        ];
        for (extra, error) in cases {
            assert_eq!(server.verify(WAMP_CB_PROOF, &extra), Err(error));
        }
    }

    // ---- Crossbar dialect: the proof and expected server signature are
    // from autobahn-python 26.10.2's own `AuthScram` client (`on_challenge`
    // and `on_welcome`), as an independent oracle.

    const XB_SALT: &str = "BJH7i3WwSO1W00PP64EyRg==";
    const XB_CLIENT_NONCE: &str = "LfRkY128a1P8RCXxhpcJdQ==";
    const XB_SERVER_NONCE: &str = "KZ9ZChyp2NfoX1X51+b6Jg==";
    const XB_ARGON2: Kdf = Kdf::Argon2id13 {
        memory_kib: 512,
        iterations: 8,
    };
    const XB_PROOF: &str = "C3q5D+PSeNDWSSRm0WDsJneG0M73G9lo6e0pzSnzSzU=";
    const XB_SERVER_SIGNATURE: &str = "pME6V+Cz7dSePknFK50ZETKht0kdV9PpX3TNq22WUBg=";

    fn crossbar_server(password: &str) -> ScramServer {
        let credential = ScramCredential::from_password(
            password,
            &b64(XB_SALT),
            XB_ARGON2,
            ScramDialect::Crossbar,
        )
        .unwrap();
        ScramServer::with_server_nonce(credential, "alice", XB_CLIENT_NONCE, None, XB_SERVER_NONCE)
            .unwrap()
    }

    #[test]
    fn crossbar_exchange_with_autobahn_client() {
        let server = crossbar_server("secret123");
        let challenge = server.challenge_extra();
        assert_eq!(challenge.kdf, "argon2id-13");
        assert_eq!(challenge.salt, XB_SALT);
        assert_eq!(challenge.memory, Some(512));
        assert_eq!(challenge.iterations, 8);
        let nonce = challenge.nonce.to_owned();
        // autobahn sends an empty AUTHENTICATE extra.
        assert_eq!(
            server.verify(XB_PROOF, &AuthenticateExtra::default()),
            Ok(XB_SERVER_SIGNATURE.to_owned())
        );
        // A nonce, when sent, is still checked.
        assert_eq!(
            server.verify(XB_PROOF, &extra(&nonce)),
            Ok(XB_SERVER_SIGNATURE.to_owned())
        );
        assert_eq!(
            server.verify(XB_PROOF, &extra(XB_CLIENT_NONCE)),
            Err(ScramError::NonceMismatch)
        );
    }

    #[test]
    fn crossbar_wrong_password_is_rejected() {
        let server = crossbar_server("secret124");
        assert_eq!(
            server.verify(XB_PROOF, &AuthenticateExtra::default()),
            Err(ScramError::ProofMismatch)
        );
    }

    #[test]
    fn crossbar_tampered_server_nonce_is_rejected() {
        let credential = ScramCredential::from_password(
            "secret123",
            &b64(XB_SALT),
            XB_ARGON2,
            ScramDialect::Crossbar,
        )
        .unwrap();
        let server = ScramServer::with_server_nonce(
            credential,
            "alice",
            XB_CLIENT_NONCE,
            None,
            "AAAAAAAAAAAAAAAAAAAAAA==",
        )
        .unwrap();
        assert_eq!(
            server.verify(XB_PROOF, &AuthenticateExtra::default()),
            Err(ScramError::ProofMismatch)
        );
    }

    #[test]
    fn crossbar_dialect_refuses_pbkdf2_and_channel_binding() {
        let pbkdf2 = Kdf::Pbkdf2 { iterations: 10 };
        assert_eq!(
            ScramCredential::from_password("pw", &[0; 16], pbkdf2, ScramDialect::Crossbar).err(),
            Some(ScramError::UnsupportedKdf {
                dialect: ScramDialect::Crossbar,
                kdf: "pbkdf2"
            })
        );
        let credential = ScramCredential {
            dialect: ScramDialect::Crossbar,
            kdf: XB_ARGON2,
            salt: vec![0; 16],
            stored_key: [0; KEY_LEN],
            server_key: [0; KEY_LEN],
        };
        let binding = ChannelBinding {
            kind: ChannelBindingType::TlsUnique,
            data: vec![1, 2, 3],
        };
        assert_eq!(
            ScramServer::new(credential, "alice", XB_CLIENT_NONCE, Some(binding)).err(),
            Some(ScramError::UnsupportedChannelBinding(
                ScramDialect::Crossbar
            ))
        );
    }

    /// autobahn-python's own test vector for its `derive_scram_credential`
    /// (the credential Crossbar.io stores): argon2id-13, 4096 iterations,
    /// 512 KiB. About 15 s unoptimized.
    #[test]
    fn crossbar_credential_matches_autobahn_vector() {
        let salt = [
            0xae, 0x1f, 0x0d, 0x2f, 0x42, 0x27, 0x57, 0x80, 0x90, 0x77, 0x78, 0x5e, 0x66, 0x0b,
            0x62, 0xc6,
        ];
        let kdf = Kdf::Argon2id13 {
            memory_kib: 512,
            iterations: 4096,
        };
        let credential =
            ScramCredential::from_password("secret123", &salt, kdf, ScramDialect::Crossbar)
                .unwrap();
        let hex =
            |bytes: [u8; KEY_LEN]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(credential.stored_key),
            "5f19358ff6f38e267b6ef1ea1d862514ec4e8745a84682259fd3894be09febb5"
        );
        assert_eq!(
            hex(credential.server_key),
            "0d8e7e9222a7c0e54c9e979aa342115699ff5696c45dc379b5ee241338a5861d"
        );
    }

    // ---- Construction and parameters.

    #[test]
    fn new_appends_a_random_server_nonce() {
        let credential = rfc7677_server().credential;
        let a = ScramServer::new(credential.clone(), "user", RFC_CLIENT_NONCE, None).unwrap();
        let b = ScramServer::new(credential, "user", RFC_CLIENT_NONCE, None).unwrap();
        let (a, b) = (a.challenge_extra().nonce, b.challenge_extra().nonce);
        assert_ne!(a, b);
        for nonce in [a, b] {
            let server_part = nonce.strip_prefix(RFC_CLIENT_NONCE).unwrap();
            assert_eq!(b64(server_part).len(), SERVER_NONCE_LEN);
        }
    }

    #[test]
    fn client_nonce_must_be_canonical_base64() {
        let credential = rfc7677_server().credential;
        for bad in ["", "not base64!", "abc", "YQ", "YR==", "a,b="] {
            assert_eq!(
                ScramServer::new(credential.clone(), "user", bad, None).err(),
                Some(ScramError::InvalidClientNonce),
                "{bad:?}"
            );
        }
        assert!(ScramServer::new(credential, "user", "YQ==", None).is_ok());
    }

    #[test]
    fn kdf_parameters_are_validated() {
        let argon2 = |memory_kib, iterations| Kdf::Argon2id13 {
            memory_kib,
            iterations,
        };
        for (kdf, salt) in [
            (argon2(7, 1), &[0u8; 16][..]),
            (argon2(8, 0), &[0u8; 16][..]),
            (argon2(8, 1), &[0u8; 7][..]),
            (Kdf::Pbkdf2 { iterations: 0 }, &[0u8; 16][..]),
        ] {
            let result = ScramCredential::from_password("pw", salt, kdf, ScramDialect::Wamp);
            assert!(
                matches!(result, Err(ScramError::InvalidKdfParameters(_))),
                "{kdf:?}: {result:?}"
            );
        }
        assert!(
            ScramCredential::from_password("pw", &[0; 8], argon2(8, 1), ScramDialect::Wamp).is_ok()
        );
    }

    #[test]
    fn names_and_parameters() {
        assert_eq!(ScramDialect::Wamp.authmethod(), "wamp-scram");
        assert_eq!(ScramDialect::Crossbar.authmethod(), "scram");
        let pbkdf2 = Kdf::Pbkdf2 { iterations: 4096 };
        assert_eq!(pbkdf2.name(ScramDialect::Wamp), "pbkdf2");
        assert_eq!(pbkdf2.iterations(), 4096);
        assert_eq!(pbkdf2.memory_kib(), None);
        assert_eq!(WAMP_ARGON2.name(ScramDialect::Wamp), "argon2id13");
        assert_eq!(WAMP_ARGON2.name(ScramDialect::Crossbar), "argon2id-13");
        for kind in [
            ChannelBindingType::TlsUnique,
            ChannelBindingType::TlsServerEndPoint,
        ] {
            assert_eq!(ChannelBindingType::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ChannelBindingType::from_name("tls-exporter"), None);
        assert_eq!(escape_username("a=b,c"), "a=3Db=2Cc");
    }

    #[test]
    fn debug_output_hides_the_keys() {
        let credential = rfc7677_server().credential;
        let debug = format!("{credential:?}");
        assert!(debug.contains("Pbkdf2"));
        assert!(!debug.contains("stored_key"));
        assert!(!debug.contains("server_key"));
        let server_debug = format!("{:?}", rfc7677_server());
        assert!(!server_debug.contains("stored_key"));
    }
}
