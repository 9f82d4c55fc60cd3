//! The WAMP conformance test vectors (`tests/vectors/singlemessage`), run
//! against our codecs and validation, plus validation rules the vectors do
//! not cover.
//!
//! A vector file holds `samples` of two kinds:
//!
//! * serialization samples: the same message as bytes in several formats
//!   (`serializers`, each with one or more byte `variants`) and the
//!   attributes it must decode to (`expected_attributes`);
//! * validation samples: a message as a JSON list (`wmsg`), with an
//!   `expected_error` when it must be refused.
//!
//! The harness is strict: an attribute, sample key or serializer it does not
//! know makes the test fail instead of being skipped, and the tests count
//! what they exercised so a vector that silently stops being read fails too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Map, Value as Json, json};
use serverwamp_protocol::message::{Payload, ValidationRules};
use serverwamp_protocol::uri::UriError;
use serverwamp_protocol::value::to_value;
use serverwamp_protocol::{
    DecodeError, Dict, Id, Message, MessageType, ProtocolViolation, Serialization, UriRules, Value,
};

/// How many vector files there are (`basic/` and `advanced/`).
const EXPECTED_FILES: usize = 26;
/// How many serialization samples the files hold in all.
const EXPECTED_SERIALIZATION_SAMPLES: usize = 35;
/// How many validation (`wmsg`) samples the files hold in all.
const EXPECTED_VALIDATION_SAMPLES: usize = 67;

/// Where our encoding legitimately matches none of a vector's byte variants:
/// `(file, sample index, serializer, reason)`. Every other mismatch fails,
/// and so does an entry here that no longer mismatches.
const BYTE_EXACT_EXCEPTIONS: &[(&str, usize, &str, &str)] = &[
    // PUBLISH options: the vectors write `enc_algo`, `enc_serializer` before
    // `forward_for` here (in EVENT details they write `forward_for` first).
    // `PublishOptions` is a typed struct that writes its defined keys in one
    // fixed order (`forward_for` before `enc_algo`), and dictionary key order
    // carries no meaning in WAMP, so the received order is not kept.
    (
        "basic/publish.json",
        3,
        "json",
        "dict key order of typed PUBLISH.Options (forward_for vs enc_algo)",
    ),
    (
        "basic/publish.json",
        3,
        "msgpack",
        "dict key order of typed PUBLISH.Options (forward_for vs enc_algo)",
    ),
    (
        "basic/publish.json",
        3,
        "cbor",
        "dict key order of typed PUBLISH.Options (forward_for vs enc_algo)",
    ),
];

// ---------------------------------------------------------------------------
// Loading the vectors
// ---------------------------------------------------------------------------

/// One vector file.
struct VectorFile {
    /// E.g. `basic/event.json`.
    name: String,
    /// The file's `wamp_message_code`.
    code: u64,
    /// Its `samples`.
    samples: Vec<Json>,
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/singlemessage")
}

/// Every vector file, in a stable order. Fails on anything unexpected in the
/// directory, so a new profile or a stray file is not silently skipped.
fn load_files() -> Vec<VectorFile> {
    let root = vectors_dir();
    let profiles: BTreeSet<String> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .into_string()
                .expect("UTF-8 file name")
        })
        .collect();
    assert_eq!(
        profiles,
        BTreeSet::from(["advanced".to_owned(), "basic".to_owned()]),
        "unexpected entries in {}",
        root.display()
    );
    let mut files = Vec::new();
    for profile in ["basic", "advanced"] {
        let dir = root.join(profile);
        let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|entry| entry.expect("directory entry").path())
            .collect();
        paths.sort();
        for path in paths {
            assert_eq!(
                path.extension().and_then(|e| e.to_str()),
                Some("json"),
                "not a vector file: {}",
                path.display()
            );
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let doc: Json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            let name = format!(
                "{profile}/{}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .expect("UTF-8 file name")
            );
            let code = doc["wamp_message_code"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: no wamp_message_code"));
            let samples = doc["samples"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: no samples"))
                .clone();
            assert!(!samples.is_empty(), "{name}: no samples");
            files.push(VectorFile {
                name,
                code,
                samples,
            });
        }
    }
    assert_eq!(files.len(), EXPECTED_FILES, "number of vector files");
    files
}

/// A serialization sample.
struct SerializationSample {
    file: String,
    /// Index in the file's `samples`.
    index: usize,
    /// The file's `wamp_message_code`.
    file_code: u64,
    /// `(serialization, byte variants)` for json, msgpack and cbor.
    encodings: Vec<(Serialization, Vec<Vec<u8>>)>,
    expected: Map<String, Json>,
}

impl SerializationSample {
    fn origin(&self) -> String {
        format!("{} sample {}", self.file, self.index)
    }
}

/// A validation sample.
struct ValidationSample {
    file: String,
    index: usize,
    wmsg: Json,
    /// The `contains` text of `expected_error`, when it must be refused.
    error_contains: Option<String>,
}

/// Splits the samples of every file by kind, failing on unknown shapes.
fn samples(files: &[VectorFile]) -> (Vec<SerializationSample>, Vec<ValidationSample>) {
    let mut serialization = Vec::new();
    let mut validation = Vec::new();
    for file in files {
        for (index, sample) in file.samples.iter().enumerate() {
            let origin = format!("{} sample {index}", file.name);
            let object = sample
                .as_object()
                .unwrap_or_else(|| panic!("{origin}: not an object"));
            if object.contains_key("serializers") {
                for key in object.keys() {
                    assert!(
                        matches!(
                            key.as_str(),
                            "description"
                                | "serializers"
                                | "expected_attributes"
                                | "validation"
                                | "construction"
                        ),
                        "{origin}: unknown key {key:?} in a serialization sample"
                    );
                }
                serialization.push(SerializationSample {
                    file: file.name.clone(),
                    index,
                    file_code: file.code,
                    encodings: encodings(&origin, &object["serializers"]),
                    expected: object
                        .get("expected_attributes")
                        .and_then(Json::as_object)
                        .unwrap_or_else(|| panic!("{origin}: no expected_attributes"))
                        .clone(),
                });
            } else if object.contains_key("wmsg") {
                for key in object.keys() {
                    assert!(
                        matches!(
                            key.as_str(),
                            "description" | "test_category" | "wmsg" | "expected_error"
                        ),
                        "{origin}: unknown key {key:?} in a validation sample"
                    );
                }
                let error_contains = object.get("expected_error").map(|error| {
                    let error = error
                        .as_object()
                        .unwrap_or_else(|| panic!("{origin}: expected_error is not an object"));
                    for key in error.keys() {
                        assert!(
                            matches!(key.as_str(), "type" | "contains"),
                            "{origin}: unknown key {key:?} in expected_error"
                        );
                    }
                    assert_eq!(
                        error.get("type").and_then(Json::as_str),
                        Some("protocol_violation"),
                        "{origin}: an expected_error type the harness does not know"
                    );
                    error
                        .get("contains")
                        .and_then(Json::as_str)
                        .unwrap_or_else(|| panic!("{origin}: expected_error without contains"))
                        .to_owned()
                });
                validation.push(ValidationSample {
                    file: file.name.clone(),
                    index,
                    wmsg: object["wmsg"].clone(),
                    error_contains,
                });
            } else {
                panic!("{origin}: neither a serialization nor a validation sample");
            }
        }
    }
    assert_eq!(
        serialization.len(),
        EXPECTED_SERIALIZATION_SAMPLES,
        "number of serialization samples"
    );
    assert_eq!(
        validation.len(),
        EXPECTED_VALIDATION_SAMPLES,
        "number of validation samples"
    );
    (serialization, validation)
}

