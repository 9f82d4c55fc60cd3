//! Transcript tests of WAMP-SCRAM and WAMP-Cryptosign, once per serializer
//! and batched variant.
//!
//! The client side is an independent implementation written from the WAMP
//! spec ("Salted Challenge Response Authentication" and "Cryptosign-based
//! Authentication"), computing every key, proof and signature with the
//! `hmac`, `sha2`, `pbkdf2`, `argon2` and `ed25519-dalek` crates directly.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey};
use hmac::{KeyInit as _, Mac as _};
use serde_json::json;
use serverwamp::auth::{Authenticated, NewSession, ScramKdf, ScramRequirement};
use serverwamp::protocol::Value;
use serverwamp::rpc::{RpcResult, RpcRouteSet};
use serverwamp::{Application, Session};
use sha2::{Digest as _, Sha256};
use support::{Client, SUBPROTOCOLS};

const FAILED: &str = "wamp.error.authentication_failed";

/// A WAMP-SCRAM principal of the test application.
struct ScramUser {
    realm: &'static str,
    authid: &'static str,
    password: &'static str,
    kdf: &'static str,
    iterations: u64,
    memory: Option<u64>,
    authrole: &'static str,
    authprovider: &'static str,
}

/// PBKDF2 principals; the second authid has the characters SCRAM escapes.
const DAVE: ScramUser = ScramUser {
    realm: "scram-pbkdf2",
    authid: "dave",
    password: "pbkdf2-password",
    kdf: "pbkdf2",
    iterations: 1000,
    memory: None,
    authrole: "frontend",
    authprovider: "static",
};
const ODD: ScramUser = ScramUser {
    realm: "scram-pbkdf2",
    authid: "o=dd,name",
    password: "odd password",
    kdf: "pbkdf2",
    iterations: 1000,
    memory: None,
    authrole: "frontend",
    authprovider: "static",
};
/// An Argon2id principal.
const FRANK: ScramUser = ScramUser {
    realm: "scram-argon2",
    authid: "frank",
    password: "argon2-password",
    kdf: "argon2id13",
    iterations: 2,
    memory: Some(1024),
    authrole: "backend",
    authprovider: "users_db",
};

/// The cryptosign key the realm knows (the private key's seed).
const KNOWN_SEED: [u8; 32] = [7; 32];
/// A key the realm does not know.
const STRANGER_SEED: [u8; 32] = [42; 32];

async fn whoami(session: Session) -> RpcResult {
    RpcResult::new()
        .kwarg("authid", session.authid())
        .kwarg("authrole", session.authrole())
        .kwarg("authmethod", session.auth().authmethod.as_str())
}

fn app() -> Application {
    let mut routes = RpcRouteSet::new();
    routes.route("whoami", whoami);
    let mut app = Application::new();
    app.add_routes(routes);
    app.realm("scram-pbkdf2").set_scram_handlers(
        |s: NewSession| async move {
            let (password, salt) = match s.authid()? {
                "dave" => (DAVE.password, *b"dave's salt 16B!"),
                "o=dd,name" => (ODD.password, *b"odd's salt: 16B!"),
                _ => return None,
            };
            Some(ScramRequirement {
                password: password.to_owned(),
                salt: salt.to_vec(),
                kdf: ScramKdf::Pbkdf2 { iterations: 1000 },
                authrole: "frontend".to_owned(),
                authprovider: "static".to_owned(),
            })
        },
        |s: NewSession| async move { s.authid().map(|id| Authenticated::new(id.to_owned())) },
    );
    app.realm("scram-argon2").set_scram_handlers(
        |s: NewSession| async move {
            (s.authid()? == "frank").then(|| ScramRequirement {
                password: FRANK.password.to_owned(),
                salt: b"frank's salt 16B".to_vec(),
                kdf: ScramKdf::Argon2id13 {
                    memory_kib: 1024,
                    iterations: 2,
                },
                authrole: "backend".to_owned(),
                authprovider: "users_db".to_owned(),
            })
        },
        |s: NewSession| async move { s.authid().map(|id| Authenticated::new(id.to_owned())) },
    );
    let known = public_key_hex(&SigningKey::from_bytes(&KNOWN_SEED));
    app.realm("cryptosign")
        .set_cryptosign_authenticator(move |_s: NewSession, pubkey: String| {
            let recognized = pubkey == known;
            async move {
                recognized.then(|| {
                    Authenticated::new("erin's identity")
                        .authid("erin")
                        .authrole("signer")
                })
            }
        });
    app
}

