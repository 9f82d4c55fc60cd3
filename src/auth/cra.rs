//! WAMP-CRA (challenge-response authentication), the router's half.
//!
//! The cryptography only: building the challenge text, deriving salted keys,
//! and checking the client's signature. The session flow (HELLO → CHALLENGE →
//! AUTHENTICATE → WELCOME/ABORT) lives elsewhere.
//!
//! How the pieces fit:
//!
//! * The router builds the challenge with [`challenge`] (a JSON object as
//!   text, with a fresh 16-byte nonce and [`utc_timestamp`]) and sends it as
//!   `CHALLENGE.Details.challenge`.
//! * The HMAC key is the shared secret's UTF-8 bytes. For a salted secret the
//!   router also sends `salt`, `iterations` and `keylen` in the CHALLENGE
//!   details, and the key is the **base64 text** returned by [`derive_key`]
//!   (its ASCII bytes, not the decoded bytes): that is what autobahn and wampy
//!   clients compute.
//! * The client answers with `base64(HMAC-SHA256(key, challenge))`; the router
//!   checks it with [`verify`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// HMAC-SHA256, the only MAC WAMP-CRA uses.
type HmacSha256 = Hmac<Sha256>;

/// The `authmethod` string of WAMP-CRA.
const AUTHMETHOD: &str = "wampcra";

/// SHA-256's block size in bytes: the HMAC key length after RFC 2104's key
/// preparation.
const SHA256_BLOCK_LEN: usize = 64;

/// The fields of the challenge object, in the order the spec lists them.
#[derive(Serialize)]
struct ChallengeFields<'a> {
    authid: &'a str,
    authrole: &'a str,
    authmethod: &'a str,
    authprovider: &'a str,
    nonce: &'a str,
    timestamp: &'a str,
    session: u64,
}