/// The byte variants of json, msgpack and cbor. ubjson and flatbuffers are
/// serializations we do not implement; any other name fails.
fn encodings(origin: &str, serializers: &Json) -> Vec<(Serialization, Vec<Vec<u8>>)> {
    let serializers = serializers
        .as_object()
        .unwrap_or_else(|| panic!("{origin}: serializers is not an object"));
    for name in serializers.keys() {
        assert!(
            matches!(
                name.as_str(),
                "json" | "msgpack" | "cbor" | "ubjson" | "flatbuffers"
            ),
            "{origin}: unknown serializer {name:?}"
        );
    }
    Serialization::ALL
        .iter()
        .map(|&s| {
            let variants = serializers
                .get(s.name())
                .and_then(Json::as_array)
                .unwrap_or_else(|| panic!("{origin}: no {s} variants"));
            assert!(!variants.is_empty(), "{origin}: no {s} variants");
            let bytes = variants
                .iter()
                .map(|variant| variant_bytes(origin, s, variant))
                .collect();
            (s, bytes)
        })
        .collect()
}

/// The bytes of one variant: `bytes_hex`, or for JSON the `bytes` text (and
/// both must agree when both are given).
fn variant_bytes(origin: &str, s: Serialization, variant: &Json) -> Vec<u8> {
    let variant = variant
        .as_object()
        .unwrap_or_else(|| panic!("{origin}: a {s} variant is not an object"));
    for key in variant.keys() {
        assert!(
            matches!(key.as_str(), "bytes" | "bytes_hex" | "note"),
            "{origin}: unknown key {key:?} in a {s} variant"
        );
    }
    let from_hex = variant
        .get("bytes_hex")
        .map(|h| hex(h.as_str().expect("bytes_hex is a string")));
    let from_text = variant
        .get("bytes")
        .map(|t| t.as_str().expect("bytes is a string").as_bytes().to_vec());
    match (from_hex, from_text) {
        (Some(hex), Some(text)) => {
            assert_eq!(hex, text, "{origin}: {s} bytes and bytes_hex disagree");
            hex
        }
        (Some(hex), None) => hex,
        (None, Some(text)) if s == Serialization::Json => text,
        _ => panic!("{origin}: a {s} variant without usable bytes"),
    }
}

/// Decodes a hex string.
fn hex(text: &str) -> Vec<u8> {
    assert!(
        text.len().is_multiple_of(2),
        "odd-length hex string {text:?}"
    );
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .unwrap_or_else(|e| panic!("bad hex {text:?}: {e}"))
        })
        .collect()
}

/// Encodes bytes as lowercase hex, for failure messages.
fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A JSON value from the vectors as our `Value`.
fn json_to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else {
                Value::Float(n.as_f64().expect("a JSON number is an f64"))
            }
        }
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(json_to_value).collect()),
        Json::Object(map) => Value::Dict(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
    }
}

fn rules() -> ValidationRules {
    ValidationRules::default()
}

fn decode(origin: &str, s: Serialization, bytes: &[u8]) -> Message {
    s.decode(bytes, &rules()).unwrap_or_else(|e| {
        panic!(
            "{origin}: {s} variant {} does not decode: {e}",
            to_hex(bytes)
        )
    })
}

// ---------------------------------------------------------------------------
// Comparing a decoded message with `expected_attributes`
// ---------------------------------------------------------------------------