// ---- The client's side of WAMP-SCRAM, from the spec.

/// A client nonce: base64 of 16 octets, distinct per label.
fn client_nonce(label: &str) -> String {
    let digest = Sha256::digest(label.as_bytes());
    BASE64.encode(&digest[..16])
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(data));
    out
}

/// `Escape(str)`: `,` becomes `=2C` and `=` becomes `=3D`.
fn escape(authid: &str) -> String {
    authid.chars().fold(String::new(), |mut out, c| {
        match c {
            ',' => out.push_str("=2C"),
            '=' => out.push_str("=3D"),
            c => out.push(c),
        }
        out
    })
}

/// `CHALLENGE.Details` of a WAMP-SCRAM challenge, as the client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScramOffer {
    nonce: String,
    salt: String,
    kdf: String,
    iterations: u64,
    memory: Option<u64>,
}

/// Reads a WAMP-SCRAM CHALLENGE and checks it the way the spec asks a
/// client to: the nonce extends the client's, nonces and salt are base64.
fn scram_offer(challenge: &Value, client_nonce: &str) -> ScramOffer {
    let details = challenge.as_list().expect("CHALLENGE is a list")[2]
        .as_dict()
        .expect("CHALLENGE.Details is a dict");
    let text = |key: &str| {
        details
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("CHALLENGE.Details.{key} is a string: {details:?}"))
            .to_owned()
    };
    let nonce = text("nonce");
    let server_nonce = nonce
        .strip_prefix(client_nonce)
        .expect("the combined nonce begins with the client nonce");
    assert!(!server_nonce.is_empty(), "the server adds its own nonce");
    BASE64
        .decode(server_nonce)
        .expect("the server nonce is canonical base64");
    let salt = text("salt");
    assert!(
        !BASE64.decode(&salt).expect("the salt is base64").is_empty(),
        "a salt"
    );
    let memory = match details.get("memory") {
        None | Some(Value::Null) => None,
        Some(m) => Some(m.as_u64().expect("memory is an integer")),
    };
    ScramOffer {
        nonce,
        salt,
        kdf: text("kdf"),
        iterations: details
            .get("iterations")
            .and_then(Value::as_u64)
            .expect("iterations is an integer"),
        memory,
    }
}

/// `SaltedPassword = KDF(Normalize(password), salt, params...)`, the salt
/// being the octets the base64 `CHALLENGE.Details.salt` encodes. (The test
/// passwords are printable ASCII, which SASLprep leaves as they are.)
fn salted_password(password: &str, offer: &ScramOffer) -> [u8; 32] {
    let salt = BASE64.decode(&offer.salt).expect("the salt is base64");
    let iterations = u32::try_from(offer.iterations).expect("iterations fit a u32");
    let mut out = [0u8; 32];
    match offer.kdf.as_str() {
        "pbkdf2" => pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut out),
        "argon2id13" => {
            let memory = offer.memory.expect("argon2 needs a memory cost");
            let memory = u32::try_from(memory).expect("memory fits a u32");
            let params = argon2::Params::new(memory, iterations, 1, Some(32))
                .expect("usable argon2 parameters");
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(password.as_bytes(), &salt, &mut out)
                .expect("argon2id hashes the password");
        }
        other => panic!("unknown KDF {other:?}"),
    }
    out
}

