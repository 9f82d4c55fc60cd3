//! MessagePack (`wamp.2.msgpack`): binary as the `bin` family.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use super::MAX_NESTING;
use crate::value::Value;

/// Decodes one MessagePack value that must fill `bytes` exactly.
pub(super) fn decode_value(bytes: &[u8]) -> Result<Value, String> {
    let mut de = rmp_serde::Deserializer::new(Cursor::new(bytes));
    de.set_max_depth(MAX_NESTING);
    let value = Value::deserialize(&mut de).map_err(|e| e.to_string())?;
    let used = de.position();
    if used != bytes.len() as u64 {
        return Err(format!(
            "{} trailing bytes after the message",
            bytes.len() as u64 - used
        ));
    }
    Ok(value)
}

/// Appends the MessagePack encoding of `value` to `out`; integers take
/// their smallest encoding.
pub(super) fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    value
        .serialize(&mut rmp_serde::Serializer::new(out))
        .map_err(|e| e.to_string())
}