/// The elements of a decoded message by the names the vectors use (after
/// aliases), and its payload if its type has one.
struct Fields {
    named: Vec<(&'static str, Value)>,
    payload: Option<Payload>,
}

fn id(id: Id) -> Value {
    Value::UInt(id.get())
}

/// An options, details or extra struct serialized as the dict it stands for.
fn dict_of<T: serde::Serialize>(options: &T) -> Value {
    let value = to_value(options).expect("options serialize to a value");
    assert!(matches!(value, Value::Dict(_)), "options are not a dict");
    value
}

fn fields(m: &Message) -> Fields {
    let s = |s: &str| Value::Str(s.to_owned());
    let (named, payload): (Vec<(&'static str, Value)>, Option<&Payload>) = match m {
        Message::Hello(m) => (
            vec![("realm", s(&m.realm)), ("details", dict_of(&m.details))],
            None,
        ),
        Message::Welcome(m) => (
            vec![("session", id(m.session)), ("details", dict_of(&m.details))],
            None,
        ),
        Message::Abort(m) => (
            vec![("details", dict_of(&m.details)), ("reason", s(&m.reason))],
            Some(&m.payload),
        ),
        Message::Challenge(m) => (
            vec![("method", s(&m.method)), ("extra", dict_of(&m.extra))],
            None,
        ),
        Message::Authenticate(m) => (
            vec![("signature", s(&m.signature)), ("extra", dict_of(&m.extra))],
            None,
        ),
        Message::Goodbye(m) => (
            vec![("details", dict_of(&m.details)), ("reason", s(&m.reason))],
            None,
        ),
        Message::Error(m) => (
            vec![
                ("request_type", Value::UInt(m.request_type.code())),
                ("request", id(m.request)),
                ("details", dict_of(&m.details)),
                ("error", s(&m.error)),
            ],
            Some(&m.payload),
        ),
        Message::Publish(m) => (
            vec![
                ("request", id(m.request)),
                ("options", dict_of(&m.options)),
                ("topic", s(&m.topic)),
            ],
            Some(&m.payload),
        ),
        Message::Published(m) => (
            vec![
                ("request", id(m.request)),
                ("publication", id(m.publication)),
            ],
            None,
        ),
        Message::Subscribe(m) => (
            vec![
                ("request", id(m.request)),
                ("options", dict_of(&m.options)),
                ("topic", s(&m.topic)),
            ],
            None,
        ),
        Message::Subscribed(m) => (
            vec![
                ("request", id(m.request)),
                ("subscription", id(m.subscription)),
            ],
            None,
        ),
        Message::Unsubscribe(m) => (
            vec![
                ("request", id(m.request)),
                ("subscription", id(m.subscription)),
            ],
            None,
        ),
        Message::Unsubscribed(m) => (vec![("request", id(m.request))], None),
        Message::Event(m) => (
            vec![
                ("subscription", id(m.subscription)),
                ("publication", id(m.publication)),
                ("details", dict_of(&m.details)),
            ],
            Some(&m.payload),
        ),
        Message::EventReceived(m) => (vec![("publication", id(m.publication))], None),
        Message::Call(m) => (
            vec![
                ("request", id(m.request)),
                ("options", dict_of(&m.options)),
                ("procedure", s(&m.procedure)),
            ],
            Some(&m.payload),
        ),
        Message::Cancel(m) => (
            vec![("request", id(m.request)), ("options", dict_of(&m.options))],
            None,
        ),
        Message::Result(m) => (
            vec![("request", id(m.request)), ("details", dict_of(&m.details))],
            Some(&m.payload),
        ),
        Message::Register(m) => (
            vec![
                ("request", id(m.request)),
                ("options", dict_of(&m.options)),
                ("procedure", s(&m.procedure)),
            ],
            None,
        ),
        Message::Registered(m) => (
            vec![
                ("request", id(m.request)),
                ("registration", id(m.registration)),
            ],
            None,
        ),
        Message::Unregister(m) => (
            vec![
                ("request", id(m.request)),
                ("registration", id(m.registration)),
            ],
            None,
        ),
        Message::Unregistered(m) => (vec![("request", id(m.request))], None),
        Message::Invocation(m) => (
            vec![
                ("request", id(m.request)),
                ("registration", id(m.registration)),
                ("details", dict_of(&m.details)),
            ],
            Some(&m.payload),
        ),
        Message::Interrupt(m) => (
            vec![("request", id(m.request)), ("options", dict_of(&m.options))],
            None,
        ),
        Message::Yield(m) => (
            vec![("request", id(m.request)), ("options", dict_of(&m.options))],
            Some(&m.payload),
        ),
    };
    Fields {
        named,
        payload: payload.cloned(),
    }
}

/// The vectors name some elements two ways; this is our name for each.
fn canonical(name: &str) -> &str {
    match name {
        "request_id" => "request",
        "subscription_id" => "subscription",
        "publication_id" => "publication",
        "registration_id" => "registration",
        "session_id" => "session",
        other => other,
    }
}

/// Checks every expected attribute against the decoded message and that
/// every element the vector leaves unstated is empty. Returns how many
/// attributes were compared.
fn check_attributes(origin: &str, m: &Message, expected: &Map<String, Json>) -> usize {
    let fields = fields(m);
    let lookup = |name: &str| {
        fields
            .named
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    };
    let payload = |attribute: &str| {
        fields.payload.as_ref().unwrap_or_else(|| {
            panic!(
                "{origin}: attribute {attribute:?} on {}, which has no payload",
                m.message_type()
            )
        })
    };
    let mut stated: BTreeSet<&str> = BTreeSet::new();
    // Keys of `details` stated as attributes of their own (`roles`).
    let mut detail_keys: BTreeSet<&str> = BTreeSet::new();
    for (attribute, want) in expected {
        match attribute.as_str() {
            "message_type" => {
                assert_eq!(
                    Some(m.message_type().code()),
                    want.as_u64(),
                    "{origin}: message_type"
                );
            }
            "roles" => {
                assert!(
                    matches!(m, Message::Hello(_) | Message::Welcome(_)),
                    "{origin}: roles on {}",
                    m.message_type()
                );
                let details = lookup("details").and_then(Value::as_dict);
                let roles = details.and_then(|d| d.get("roles"));
                assert_eq!(roles, Some(&json_to_value(want)), "{origin}: details.roles");
                detail_keys.insert("roles");
            }
            "args" => {
                let payload = payload("args");
                match want {
                    // Null means no positional arguments (none are sent).
                    Json::Null => assert!(payload.args().is_empty(), "{origin}: args"),
                    Json::Array(_) => match payload {
                        Payload::Args { args, .. } => {
                            assert_eq!(
                                &Value::List(args.clone()),
                                &json_to_value(want),
                                "{origin}: args"
                            );
                        }
                        Payload::Transparent(_) => {
                            panic!("{origin}: args expected, got a transparent payload")
                        }
                    },
                    other => panic!("{origin}: args of an unknown form {other}"),
                }
            }
            "kwargs" => {
                let payload = payload("kwargs");
                match want {
                    Json::Null => assert!(
                        payload.kwargs().is_none_or(Dict::is_empty),
                        "{origin}: kwargs"
                    ),
                    Json::Object(_) => match payload {
                        Payload::Args { kwargs, .. } => {
                            assert_eq!(
                                &Value::Dict(kwargs.clone()),
                                &json_to_value(want),
                                "{origin}: kwargs"
                            );
                        }
                        Payload::Transparent(_) => {
                            panic!("{origin}: kwargs expected, got a transparent payload")
                        }
                    },
                    other => panic!("{origin}: kwargs of an unknown form {other}"),
                }
            }
            "payload" => {
                let payload = payload("payload");
                match want {
                    Json::Null => assert!(
                        matches!(payload, Payload::Args { .. }),
                        "{origin}: no transparent payload expected, got {payload:?}"
                    ),
                    Json::String(h) => assert_eq!(
                        payload,
                        &Payload::Transparent(Bytes::from(hex(h))),
                        "{origin}: transparent payload"
                    ),
                    other => panic!("{origin}: payload of an unknown form {other}"),
                }
            }
            other => {
                let name = canonical(other);
                let actual = lookup(name).unwrap_or_else(|| {
                    panic!(
                        "{origin}: the harness does not know attribute {other:?} of {}",
                        m.message_type()
                    )
                });
                assert_eq!(actual, &json_to_value(want), "{origin}: {other}");
            }
        }
        assert!(
            stated.insert(canonical(attribute)),
            "{origin}: attribute {attribute:?} is stated twice (under two names)"
        );
    }
    assert!(stated.contains("message_type"), "{origin}: no message_type");
    // What the vector does not state must be empty.
    for (name, value) in &fields.named {
        if stated.contains(name) {
            continue;
        }
        match (*name, value) {
            ("details" | "options" | "extra", Value::Dict(d)) => {
                let unstated: Vec<&String> = d
                    .keys()
                    .filter(|k| !detail_keys.contains(k.as_str()))
                    .collect();
                assert!(
                    unstated.is_empty(),
                    "{origin}: {name} has keys the vector does not state: {unstated:?}"
                );
            }
            _ => panic!("{origin}: the vector does not state {name}"),
        }
    }
    if let Some(payload) = &fields.payload {
        if !stated.contains("args") {
            assert!(payload.args().is_empty(), "{origin}: unstated args");
        }
        if !stated.contains("kwargs") {
            assert!(
                payload.kwargs().is_none_or(Dict::is_empty),
                "{origin}: unstated kwargs"
            );
        }
        if !stated.contains("payload") {
            assert!(
                matches!(payload, Payload::Args { .. }),
                "{origin}: unstated transparent payload"
            );
        }
    }
    expected.len()
}

// ---------------------------------------------------------------------------
// Serialization samples
// ---------------------------------------------------------------------------

#[test]
fn every_variant_decodes_to_the_expected_attributes() {
    let files = load_files();
    let (samples, _) = samples(&files);
    let mut files_seen = BTreeSet::new();
    let mut variants_per_format: BTreeMap<&str, usize> = BTreeMap::new();
    let mut attributes = 0;
    for sample in &samples {
        let origin = sample.origin();
        assert_eq!(
            sample.expected.get("message_type").and_then(Json::as_u64),
            Some(sample.file_code),
            "{origin}: message_type differs from the file's wamp_message_code"
        );
        let mut decoded: Vec<(Serialization, Message)> = Vec::new();
        for (s, variants) in &sample.encodings {
            for (i, bytes) in variants.iter().enumerate() {
                let m = decode(&format!("{origin} {s} variant {i}"), *s, bytes);
                attributes +=
                    check_attributes(&format!("{origin} ({s} variant {i})"), &m, &sample.expected);
                *variants_per_format.entry(s.name()).or_default() += 1;
                decoded.push((*s, m));
            }
        }
        // Every variant of every format is the same abstract message.
        let (first_s, first) = &decoded[0];
        for (s, m) in &decoded[1..] {
            assert_eq!(m, first, "{origin}: {s} decodes differently from {first_s}");
        }
        files_seen.insert(sample.file.clone());
    }
    assert_eq!(files_seen.len(), EXPECTED_FILES, "files exercised");
    // Every byte variant was decoded and checked: one per sample for
    // MsgPack and CBOR, one or two (spaced and compact) for JSON.
    assert_eq!(
        variants_per_format,
        BTreeMap::from([
            ("cbor", EXPECTED_SERIALIZATION_SAMPLES),
            ("json", 59),
            ("msgpack", EXPECTED_SERIALIZATION_SAMPLES),
        ]),
        "variants decoded"
    );
    assert_eq!(attributes, 547, "attributes compared");
}

#[test]
fn reencoding_round_trips_and_matches_a_vector_variant() {
    let files = load_files();
    let (samples, _) = samples(&files);
    let mut mismatches: BTreeMap<(String, usize, &str), (bool, String)> = BTreeMap::new();
    let mut encoded = 0;
    for sample in &samples {
        let origin = sample.origin();
        for (s, variants) in &sample.encodings {
            for bytes in variants {
                let m = decode(&origin, *s, bytes);
                let ours = s
                    .encode(&m)
                    .unwrap_or_else(|e| panic!("{origin}: {s} does not encode: {e}"));
                let again = decode(&format!("{origin} (our {s} encoding)"), *s, &ours);
                assert_eq!(again, m, "{origin}: {s} re-encoding changes the message");
                if !variants.contains(&ours) {
                    let report = format!(
                        "ours {}\n  vector variants:\n{}",
                        to_hex(&ours),
                        variants
                            .iter()
                            .map(|v| format!("    {}", to_hex(v)))
                            .collect::<Vec<_>>()
                            .join("\n")
                    );
                    // Whether ours is a variant with dict keys reordered:
                    // as long, and equal as a value (dict equality ignores
                    // key order).
                    let reordered = variants.iter().any(|v| {
                        v.len() == ours.len()
                            && s.decode_value(v).expect("variant decodes")
                                == s.decode_value(&ours).expect("ours decodes")
                    });
                    mismatches.insert(
                        (sample.file.clone(), sample.index, s.name()),
                        (reordered, report),
                    );
                }
                encoded += 1;
            }
        }
    }
    assert_eq!(
        encoded,
        59 + 2 * EXPECTED_SERIALIZATION_SAMPLES,
        "variants re-encoded"
    );
    let allowed: BTreeSet<(String, usize, &str)> = BTreeSet::from_iter(
        BYTE_EXACT_EXCEPTIONS
            .iter()
            .map(|(file, index, s, _reason)| ((*file).to_owned(), *index, *s)),
    );
    let unexpected: Vec<String> = mismatches
        .iter()
        .filter(|(key, _)| !allowed.contains(*key))
        .map(|((file, index, s), (_, report))| format!("{file} sample {index} {s}:\n  {report}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "our encoding matches no vector variant:\n{}",
        unexpected.join("\n")
    );
    // Every allowed mismatch is only a matter of dict key order.
    for (key, (reordered, report)) in &mismatches {
        assert!(
            *reordered,
            "{key:?} differs from every variant by more than key order:\n  {report}"
        );
    }
    let stale: Vec<&(String, usize, &str)> = allowed
        .iter()
        .filter(|key| !mismatches.contains_key(*key))
        .collect();
    assert!(
        stale.is_empty(),
        "allow-listed but now byte-exact (remove them): {stale:?}"
    );
}

// ---------------------------------------------------------------------------
// Validation samples
// ---------------------------------------------------------------------------

/// Where the options/details dict and the payload of a message type are in
/// the message list, for the types that can carry a transparent payload.
fn passthru_positions(code: u64) -> Option<(usize, usize)> {
    match MessageType::from_code(code)? {
        MessageType::Publish | MessageType::Call => Some((2, 4)),
        MessageType::Event | MessageType::Invocation => Some((3, 4)),
        MessageType::Result | MessageType::Yield => Some((2, 3)),
        MessageType::Error => Some((3, 5)),
        _ => None,
    }
}

/// A `wmsg` as the value a peer would send.
///
/// The vectors write the binary payload of a passthru message (one whose
/// options or details hold `enc_algo` or `ppt_scheme`) as a hex string,
/// since JSON has no bytes; it stands for those bytes, so a string in the
/// payload position of such a message becomes `Value::Bytes`.
fn wmsg_to_value(origin: &str, wmsg: &Json) -> Value {
    let mut value = json_to_value(wmsg);
    let Value::List(items) = &mut value else {
        panic!("{origin}: wmsg is not a list");
    };
    let code = items.first().and_then(Value::as_u64);
    if let Some((options_at, payload_at)) = code.and_then(passthru_positions) {
        let passthru = items
            .get(options_at)
            .and_then(Value::as_dict)
            .is_some_and(|d| d.contains_key("enc_algo") || d.contains_key("ppt_scheme"));
        if passthru && let Some(Value::Str(h)) = items.get(payload_at) {
            let bytes = hex(h);
            items[payload_at] = Value::Bytes(Bytes::from(bytes));
        }
    }
    value
}

fn encode_value(s: Serialization, value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    s.encode_into(value, &mut out)
        .unwrap_or_else(|e| panic!("{value} does not encode as {s}: {e}"));
    out
}

#[test]
fn validation_samples_are_accepted_or_refused_as_the_vectors_say() {
    let files = load_files();
    let (_, samples) = samples(&files);
    let (mut accepted, mut refused) = (0, 0);
    let mut transparent = 0;
    for sample in &samples {
        let origin = format!("{} sample {}", sample.file, sample.index);
        let value = wmsg_to_value(&origin, &sample.wmsg);
        for s in Serialization::ALL {
            let bytes = encode_value(s, &value);
            let result = s.decode(&bytes, &rules());
            match (&sample.error_contains, result) {
                (None, Ok(m)) => {
                    accepted += 1;
                    if let Message::Event(e) = &m
                        && matches!(e.payload, Payload::Transparent(_))
                    {
                        transparent += 1;
                    }
                    if let Message::Publish(p) = &m
                        && matches!(p.payload, Payload::Transparent(_))
                    {
                        transparent += 1;
                    }
                }
                (None, Err(e)) => panic!("{origin}: valid {s} message refused: {e}"),
                (Some(contains), Err(DecodeError::Violation(v))) => {
                    let text = v.to_string();
                    assert!(
                        text.contains(contains.as_str()),
                        "{origin}: {s} violation {text:?} does not mention {contains:?}"
                    );
                    refused += 1;
                }
                (Some(_), Err(e)) => panic!("{origin}: {s} refused, but not as a violation: {e}"),
                (Some(contains), Ok(m)) => {
                    panic!("{origin}: {s} accepted {m:?}, expected a violation about {contains:?}")
                }
            }
        }
    }
    assert_eq!(accepted + refused, 3 * EXPECTED_VALIDATION_SAMPLES);
    assert!(accepted > 0 && refused > 0);
    // The four valid passthru samples (two EVENT, two PUBLISH), in 3 formats.
    assert_eq!(transparent, 4 * 3);
}

// ---------------------------------------------------------------------------
// Validation rules the vectors do not cover
// ---------------------------------------------------------------------------

/// Decodes `value` encoded in `s` and returns the violation it must cause.
fn violation_in(s: Serialization, value: &Value, rules: &ValidationRules) -> ProtocolViolation {
    let bytes = encode_value(s, value);
    match s.decode(&bytes, rules) {
        Err(DecodeError::Violation(v)) => v,
        Err(e) => panic!("{value} as {s}: expected a protocol violation, got {e}"),
        Ok(m) => panic!("{value} as {s}: expected a protocol violation, decoded {m:?}"),
    }
}

/// Asserts that `message` is refused in every serialization with exactly
/// `expected`, displayed as `text`.
fn assert_violation(message: &Json, expected: &ProtocolViolation, text: &str) {
    assert_violation_with(message, expected, text, &rules());
}

fn assert_violation_with(
    message: &Json,
    expected: &ProtocolViolation,
    text: &str,
    rules: &ValidationRules,
) {
    assert_value_violation(&json_to_value(message), expected, text, rules);
}

fn assert_value_violation(
    value: &Value,
    expected: &ProtocolViolation,
    text: &str,
    rules: &ValidationRules,
) {
    for s in Serialization::ALL {
        let v = violation_in(s, value, rules);
        assert_eq!(&v, expected, "{value} as {s}");
        assert_eq!(v.to_string(), text, "{value} as {s}");
        let uri = if matches!(v, ProtocolViolation::InvalidUri { .. }) {
            "wamp.error.invalid_uri"
        } else {
            "wamp.error.protocol_violation"
        };
        assert_eq!(v.uri(), uri);
        // Requests with an incorrect URI can be answered with an ERROR.
        if let ProtocolViolation::InvalidUri {
            message, request, ..
        } = &v
        {
            assert_eq!(v.answerable_request(), request.map(|r| (*message, r)));
        } else {
            assert_eq!(v.answerable_request(), None);
        }
    }
}

/// Asserts that `message` decodes in every serialization, and returns the
/// message.
fn assert_valid(message: &Json, rules: &ValidationRules) -> Message {
    let value = json_to_value(message);
    let mut decoded = Vec::new();
    for s in Serialization::ALL {
        let bytes = encode_value(s, &value);
        let m = s
            .decode(&bytes, rules)
            .unwrap_or_else(|e| panic!("{message} as {s} refused: {e}"));
        decoded.push(m);
    }
    assert!(decoded.windows(2).all(|w| w[0] == w[1]));
    decoded.swap_remove(0)
}

#[test]
fn a_message_must_be_a_list() {
    assert_violation(
        &json!({"a": 1}),
        &ProtocolViolation::NotAList { found: "dict" },
        "a WAMP message must be a list, found dict",
    );
    assert_violation(
        &json!(48),
        &ProtocolViolation::NotAList { found: "integer" },
        "a WAMP message must be a list, found integer",
    );
    assert_violation(
        &json!("CALL"),
        &ProtocolViolation::NotAList { found: "string" },
        "a WAMP message must be a list, found string",
    );
}

#[test]
fn a_message_must_not_be_empty() {
    assert_violation(
        &json!([]),
        &ProtocolViolation::Empty,
        "a WAMP message must not be empty: it starts with its type code",
    );
}

#[test]
fn the_type_code_must_be_a_non_negative_integer() {
    assert_violation(
        &json!(["HELLO", "com.example.realm", {}]),
        &ProtocolViolation::InvalidTypeCode { found: "string" },
        "a WAMP message must start with an integer type code, found string",
    );
    assert_violation(
        &json!([1.0, "com.example.realm", {}]),
        &ProtocolViolation::InvalidTypeCode { found: "float" },
        "a WAMP message must start with an integer type code, found float",
    );
    assert_violation(
        &json!([-1, "com.example.realm", {}]),
        &ProtocolViolation::InvalidTypeCode { found: "integer" },
        "a WAMP message must start with an integer type code, found integer",
    );
    assert_violation(
        &json!([null]),
        &ProtocolViolation::InvalidTypeCode { found: "null" },
        "a WAMP message must start with an integer type code, found null",
    );
}

#[test]
fn unknown_type_codes_are_refused() {
    assert_violation(
        &json!([99, 1]),
        &ProtocolViolation::UnknownType { code: 99 },
        "unknown WAMP message type 99",
    );
    // 7 lies between GOODBYE (6) and ERROR (8) and is no message.
    assert_violation(
        &json!([7, {}, "wamp.close.normal"]),
        &ProtocolViolation::UnknownType { code: 7 },
        "unknown WAMP message type 7",
    );
}

#[test]
fn wrong_lengths_are_refused() {
    assert_violation(
        &json!([48, 1, {}]),
        &ProtocolViolation::WrongLength {
            message: MessageType::Call,
            expected: "4 to 6",
            found: 3,
        },
        "CALL must have 4 to 6 elements, found 3",
    );
    assert_violation(
        &json!([48, 1, {}, "com.example.p", [], {}, 7]),
        &ProtocolViolation::WrongLength {
            message: MessageType::Call,
            expected: "4 to 6",
            found: 7,
        },
        "CALL must have 4 to 6 elements, found 7",
    );
    assert_violation(
        &json!([1, "realm"]),
        &ProtocolViolation::WrongLength {
            message: MessageType::Hello,
            expected: "3",
            found: 2,
        },
        "HELLO must have 3 elements, found 2",
    );
    assert_violation(
        &json!([35, 1, 2]),
        &ProtocolViolation::WrongLength {
            message: MessageType::Unsubscribed,
            expected: "2",
            found: 3,
        },
        "UNSUBSCRIBED must have 2 elements, found 3",
    );
    assert_violation(
        &json!([8, 48, 1, {}]),
        &ProtocolViolation::WrongLength {
            message: MessageType::Error,
            expected: "5 to 7",
            found: 4,
        },
        "ERROR must have 5 to 7 elements, found 4",
    );
}

#[test]
fn ids_must_lie_in_1_to_2_pow_53() {
    assert_violation(
        &json!([48, 0, {}, "com.example.p"]),
        &ProtocolViolation::IdOutOfRange {
            message: MessageType::Call,
            element: "Request",
            value: 0,
        },
        "CALL.Request must be an ID in [1, 2^53], found 0",
    );
    assert_violation(
        &json!([48, 9_007_199_254_740_993_u64, {}, "com.example.p"]),
        &ProtocolViolation::IdOutOfRange {
            message: MessageType::Call,
            element: "Request",
            value: 9_007_199_254_740_993,
        },
        "CALL.Request must be an ID in [1, 2^53], found 9007199254740993",
    );
    assert_violation(
        &json!([33, 1, u64::MAX]),
        &ProtocolViolation::IdOutOfRange {
            message: MessageType::Subscribed,
            element: "Subscription",
            value: u64::MAX,
        },
        "SUBSCRIBED.Subscription must be an ID in [1, 2^53], found 18446744073709551615",
    );
    // Both ends of the range are IDs.
    let m = assert_valid(&json!([48, 1, {}, "com.example.p"]), &rules());
    assert!(matches!(m, Message::Call(c) if c.request.get() == 1));
    let m = assert_valid(
        &json!([48, 9_007_199_254_740_992_u64, {}, "com.example.p"]),
        &rules(),
    );
    assert!(matches!(m, Message::Call(c) if c.request.get() == Id::MAX));
}

#[test]
fn ids_must_be_integers() {
    let expected = |found| ProtocolViolation::WrongElementType {
        message: MessageType::Call,
        element: "Request",
        expected: "an ID (an integer in [1, 2^53])",
        found,
    };
    assert_violation(
        &json!([48, 1.5, {}, "com.example.p"]),
        &expected("float"),
        "CALL.Request must be an ID (an integer in [1, 2^53]), found float",
    );
    // A float with an integral value is still a float.
    assert_violation(
        &json!([48, 1.0, {}, "com.example.p"]),
        &expected("float"),
        "CALL.Request must be an ID (an integer in [1, 2^53]), found float",
    );
    assert_violation(
        &json!([48, "1", {}, "com.example.p"]),
        &expected("string"),
        "CALL.Request must be an ID (an integer in [1, 2^53]), found string",
    );
    assert_violation(
        &json!([48, -1, {}, "com.example.p"]),
        &expected("integer"),
        "CALL.Request must be an ID (an integer in [1, 2^53]), found integer",
    );
}

#[test]
fn loose_uri_rules_refuse_empty_components_hash_and_whitespace() {
    let invalid = |source| ProtocolViolation::InvalidUri {
        message: MessageType::Call,
        element: "Procedure",
        request: Id::new(1),
        source,
    };
    assert_violation(
        &json!([48, 1, {}, "com..x"]),
        &invalid(UriError::EmptyComponent {
            uri: "com..x".into(),
            byte: 4,
        }),
        "CALL.Procedure: URI \"com..x\" has an empty component",
    );
    assert_violation(
        &json!([48, 1, {}, "a b"]),
        &invalid(UriError::DisallowedCharacter {
            uri: "a b".into(),
            character: ' ',
            byte: 1,
            rules: UriRules::Loose,
        }),
        "CALL.Procedure: URI \"a b\" has the character ' ' at byte 1, which URIs do not allow",
    );
    assert_violation(
        &json!([48, 1, {}, "a#b"]),
        &invalid(UriError::DisallowedCharacter {
            uri: "a#b".into(),
            character: '#',
            byte: 1,
            rules: UriRules::Loose,
        }),
        "CALL.Procedure: URI \"a#b\" has the character '#' at byte 1, which URIs do not allow",
    );
    assert_violation(
        &json!([48, 1, {}, ""]),
        &invalid(UriError::Empty),
        "CALL.Procedure: URI \"\" is empty",
    );
    // The realm of HELLO and the reason of GOODBYE are URIs too.
    assert_violation(
        &json!([1, "realm.", {}]),
        &ProtocolViolation::InvalidUri {
            message: MessageType::Hello,
            element: "Realm",
            request: None,
            source: UriError::EmptyComponent {
                uri: "realm.".into(),
                byte: 6,
            },
        },
        "HELLO.Realm: URI \"realm.\" has an empty component",
    );
    assert_violation(
        &json!([6, {}, "wamp close"]),
        &ProtocolViolation::InvalidUri {
            message: MessageType::Goodbye,
            element: "Reason",
            request: None,
            source: UriError::DisallowedCharacter {
                uri: "wamp close".into(),
                character: ' ',
                byte: 4,
                rules: UriRules::Loose,
            },
        },
        "GOODBYE.Reason: URI \"wamp close\" has the character ' ' at byte 4, which URIs do not allow",
    );
}

#[test]
fn strict_uri_rules_refuse_uppercase_only_when_asked() {
    let message = json!([48, 1, {}, "com.Example"]);
    // Loose rules (the default) allow uppercase.
    let m = assert_valid(&message, &rules());
    assert!(matches!(m, Message::Call(c) if c.procedure == "com.Example"));
    let strict = ValidationRules {
        uris: UriRules::Strict,
    };
    assert_violation_with(
        &message,
        &ProtocolViolation::InvalidUri {
            message: MessageType::Call,
            element: "Procedure",
            request: Id::new(1),
            source: UriError::DisallowedCharacter {
                uri: "com.Example".into(),
                character: 'E',
                byte: 4,
                rules: UriRules::Strict,
            },
        },
        "CALL.Procedure: URI \"com.Example\" has the character 'E' at byte 4, which strict URIs do not allow",
        &strict,
    );
    // A strict URI passes strict rules.
    assert_valid(&json!([48, 1, {}, "com.example_2.p"]), &strict);
}

#[test]
fn wildcard_subscriptions_allow_empty_components_exact_ones_do_not() {
    let m = assert_valid(&json!([32, 1, {"match": "wildcard"}, "com..x"]), &rules());
    assert!(matches!(m, Message::Subscribe(s) if s.topic == "com..x"));
    let refused = ProtocolViolation::InvalidUri {
        message: MessageType::Subscribe,
        element: "Topic",
        request: Id::new(1),
        source: UriError::EmptyComponent {
            uri: "com..x".into(),
            byte: 4,
        },
    };
    let text = "SUBSCRIBE.Topic: URI \"com..x\" has an empty component";
    assert_violation(&json!([32, 1, {}, "com..x"]), &refused, text);
    assert_violation(
        &json!([32, 1, {"match": "exact"}, "com..x"]),
        &refused,
        text,
    );
    // A prefix may end with an empty component, but not have one inside.
    assert_valid(&json!([32, 1, {"match": "prefix"}, "com.x."]), &rules());
    assert_violation(
        &json!([32, 1, {"match": "prefix"}, "com..x"]),
        &refused,
        text,
    );
    // The same holds for REGISTER.
    assert_valid(&json!([64, 1, {"match": "wildcard"}, "com..x"]), &rules());
    assert_violation(
        &json!([64, 1, {}, "com..x"]),
        &ProtocolViolation::InvalidUri {
            message: MessageType::Register,
            element: "Procedure",
            request: Id::new(1),
            source: UriError::EmptyComponent {
                uri: "com..x".into(),
                byte: 4,
            },
        },
        "REGISTER.Procedure: URI \"com..x\" has an empty component",
    );
}

#[test]
fn arguments_must_be_a_list_and_keyword_arguments_a_dict() {
    assert_violation(
        &json!([48, 1, {}, "com.example.p", [], [1]]),
        &ProtocolViolation::WrongElementType {
            message: MessageType::Call,
            element: "ArgumentsKw",
            expected: "a dict",
            found: "list",
        },
        "CALL.ArgumentsKw must be a dict, found list",
    );
    assert_violation(
        &json!([48, 1, {}, "com.example.p", {"a": 1}]),
        &ProtocolViolation::WrongElementType {
            message: MessageType::Call,
            element: "Arguments",
            expected: "a list",
            found: "dict",
        },
        "CALL.Arguments must be a list, found dict",
    );
    // null is not an empty payload: the spec omits empty elements.
    assert_violation(
        &json!([48, 1, {}, "com.example.p", null]),
        &ProtocolViolation::WrongElementType {
            message: MessageType::Call,
            element: "Arguments",
            expected: "a list",
            found: "null",
        },
        "CALL.Arguments must be a list, found null",
    );
    assert_violation(
        &json!([50, 1, {}, ["x"], null]),
        &ProtocolViolation::WrongElementType {
            message: MessageType::Result,
            element: "ArgumentsKw",
            expected: "a dict",
            found: "null",
        },
        "RESULT.ArgumentsKw must be a dict, found null",
    );
}

#[test]
fn options_must_have_their_defined_types() {
    assert_violation(
        &json!([48, 1, {"receive_progress": 1}, "com.example.p"]),
        &ProtocolViolation::InvalidOption {
            message: MessageType::Call,
            element: "Options",
            key: "receive_progress",
            expected: "a bool",
            found: "integer".into(),
        },
        "CALL.Options.receive_progress must be a bool, found integer",
    );
    assert_violation(
        &json!([48, 1, {"timeout": -5}, "com.example.p"]),
        &ProtocolViolation::InvalidOption {
            message: MessageType::Call,
            element: "Options",
            key: "timeout",
            expected: "a non-negative integer",
            found: "integer".into(),
        },
        "CALL.Options.timeout must be a non-negative integer, found integer",
    );
    assert_violation(
        &json!([16, 1, {"exclude": [1, 0]}, "com.example.t"]),
        &ProtocolViolation::InvalidOption {
            message: MessageType::Publish,
            element: "Options",
            key: "exclude",
            expected: "a list of IDs in [1, 2^53]",
            found: "a list holding 0".into(),
        },
        "PUBLISH.Options.exclude must be a list of IDs in [1, 2^53], found a list holding 0",
    );
    assert_violation(
        &json!([49, 1, {"mode": "abort"}]),
        &ProtocolViolation::InvalidOption {
            message: MessageType::Cancel,
            element: "Options",
            key: "mode",
            expected: "one of \"skip\", \"kill\", \"killnowait\"",
            found: "\"abort\"".into(),
        },
        "CANCEL.Options.mode must be one of \"skip\", \"kill\", \"killnowait\", found \"abort\"",
    );
    // Unknown keys are kept, whatever their type.
    let m = assert_valid(
        &json!([48, 1, {"_x_custom": [1, "a"]}, "com.example.p"]),
        &rules(),
    );
    let Message::Call(call) = m else {
        panic!("not a CALL");
    };
    assert_eq!(
        call.options.extra.get("_x_custom"),
        Some(&Value::List(vec![Value::UInt(1), Value::from("a")]))
    );
}

#[test]
fn error_must_answer_a_request_type() {
    assert_violation(
        &json!([8, 1, 1, {}, "com.example.error"]),
        &ProtocolViolation::InvalidErrorRequestType { code: 1 },
        "ERROR.REQUEST.Type 1 is not a request message type",
    );
    // A type code that is no message at all.
    assert_violation(
        &json!([8, 99, 1, {}, "com.example.error"]),
        &ProtocolViolation::InvalidErrorRequestType { code: 99 },
        "ERROR.REQUEST.Type 99 is not a request message type",
    );
    // RESULT is an answer, not a request.
    assert_violation(
        &json!([8, 50, 1, {}, "com.example.error"]),
        &ProtocolViolation::InvalidErrorRequestType { code: 50 },
        "ERROR.REQUEST.Type 50 is not a request message type",
    );
    for code in [16, 32, 34, 48, 49, 64, 66, 68] {
        let m = assert_valid(&json!([8, code, 1, {}, "com.example.error"]), &rules());
        assert!(matches!(m, Message::Error(e) if e.request_type.code() == code));
    }
}

#[test]
fn binary_payload_needs_a_passthru_announcement() {
    let binary = Value::Bytes(Bytes::from_static(b"\x01\x02\x03"));
    let call = |options: Json| {
        let Value::List(mut items) = json_to_value(&json!([48, 1, options, "com.example.p"]))
        else {
            unreachable!()
        };
        items.push(binary.clone());
        Value::List(items)
    };
    let refused = ProtocolViolation::WrongElementType {
        message: MessageType::Call,
        element: "Arguments",
        expected: "a list",
        found: "bytes",
    };
    let text = "CALL.Arguments must be a list, found bytes";
    assert_value_violation(&call(json!({})), &refused, text, &rules());
    // An empty ppt_scheme announces nothing.
    assert_value_violation(&call(json!({"ppt_scheme": ""})), &refused, text, &rules());
    // CALL has no enc_algo option: it is an unknown key there.
    assert_value_violation(
        &call(json!({"enc_algo": "cryptobox"})),
        &refused,
        text,
        &rules(),
    );
    // Announced, it is a transparent payload.
    for s in Serialization::ALL {
        let bytes = encode_value(s, &call(json!({"ppt_scheme": "x_custom"})));
        let m = s.decode(&bytes, &rules()).expect("announced passthru");
        let Message::Call(c) = m else {
            panic!("not a CALL")
        };
        assert_eq!(
            c.payload,
            Payload::Transparent(Bytes::from_static(b"\x01\x02\x03"))
        );
    }
    // A transparent payload stands alone.
    let Value::List(mut items) = call(json!({"ppt_scheme": "x_custom"})) else {
        unreachable!()
    };
    items.push(Value::Dict(Dict::new()));
    assert_value_violation(
        &Value::List(items),
        &ProtocolViolation::WrongElementType {
            message: MessageType::Call,
            element: "ArgumentsKw",
            expected: "absent after a transparent payload",
            found: "dict",
        },
        "CALL.ArgumentsKw must be absent after a transparent payload, found dict",
        &rules(),
    );
}

#[test]
fn trailing_bytes_after_a_message_are_malformed() {
    let message = json_to_value(&json!([48, 1, {}, "com.example.p"]));
    for (s, trailer) in [
        (Serialization::MsgPack, &[0xc0_u8][..]),
        (Serialization::Cbor, &[0xf6][..]),
        (Serialization::MsgPack, &[0x93, 0x01, 0x02, 0x03][..]),
        (Serialization::Cbor, &[0x83, 0x01, 0x02, 0x03][..]),
        (Serialization::Json, &b"x"[..]),
        (Serialization::Json, &b"[1]"[..]),
    ] {
        let mut bytes = encode_value(s, &message);
        s.decode(&bytes, &rules())
            .expect("valid without the trailer");
        bytes.extend_from_slice(trailer);
        let err = s
            .decode(&bytes, &rules())
            .expect_err("trailing bytes accepted");
        assert!(err.is_malformed(), "{s}: {err}");
        assert!(!err.is_batch() && err.violation().is_none(), "{s}: {err}");
        if s != Serialization::Json {
            assert!(
                err.to_string()
                    .contains(&format!("{} trailing bytes", trailer.len())),
                "{s}: {err}"
            );
        }
    }
}

#[test]
fn duplicate_dictionary_keys_are_malformed() {
    let json = br#"[48,1,{"timeout":1,"timeout":2},"com.example.p"]"#;
    // [48, 1, {"a": 1, "a": 2}, "p"] written by hand: serializers cannot
    // produce duplicate keys from our Dict.
    let msgpack = [
        0x94, 0x30, 0x01, 0x82, 0xa1, b'a', 0x01, 0xa1, b'a', 0x02, 0xa1, b'p',
    ];
    let cbor = [
        0x84, 0x18, 0x30, 0x01, 0xa2, 0x61, b'a', 0x01, 0x61, b'a', 0x02, 0x61, b'p',
    ];
    for (s, bytes, key) in [
        (Serialization::Json, &json[..], "timeout"),
        (Serialization::MsgPack, &msgpack[..], "a"),
        (Serialization::Cbor, &cbor[..], "a"),
    ] {
        let err = s.decode(bytes, &rules()).expect_err("duplicate keys");
        assert!(err.is_malformed(), "{s}: {err}");
        // (CBOR's reason is Debug-formatted, so its quotes are escaped.)
        let text = err.to_string();
        assert!(
            text.contains("duplicate dictionary key") && text.contains(key),
            "{s}: {err}"
        );
    }
    // Duplicates in a nested payload dict are refused too.
    let nested = br#"[48,1,{},"com.example.p",[],{"k":{"z":1,"z":1}}]"#;
    let err = Serialization::Json
        .decode(nested, &rules())
        .expect_err("nested duplicate");
    assert!(err.is_malformed(), "{err}");
}

/// `depth` nested lists (the innermost empty) as raw bytes.
fn nested_lists(s: Serialization, depth: usize) -> Vec<u8> {
    match s {
        Serialization::Json => {
            let mut v = vec![b'['; depth];
            v.resize(2 * depth, b']');
            v
        }
        // fixarray of 1 element, ..., then an empty fixarray.
        Serialization::MsgPack => {
            let mut v = vec![0x91; depth - 1];
            v.push(0x90);
            v
        }
        // array of 1 item, ..., then an empty array.
        Serialization::Cbor => {
            let mut v = vec![0x81; depth - 1];
            v.push(0x80);
            v
        }
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    for s in Serialization::ALL {
        let bytes = nested_lists(s, 100_000);
        let err = s.decode_value(&bytes).expect_err("100,000 levels accepted");
        assert!(err.is_malformed(), "{s}: {err}");
        let err = s
            .decode(&bytes, &rules())
            .expect_err("100,000 levels accepted");
        assert!(err.is_malformed(), "{s}: {err}");
        // Just past the documented limit of 128.
        let err = s
            .decode_value(&nested_lists(s, 129))
            .expect_err("129 levels accepted");
        assert!(err.is_malformed(), "{s}: {err}");
        // Ordinary depths are fine.
        assert!(s.decode_value(&nested_lists(s, 100)).is_ok(), "{s}");
        assert!(s.decode_value(&nested_lists(s, 127)).is_ok(), "{s}");
    }
    // A deep but legal payload decodes as a message in every format.
    let mut inner = json!("leaf");
    for _ in 0..100 {
        inner = json!([inner]);
    }
    assert_valid(&json!([48, 1, {}, "com.example.p", [inner]]), &rules());
}

/// The codecs disagree by one level on what "deeper than 128 levels" means:
/// JSON (serde_json's fixed limit) and MsgPack refuse 128 nested lists, CBOR
/// accepts them. A message another codec accepts should not be refused.
#[test]
fn every_codec_has_the_same_nesting_limit() {
    let verdicts: Vec<(Serialization, bool)> = Serialization::ALL
        .iter()
        .map(|&s| (s, s.decode_value(&nested_lists(s, 128)).is_ok()))
        .collect();
    assert!(
        verdicts.windows(2).all(|w| w[0].1 == w[1].1),
        "128 nested lists accepted? {verdicts:?}"
    );
}

#[test]
fn huge_announced_lengths_are_refused_quickly() {
    let cases: [(Serialization, &[u8]); 9] = [
        // array32 / map32 / bin32 / str32 of 2^32 - 1 in 5 bytes
        (Serialization::MsgPack, &[0xdd, 0xff, 0xff, 0xff, 0xff]),
        (Serialization::MsgPack, &[0xdf, 0xff, 0xff, 0xff, 0xff]),
        (Serialization::MsgPack, &[0xc6, 0xff, 0xff, 0xff, 0xff]),
        (Serialization::MsgPack, &[0xdb, 0xff, 0xff, 0xff, 0xff]),
        // a message whose Arguments announce 2^32 - 1 elements
        (
            Serialization::MsgPack,
            &[
                0x95, 0x30, 0x01, 0x80, 0xa1, b'p', 0xdd, 0xff, 0xff, 0xff, 0xff,
            ],
        ),
        // CBOR array / map / byte string / text of 2^64 - 1 or 2^32 - 1
        (
            Serialization::Cbor,
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            Serialization::Cbor,
            &[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        (Serialization::Cbor, &[0x5a, 0xff, 0xff, 0xff, 0xff]),
        (Serialization::Cbor, &[0x7a, 0xff, 0xff, 0xff, 0xff]),
    ];
    for (s, bytes) in cases {
        let start = Instant::now();
        let err = s.decode(bytes, &rules()).expect_err("truncated input");
        let elapsed = start.elapsed();
        assert!(err.is_malformed(), "{s} {}: {err}", to_hex(bytes));
        // Allocating (let alone filling) 2^32 elements takes far longer.
        assert!(
            elapsed < Duration::from_millis(500),
            "{s} {}: took {elapsed:?}",
            to_hex(bytes)
        );
    }
}