/// The `AuthMessage` without channel binding, where AUTHENTICATE repeats
/// the CHALLENGE's nonce.
fn auth_message(authid: &str, client_nonce: &str, offer: &ScramOffer) -> String {
    let client_first_bare = format!("n={},r={client_nonce}", escape(authid));
    let server_first = format!("r={},s={},i={}", offer.nonce, offer.salt, offer.iterations);
    // CBindFlag "n", no CBindData.
    let client_final_no_proof = format!("c={},r={}", BASE64.encode(b"n,,"), offer.nonce);
    format!("{client_first_bare},{server_first},{client_final_no_proof}")
}

/// The base64 `ClientProof` and the base64 `ServerSignature` the client
/// expects back.
fn scram_proof(
    password: &str,
    authid: &str,
    client_nonce: &str,
    offer: &ScramOffer,
) -> (String, String) {
    let salted = salted_password(password, offer);
    let auth_message = auth_message(authid, client_nonce, offer);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = sha256(&client_key);
    let client_signature = hmac_sha256(&stored_key, auth_message.as_bytes());
    let mut proof = client_key;
    for (p, s) in proof.iter_mut().zip(client_signature) {
        *p ^= s;
    }
    let server_key = hmac_sha256(&salted, b"Server Key");
    let server_signature = hmac_sha256(&server_key, auth_message.as_bytes());
    (BASE64.encode(proof), BASE64.encode(server_signature))
}

async fn scram_hello(c: &mut Client, realm: &str, authid: &str, nonce: &str) {
    c.send(json!([1, realm, {
        "roles": {"caller": {}},
        "authid": authid,
        "authmethods": ["wamp-scram"],
        "authextra": {"nonce": nonce, "channel_binding": null}
    }]))
    .await;
}

/// Says HELLO as `authid` and reads the CHALLENGE.
async fn scram_challenge(c: &mut Client, realm: &str, authid: &str, nonce: &str) -> ScramOffer {
    scram_hello(c, realm, authid, nonce).await;
    let challenge = c.expect(json!([4, "wamp-scram", {}])).await;
    scram_offer(&challenge, nonce)
}

/// `AUTHENTICATE.Extra` without channel binding: the nonce only (the
/// spec's `channel_binding` and `cbind_data` are optional; see
/// `wamp_scram_authenticate_with_nulls_as_in_the_spec` for sending them as
/// `null`).
fn scram_extra(nonce: &str) -> serde_json::Value {
    json!({"nonce": nonce})
}

#[tokio::test]
async fn wamp_scram_with_pbkdf2_and_argon2id() {
    let app = app();
    for sp in SUBPROTOCOLS {
        for user in [DAVE, ODD, FRANK] {
            let mut c = Client::connect(&app, sp).await;
            let nonce = client_nonce(&format!("{sp} {} {}", user.realm, user.authid));
            let offer = scram_challenge(&mut c, user.realm, user.authid, &nonce).await;
            assert_eq!(offer.kdf, user.kdf, "[{sp}] {}", user.authid);
            assert_eq!(offer.iterations, user.iterations, "[{sp}] {}", user.authid);
            assert_eq!(offer.memory, user.memory, "[{sp}] {}", user.authid);
            let (proof, verifier) = scram_proof(user.password, user.authid, &nonce, &offer);
            c.send(json!([5, proof, scram_extra(&offer.nonce)])).await;
            c.expect(json!([2, "<id>", {
                "authid": user.authid,
                "authrole": user.authrole,
                "authmethod": "wamp-scram",
                "authprovider": user.authprovider,
                "authextra": {"verifier": verifier}
            }]))
            .await;
            c.send(json!([48, 1, {}, "whoami"])).await;
            c.expect(json!([50, 1, {}, [], {
                "authid": user.authid,
                "authrole": user.authrole,
                "authmethod": "wamp-scram"
            }]))
            .await;
        }
    }
}