/// Builds the WAMP-CRA challenge: the text sent as
/// `CHALLENGE.Details.challenge`, which the client signs byte for byte.
///
/// It is a JSON object with exactly the spec's keys, in the spec's order:
/// `authid`, `authrole`, `authmethod` (always `"wampcra"`), `authprovider`,
/// `nonce`, `timestamp` and `session`. The 16 random `nonce` bytes are written
/// as standard, padded base64 (24 characters). `timestamp` is used verbatim;
/// build it with [`utc_timestamp`]. Strings are escaped by the JSON encoder,
/// so any `authid` or `authrole` is safe to embed.
///
/// Keep the returned text: [`verify`] needs exactly the same bytes.
pub(crate) fn challenge(
    authid: &str,
    authrole: &str,
    authprovider: &str,
    session: u64,
    nonce: &[u8; 16],
    timestamp: &str,
) -> String {
    let nonce = BASE64.encode(nonce);
    let fields = ChallengeFields {
        authid,
        authrole,
        authmethod: AUTHMETHOD,
        authprovider,
        nonce: &nonce,
        timestamp,
        session,
    };
    let mut out = Vec::with_capacity(192);
    // Encoding cannot fail: the writer is a Vec (no I/O errors) and the
    // fields are strings and an integer (only non-finite floats and
    // non-string map keys are unrepresentable). JSON output is UTF-8, so the
    // lossy conversion never replaces anything.
    let _ = serverwamp_protocol::Serialization::Json.encode_into(&fields, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Formats `now` as the ISO 8601 UTC timestamp WAMP-CRA challenges carry,
/// with milliseconds and a `Z`: `2014-06-22T16:36:25.448Z`.
///
/// Sub-millisecond digits are truncated. Instants before the Unix epoch
/// (a badly set clock) are written as the epoch itself.
pub(crate) fn utc_timestamp(now: SystemTime) -> String {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();

    let (days, secs_of_day) = (secs / 86_400, secs % 86_400);
    let (hour, minute, second) = (
        secs_of_day / 3_600,
        secs_of_day % 3_600 / 60,
        secs_of_day % 60,
    );
    let (year, month, day) = civil_date(days);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

/// Whether `year` is a leap year in the proleptic Gregorian calendar.
fn is_leap_year(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// The Gregorian (year, month, day) of the date `days` days after 1970-01-01.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // Any 400 consecutive Gregorian years hold exactly this many days, so
    // whole cycles can be skipped before walking year by year.
    const DAYS_PER_400_YEARS: u64 = 146_097;
    let mut year = 1970 + 400 * (days / DAYS_PER_400_YEARS);
    let mut rest = days % DAYS_PER_400_YEARS;
    loop {
        let year_len = if is_leap_year(year) { 366 } else { 365 };
        if rest < year_len {
            break;
        }
        rest -= year_len;
        year += 1;
    }
    let february = if is_leap_year(year) { 29 } else { 28 };
    let month_lengths = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 1;
    for month_len in month_lengths {
        if rest < month_len {
            break;
        }
        rest -= month_len;
        month += 1;
    }
    (year, month, rest + 1)
}

/// Derives the key for a salted WAMP-CRA secret: PBKDF2-HMAC-SHA256 of the
/// secret's UTF-8 bytes with the salt's UTF-8 bytes, `iterations` rounds and
/// `keylen` output bytes, returned as standard padded base64 text.
///
/// The HMAC key for [`verify`] is this text's bytes (`key.as_bytes()`), not
/// the decoded bytes: autobahn's `derive_key` and wampy's `deriveKey` both
/// hand the base64 text on as the key. The CHALLENGE details then carry
/// `salt`, `iterations` and `keylen` so the client derives the same key.
///
/// `iterations` of 0 computes the same as 1 (one PBKDF2 round always runs);
/// real deployments use thousands.
pub(crate) fn derive_key(secret: &str, salt: &str, iterations: u32, keylen: usize) -> String {
    let mut key = vec![0u8; keylen];
    pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), salt.as_bytes(), iterations, &mut key);
    BASE64.encode(key)
}

/// The WAMP-CRA signature of `challenge` under `key`: standard padded base64
/// of HMAC-SHA256(key, challenge), as a client sends it in AUTHENTICATE.
///
/// The router itself only needs [`verify`]; this is the client's
/// computation, for tests that play the client.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn signature(key: &[u8], challenge: &str) -> String {
    let mut mac = hmac_sha256(key);
    mac.update(challenge.as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

/// Checks a client's WAMP-CRA signature (the AUTHENTICATE `Signature`) of
/// `challenge` under `key`.
///
/// The signature must be standard base64 with canonical padding, as autobahn
/// and wampy send it; anything else (missing padding, URL-safe alphabet,
/// whitespace, a wrong length) is rejected. The MACs are compared in constant
/// time.
pub(crate) fn verify(key: &[u8], challenge: &str, signature_b64: &str) -> bool {
    let Ok(received) = BASE64.decode(signature_b64) else {
        return false;
    };
    let mut mac = hmac_sha256(key);
    mac.update(challenge.as_bytes());
    // `verify_slice` rejects a wrong length and compares in constant time.
    mac.verify_slice(&received).is_ok()
}

/// An HMAC-SHA256 instance keyed with `key`, of any length.
///
/// The key is prepared as RFC 2104 section 2 says (hashed when longer than
/// the block, then zero-padded to the block size), which yields the same MAC
/// as the raw key and lets the infallible fixed-size constructor be used.
fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; SHA256_BLOCK_LEN];
    if key.len() > SHA256_BLOCK_LEN {
        let digest = Sha256::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    HmacSha256::new(&block.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // Known answers below come from autobahn-python 26.10.2 as an independent
    // oracle (`autobahn.wamp.auth.derive_key` / `compute_wcs`).

    /// `challenge("peter", "user", "userdb", 3251278072152162, &[0..=15],
    /// "2014-06-22T16:36:25.448Z")`.
    const PETER_CHALLENGE: &str = concat!(
        r#"{"authid":"peter","authrole":"user","authmethod":"wampcra","#,
        r#""authprovider":"userdb","nonce":"AAECAwQFBgcICQoLDA0ODw==","#,
        r#""timestamp":"2014-06-22T16:36:25.448Z","session":3251278072152162}"#
    );

    fn nonce_0_to_15() -> [u8; 16] {
        std::array::from_fn(|i| u8::try_from(i).unwrap())
    }

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn challenge_text_has_the_spec_keys_in_order() {
        let text = challenge(
            "peter",
            "user",
            "userdb",
            3_251_278_072_152_162,
            &nonce_0_to_15(),
            "2014-06-22T16:36:25.448Z",
        );
        assert_eq!(text, PETER_CHALLENGE);
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap();
        let mut keys: Vec<&str> = parsed.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "authid",
                "authmethod",
                "authprovider",
                "authrole",
                "nonce",
                "session",
                "timestamp"
            ]
        );
        assert_eq!(
            parsed["session"],
            serde_json::json!(3_251_278_072_152_162_u64)
        );
    }

    #[test]
    fn challenge_escapes_strings() {
        let authid = "a\"b\\c\nd\u{1}é/";
        let text = challenge("x", "r", "p", 1, &[0xff; 16], "t");
        assert!(text.contains(r#""nonce":"/////////////////////w==""#));
        let text = challenge(authid, "role\"", "prov", 1, &[0; 16], "t");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["authid"], authid);
        assert_eq!(parsed["authrole"], "role\"");
        assert_eq!(parsed["authmethod"], "wampcra");
        assert_eq!(parsed["nonce"], "AAAAAAAAAAAAAAAAAAAAAA==");
    }

    #[test]
    fn timestamp_of_the_spec_example() {
        assert_eq!(
            utc_timestamp(at(1_403_454_985, 448)),
            "2014-06-22T16:36:25.448Z"
        );
    }

    #[test]
    fn timestamp_epoch_and_before() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(utc_timestamp(before), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn timestamp_truncates_sub_millisecond_digits() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_999_999_999);
        assert_eq!(utc_timestamp(t), "1970-01-01T00:00:01.999Z");
    }

    #[test]
    fn timestamp_leap_years() {
        // 2000 is a leap year (divisible by 400).
        assert_eq!(
            utc_timestamp(at(951_868_799, 999)),
            "2000-02-29T23:59:59.999Z"
        );
        assert_eq!(
            utc_timestamp(at(951_868_800, 0)),
            "2000-03-01T00:00:00.000Z"
        );
        assert_eq!(
            utc_timestamp(at(1_709_208_000, 0)),
            "2024-02-29T12:00:00.000Z"
        );
        // 2023 is not: February 28 is followed by March 1.
        assert_eq!(
            utc_timestamp(at(1_677_628_800, 1)),
            "2023-03-01T00:00:00.001Z"
        );
        // 2100 is not (divisible by 100, not by 400).
        assert_eq!(
            utc_timestamp(at(4_107_542_400, 0)),
            "2100-03-01T00:00:00.000Z"
        );
        assert_eq!(
            utc_timestamp(at(4_107_542_400 - 86_400, 0)),
            "2100-02-28T00:00:00.000Z"
        );
        // The last second of the first leap year after the epoch.
        assert_eq!(utc_timestamp(at(94_694_399, 0)), "1972-12-31T23:59:59.000Z");
    }

    #[test]
    fn leap_year_rule() {
        assert!(is_leap_year(1972));
        assert!(is_leap_year(2000));
        assert!(is_leap_year(2400));
        assert!(!is_leap_year(1900));
        assert!(!is_leap_year(2100));
        assert!(!is_leap_year(2023));
    }

    #[test]
    fn derive_key_known_answers() {
        assert_eq!(
            derive_key("carolsecret", "salt123", 1000, 32),
            "wU8/7W3sZlr5PEHccu3jgvZ0iRyJVXu6Phfpp9UTk28="
        );
        assert_eq!(
            derive_key("L3L1YUE8Txlw", "salt123", 1000, 32),
            "qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y="
        );
        assert_eq!(
            derive_key("secret", "salt", 100, 16),
            "oTSX846k2MZdrrIy1rijbQ=="
        );
    }

    #[test]
    fn signature_known_answers() {
        assert_eq!(
            signature(b"secret1", PETER_CHALLENGE),
            "3u7K9/2NQddOP2uVLYyBYVkK1o1cQSD8rWV25gpIRrA="
        );
        // Salted: the key is the derived key's base64 text.
        let key = derive_key("carolsecret", "salt123", 1000, 32);
        assert_eq!(
            signature(key.as_bytes(), PETER_CHALLENGE),
            "qMVm72j6nqADio+f+LJSRXb9LBA8mRpPVi36KGf3Na4="
        );
        // A key longer than SHA-256's block is hashed first.
        assert_eq!(
            signature(&[b'k'; 100], PETER_CHALLENGE),
            "QUyLcpgj6krD4yyuFqjjvGwhUNlL+fciK3R7fjXBdiY="
        );
        // Exactly one block long: used as is.
        assert_eq!(
            signature(&[b'k'; 64], PETER_CHALLENGE),
            "dU8/QZzQnKbeTR56Sjgo8xUE4BWkI/ZXzipekej9QgY="
        );
        assert_eq!(
            signature(b"", "[1,2,3]"),
            "I/HmTBRpA621a7Di1++iZOG2AGCBfAqoK6A0jN74kRY="
        );
    }

    #[test]
    fn verify_accepts_the_right_signature() {
        assert!(verify(
            b"secret1",
            PETER_CHALLENGE,
            "3u7K9/2NQddOP2uVLYyBYVkK1o1cQSD8rWV25gpIRrA="
        ));
        let key = derive_key("carolsecret", "salt123", 1000, 32);
        assert!(verify(
            key.as_bytes(),
            PETER_CHALLENGE,
            "qMVm72j6nqADio+f+LJSRXb9LBA8mRpPVi36KGf3Na4="
        ));
    }

    #[test]
    fn verify_rejects_wrong_key_or_challenge() {
        let good = "3u7K9/2NQddOP2uVLYyBYVkK1o1cQSD8rWV25gpIRrA=";
        assert!(!verify(b"secret2", PETER_CHALLENGE, good));
        assert!(!verify(b"", PETER_CHALLENGE, good));
        let other = PETER_CHALLENGE.replace("peter", "petra");
        assert!(!verify(b"secret1", &other, good));
        // The decoded key is not the key: the base64 text is.
        let key = derive_key("carolsecret", "salt123", 1000, 32);
        let decoded = BASE64.decode(&key).unwrap();
        let sig = signature(key.as_bytes(), PETER_CHALLENGE);
        assert!(!verify(&decoded, PETER_CHALLENGE, &sig));
    }

    #[test]
    fn verify_rejects_malformed_signatures() {
        let good = "3u7K9/2NQddOP2uVLYyBYVkK1o1cQSD8rWV25gpIRrA=";
        let reject = |sig: &str| assert!(!verify(b"secret1", PETER_CHALLENGE, sig), "{sig:?}");
        reject("");
        reject("not base64 at all!");
        reject(&good[..good.len() - 1]); // padding removed
        reject(&good[..40]); // truncated
        reject(&BASE64.encode(&BASE64.decode(good).unwrap()[..31])); // 31 bytes
        reject(&format!("{good} "));
        reject(&format!(" {good}"));
        reject(&format!("{good}AAAA")); // a 35-byte MAC
        reject(&good.replace('+', "-").replace('/', "_")); // URL-safe alphabet
        reject(&"A".repeat(44));
        // One flipped bit.
        let mut bytes = BASE64.decode(good).unwrap();
        bytes[31] ^= 1;
        reject(&BASE64.encode(&bytes));
    }
}
