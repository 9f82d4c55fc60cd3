//! CBOR (`wamp.2.cbor`): binary as byte strings, tags read through.

use serde::Serialize;

use super::MAX_NESTING;
use crate::value::Value;

/// Decodes one CBOR item that must fill `bytes` exactly.
pub(super) fn decode_value(bytes: &[u8]) -> Result<Value, String> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_NESTING)
        .map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after the message", rest.len()));
    }
    Ok(value)
}

/// Appends the CBOR encoding of `value` to `out`.
pub(super) fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    ciborium::ser::into_writer(value, out).map_err(|e| e.to_string())
}