/// The spec's own AUTHENTICATE example carries `"channel_binding": null`
/// and `"cbind_data": null`, and its `AuthMessage` pseudocode treats absent
/// and null alike (`IfNull`).
#[tokio::test]
async fn wamp_scram_authenticate_with_nulls_as_in_the_spec() {
    let app = app();
    for sp in SUBPROTOCOLS {
        for user in [DAVE, FRANK] {
            let mut c = Client::connect(&app, sp).await;
            let nonce = client_nonce(&format!("{sp} nulls {}", user.authid));
            let offer = scram_challenge(&mut c, user.realm, user.authid, &nonce).await;
            let (proof, verifier) = scram_proof(user.password, user.authid, &nonce, &offer);
            c.send(json!([5, proof, {
                "nonce": offer.nonce,
                "channel_binding": null,
                "cbind_data": null
            }]))
            .await;
            c.expect(json!([2, "<id>", {
                "authid": user.authid,
                "authmethod": "wamp-scram",
                "authextra": {"verifier": verifier}
            }]))
            .await;
        }
    }
}

#[tokio::test]
async fn wamp_scram_failures_after_the_challenge_look_alike() {
    let app = app();
    for sp in SUBPROTOCOLS {
        // A wrong password, with each KDF.
        for user in [DAVE, FRANK] {
            let mut c = Client::connect(&app, sp).await;
            let nonce = client_nonce(&format!("{sp} wrong {}", user.authid));
            let offer = scram_challenge(&mut c, user.realm, user.authid, &nonce).await;
            let (proof, _) = scram_proof("not the password", user.authid, &nonce, &offer);
            c.send(json!([5, proof, scram_extra(&offer.nonce)])).await;
            c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
                .await;
            c.expect_closed().await;
        }

        // An unknown principal gets a challenge too, and the same answer.
        for realm in [DAVE.realm, FRANK.realm] {
            let mut c = Client::connect(&app, sp).await;
            let nonce = client_nonce(&format!("{sp} mallory {realm}"));
            let offer = scram_challenge(&mut c, realm, "mallory", &nonce).await;
            let (proof, _) = scram_proof("a guess", "mallory", &nonce, &offer);
            c.send(json!([5, proof, scram_extra(&offer.nonce)])).await;
            c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
                .await;
            c.expect_closed().await;
        }

        // The right proof, but AUTHENTICATE does not repeat the CHALLENGE's
        // nonce: absent, or only the client's part.
        let nonce = client_nonce(&format!("{sp} nonce checks"));
        for extra in [json!({}), scram_extra(&nonce)] {
            let mut c = Client::connect(&app, sp).await;
            let offer = scram_challenge(&mut c, DAVE.realm, DAVE.authid, &nonce).await;
            let (proof, _) = scram_proof(DAVE.password, DAVE.authid, &nonce, &offer);
            c.send(json!([5, proof, extra])).await;
            c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
                .await;
            c.expect_closed().await;
        }

        // The right password, but the proof is computed for another authid.
        let mut c = Client::connect(&app, sp).await;
        let nonce = client_nonce(&format!("{sp} other authid"));
        let offer = scram_challenge(&mut c, DAVE.realm, DAVE.authid, &nonce).await;
        let (proof, _) = scram_proof(DAVE.password, "Dave", &nonce, &offer);
        c.send(json!([5, proof, scram_extra(&offer.nonce)])).await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;

        // Garbage for a proof.
        let mut c = Client::connect(&app, sp).await;
        let offer = scram_challenge(&mut c, DAVE.realm, DAVE.authid, &nonce).await;
        c.send(json!([5, "not base64 !!", scram_extra(&offer.nonce)]))
            .await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;
    }
}

#[tokio::test]
async fn wamp_scram_hellos_the_router_cannot_serve_are_aborted() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let nonce = client_nonce(sp);
        let refused = [
            // No client nonce.
            json!({"authid": "dave", "authmethods": ["wamp-scram"], "authextra": {"channel_binding": null}}),
            json!({"authid": "dave", "authmethods": ["wamp-scram"]}),
            // Channel binding, which needs TLS this transport does not have.
            json!({"authid": "dave", "authmethods": ["wamp-scram"],
                   "authextra": {"nonce": nonce, "channel_binding": "tls-unique"}}),
            // No authid: SCRAM's user name.
            json!({"authmethods": ["wamp-scram"], "authextra": {"nonce": nonce}}),
        ];
        for details in refused {
            let mut c = Client::connect(&app, sp).await;
            let mut details = details;
            details["roles"] = json!({"caller": {}});
            c.send(json!([1, "scram-pbkdf2", details])).await;
            c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
                .await;
            c.expect_closed().await;
        }
    }
}

