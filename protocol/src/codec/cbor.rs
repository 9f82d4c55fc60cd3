//! CBOR (`wamp.2.cbor`): binary as byte strings, tags read through.

use serde::Serialize;

use super::MAX_NESTING;
use crate::value::Value;

/// Decodes one CBOR item that must fill `bytes` exactly.
pub(super) fn decode_value(bytes: &[u8]) -> Result<Value, String> {
    let mut rest = bytes;
    // ciborium counts the outermost container too, so one less than the
    // shared limit refuses exactly what the other codecs refuse.
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_NESTING - 1)
        .map_err(|e| describe(&e))?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after the message", rest.len()));
    }
    Ok(value)
}

/// Appends the CBOR encoding of `value` to `out`.
pub(super) fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    ciborium::ser::into_writer(value, out).map_err(|e| e.to_string())
}

/// ciborium's errors print as Rust debug text; these messages may reach
/// peers in an ABORT, so say them plainly.
fn describe(e: &ciborium::de::Error<std::io::Error>) -> String {
    use ciborium::de::Error;
    match e {
        Error::Io(_) => "the message ends too early".to_owned(),
        Error::Syntax(offset) => format!("invalid CBOR at byte {offset}"),
        Error::Semantic(Some(offset), message) => format!("{message} (at byte {offset})"),
        Error::Semantic(None, message) => message.clone(),
        Error::RecursionLimitExceeded => "values nest too deeply".to_owned(),
    }
}
