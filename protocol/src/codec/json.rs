//! JSON (`wamp.2.json`): UTF-8 text, binary as `"\0"` + base64 strings.

use serde::Serialize;

use crate::value::Value;

/// Decodes one JSON document. serde_json refuses trailing characters and
/// nesting of 128 levels or more.
pub(super) fn decode_value(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// Appends the compact JSON text of `value` to `out`.
pub(super) fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    serde_json::to_writer(out, value).map_err(|e| e.to_string())
}