/// Spec: a mock CHALLENGE for an unknown authid "SHOULD contain a generated
/// `salt` value that is always the same for a given `authid`, otherwise an
/// attacker may discover that the user doesn't actually exist".
#[tokio::test]
async fn wamp_scram_mock_challenges_keep_their_salt() {
    let app = app();
    for sp in SUBPROTOCOLS {
        for authid in [DAVE.authid, "mallory"] {
            let mut offers = Vec::new();
            for attempt in 0..2 {
                let mut c = Client::connect(&app, sp).await;
                let nonce = client_nonce(&format!("{sp} {authid} {attempt}"));
                offers.push(scram_challenge(&mut c, DAVE.realm, authid, &nonce).await);
            }
            assert_eq!(
                offers[0].salt, offers[1].salt,
                "[{sp}] the salt offered to {authid:?} changes between attempts"
            );
        }
    }
}

#[tokio::test]
async fn a_scram_realm_refuses_other_methods() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.send(json!([1, "scram-argon2", {
            "roles": {"caller": {}},
            "authid": "frank",
            "authmethods": ["ticket", "wampcra"]
        }]))
        .await;
        c.expect(json!([3, {}, "wamp.error.no_matching_auth_method"]))
            .await;
        c.expect_closed().await;
    }
}

// ---- The client's side of WAMP-Cryptosign, from the spec.

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(hex: &str) -> Vec<u8> {
    assert_eq!(hex.len() % 2, 0, "an even number of hex digits: {hex:?}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect()
}

fn public_key_hex(key: &SigningKey) -> String {
    to_hex(key.verifying_key().as_bytes())
}

async fn cryptosign_hello(c: &mut Client, authid: &str, pubkey: &str) {
    c.send(json!([1, "cryptosign", {
        "roles": {"caller": {}},
        "authid": authid,
        "authmethods": ["cryptosign"],
        "authextra": {"pubkey": pubkey}
    }]))
    .await;
}

/// Reads a cryptosign CHALLENGE: 32 random bytes as 64 hex digits.
async fn cryptosign_challenge(c: &mut Client) -> [u8; 32] {
    let challenge = c.expect(json!([4, "cryptosign", {"challenge": "*"}])).await;
    let hex = challenge.as_list().expect("CHALLENGE is a list")[2]
        .as_dict()
        .expect("CHALLENGE.Extra is a dict")["challenge"]
        .as_str()
        .expect("the challenge is a string")
        .to_owned();
    assert_eq!(hex.len(), 64, "32 bytes as hex: {hex:?}");
    from_hex(&hex)
        .try_into()
        .expect("the challenge is 32 bytes")
}

/// The AUTHENTICATE signature: the Ed25519 signature of `message`, then
/// the message, as hex.
fn cryptosign_signature(key: &SigningKey, message: &[u8; 32]) -> String {
    let signature = key.sign(message);
    to_hex(&[&signature.to_bytes()[..], &message[..]].concat())
}

#[tokio::test]
async fn cryptosign_client_authentication() {
    let app = app();
    let key = SigningKey::from_bytes(&KNOWN_SEED);
    let pubkey = public_key_hex(&key);
    for sp in SUBPROTOCOLS {
        for announced in [pubkey.clone(), pubkey.to_ascii_uppercase()] {
            let mut c = Client::connect(&app, sp).await;
            cryptosign_hello(&mut c, "erin", &announced).await;
            let challenge = cryptosign_challenge(&mut c).await;
            c.send(json!([5, cryptosign_signature(&key, &challenge), {}]))
                .await;
            c.expect(json!([2, "<id>", {
                "authid": "erin",
                "authrole": "signer",
                "authmethod": "cryptosign"
            }]))
            .await;
            c.send(json!([48, 1, {}, "whoami"])).await;
            c.expect(json!([50, 1, {}, [], {"authid": "erin", "authmethod": "cryptosign"}]))
                .await;
        }
    }
}

/// Makes a wrong AUTHENTICATE signature from the known key, a stranger's
/// key and the challenge.
type WrongSigner = fn(&SigningKey, &SigningKey, &[u8; 32]) -> String;

#[tokio::test]
async fn cryptosign_failures() {
    let app = app();
    let known = SigningKey::from_bytes(&KNOWN_SEED);
    let stranger = SigningKey::from_bytes(&STRANGER_SEED);
    for sp in SUBPROTOCOLS {
        // A key the realm does not know, signing correctly.
        let mut c = Client::connect(&app, sp).await;
        cryptosign_hello(&mut c, "erin", &public_key_hex(&stranger)).await;
        let challenge = cryptosign_challenge(&mut c).await;
        c.send(json!([5, cryptosign_signature(&stranger, &challenge), {}]))
            .await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;
        c.expect_closed().await;

        // The known key announced, but signatures that do not hold.
        let wrong: [WrongSigner; 4] = [
            // Signed by another key.
            |_, stranger, challenge| cryptosign_signature(stranger, challenge),
            // A signature of other bytes, followed by the challenge.
            |known, _, challenge| {
                let signature = known.sign(&[0u8; 32]).to_bytes();
                to_hex(&[&signature[..], &challenge[..]].concat())
            },
            // A valid signature of other bytes, with those bytes.
            |known, _, _| cryptosign_signature(known, &[0u8; 32]),
            // Only the 64-byte signature, without the message.
            |known, _, challenge| to_hex(&known.sign(challenge).to_bytes()),
        ];
        for sign in wrong {
            let mut c = Client::connect(&app, sp).await;
            cryptosign_hello(&mut c, "erin", &public_key_hex(&known)).await;
            let challenge = cryptosign_challenge(&mut c).await;
            c.send(json!([5, sign(&known, &stranger, &challenge), {}]))
                .await;
            c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
                .await;
            c.expect_closed().await;
        }
        // A tampered signature.
        let mut c = Client::connect(&app, sp).await;
        cryptosign_hello(&mut c, "erin", &public_key_hex(&known)).await;
        let challenge = cryptosign_challenge(&mut c).await;
        let mut signature = from_hex(&cryptosign_signature(&known, &challenge));
        signature[10] ^= 0x01;
        c.send(json!([5, to_hex(&signature), {}])).await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;

        // Public keys that are no Ed25519 keys in hex: no challenge at all.
        let pubkey = public_key_hex(&known);
        for bad in [
            format!("{}zz", &pubkey[..62]),
            pubkey[..62].to_owned(),
            format!("{pubkey}00"),
            String::new(),
        ] {
            let mut c = Client::connect(&app, sp).await;
            cryptosign_hello(&mut c, "erin", &bad).await;
            c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
                .await;
            c.expect_closed().await;
        }
        // No public key.
        let mut c = Client::connect(&app, sp).await;
        c.send(json!([1, "cryptosign", {
            "roles": {"caller": {}},
            "authid": "erin",
            "authmethods": ["cryptosign"]
        }]))
        .await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn a_cryptosign_realm_refuses_other_methods() {
    let app = app();
    let pubkey = public_key_hex(&SigningKey::from_bytes(&KNOWN_SEED));
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.send(json!([1, "cryptosign", {
            "roles": {"caller": {}},
            "authid": "erin",
            "authmethods": ["ticket"],
            "authextra": {"pubkey": pubkey}
        }]))
        .await;
        c.expect(json!([3, {}, "wamp.error.no_matching_auth_method"]))
            .await;
        c.expect_closed().await;
    }
}
