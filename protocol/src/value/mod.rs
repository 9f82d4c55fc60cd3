//! The dynamic [`Value`] that WAMP payloads, options and details are made of.
//!
//! A `Value` is what every WAMP serializer can carry: null, booleans, signed
//! and unsigned integers, floats, strings, byte strings, lists, and
//! dictionaries with string keys that keep their insertion order.
//!
//! * [`Value`] implements `Serialize` and `Deserialize`, so any serde format
//!   reads and writes it. With a human-readable format (JSON), byte strings
//!   follow the WAMP rule of a `"\0"`-prefixed base64 string, both ways.
//! * [`from_value`] fills any `Deserialize` type from a `&Value` without
//!   re-encoding it, and [`to_value`] turns any `Serialize` type into a
//!   `Value`.

mod de;
mod ser;

use std::fmt;

use bytes::Bytes;
use indexmap::IndexMap;
use serde::de::{
    DeserializeSeed, EnumAccess, IgnoredAny, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use de::{DeserializeError, from_value};
pub use ser::{SerializeError, to_value};

/// A WAMP dictionary: string keys, in the order they were inserted.
pub type Dict = IndexMap<String, Value>;

/// A WAMP list.
pub type List = Vec<Value>;

/// The first character of a JSON string that carries binary data
/// (spec, "Binary support in JSON").
const JSON_BINARY_PREFIX: char = '\0';

/// Upper bound on the capacity reserved from a length announced by the input.
/// A hostile MessagePack or CBOR header may announce four billion elements in
/// five bytes; we grow as elements really arrive instead.
const MAX_PREALLOCATED_ELEMENTS: usize = 1024;

/// Any value a WAMP message can carry.
///
/// Integers keep their sign: decoders produce [`Value::UInt`] for every
/// non-negative integer and [`Value::Int`] only for negative ones, and
/// equality compares integers by numeric value, so `Int(5) == UInt(5)`.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// The null value (JSON `null`, MsgPack `nil`, CBOR `null`).
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// A Unicode string.
    Str(String),
    /// A byte string (MsgPack `bin`, CBOR byte string, JSON `"\0"` + base64).
    Bytes(Bytes),
    /// A list of values.
    List(List),
    /// A dictionary with string keys.
    Dict(Dict),
}

impl Value {
    /// The name of this value's kind, as used in error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::UInt(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer as `u64`, if this is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::UInt(n) => Some(n),
            Value::Int(n) => u64::try_from(n).ok(),
            _ => None,
        }
    }

    /// The integer as `i64`, if this is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(n) => Some(n),
            Value::UInt(n) => i64::try_from(n).ok(),
            _ => None,
        }
    }

    /// The number as `f64`, if this is a float or an integer.
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(f) => Some(f),
            Value::Int(n) => Some(n as f64),
            Value::UInt(n) => Some(n as f64),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::UInt(a), Value::UInt(b)) => a == b,
            (Value::Int(a), Value::UInt(b)) | (Value::UInt(b), Value::Int(a)) => {
                u64::try_from(*a).is_ok_and(|a| a == *b)
            }
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Dict(a), Value::Dict(b)) => a == b,
            _ => false,
        }
    }
}

macro_rules! value_from {
    ($($ty:ty => $variant:ident $(as $cast:ty)?),* $(,)?) => {$(
        impl From<$ty> for Value {
            fn from(v: $ty) -> Self {
                Value::$variant(v $(as $cast)?)
            }
        }
    )*};
}

value_from! {
    bool => Bool,
    u8 => UInt as u64, u16 => UInt as u64, u32 => UInt as u64, u64 => UInt,
    f32 => Float as f64, f64 => Float,
    String => Str, Bytes => Bytes, List => List, Dict => Dict,
}

macro_rules! value_from_signed {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Value {
            fn from(v: $ty) -> Self {
                let v = i64::from(v);
                match u64::try_from(v) {
                    Ok(u) => Value::UInt(u),
                    Err(_) => Value::Int(v),
                }
            }
        }
    )*};
}

value_from_signed!(i8, i16, i32, i64);

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_owned())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(Bytes::from(v))
    }
}

impl From<()> for Value {
    fn from((): ()) -> Self {
        Value::Null
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(n) => serializer.serialize_i64(*n),
            Value::UInt(n) => serializer.serialize_u64(*n),
            Value::Float(f) => {
                // JSON has no NaN or infinity; serde_json would silently write
                // `null`, so refuse instead of changing the caller's data.
                if serializer.is_human_readable() && !f.is_finite() {
                    return Err(serde::ser::Error::custom(format_args!(
                        "the float {f} has no JSON representation"
                    )));
                }
                serializer.serialize_f64(*f)
            }
            Value::Str(s) => serializer.serialize_str(s),
            Value::Bytes(b) => serialize_binary(b, serializer),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Dict(dict) => serialize_dict(dict, serializer),
        }
    }
}

/// Serializes a dictionary as a map in insertion order.
pub(crate) fn serialize_dict<S: Serializer>(dict: &Dict, serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(dict.len()))?;
    for (k, v) in dict {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// Serializes binary data: a byte string, or in a human-readable format
/// (JSON) a `"\0"`-prefixed base64 string (spec, "Binary support in JSON").
pub(crate) fn serialize_binary<S: Serializer>(
    bytes: &[u8],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(&json_binary_string(bytes))
    } else {
        serializer.serialize_bytes(bytes)
    }
}

/// The JSON text form of binary data: `"\0"` followed by standard base64.
fn json_binary_string(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let mut s = String::with_capacity(1 + bytes.len().div_ceil(3) * 4);
    s.push(JSON_BINARY_PREFIX);
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut s);
    s
}

/// Decodes a string that may carry binary data by the JSON rule.
fn decode_json_string<E: serde::de::Error>(s: &str) -> Result<Value, E> {
    use base64::Engine as _;
    match s.strip_prefix(JSON_BINARY_PREFIX) {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map(|b| Value::Bytes(Bytes::from(b)))
            .map_err(|e| E::custom(format_args!("invalid base64 in a binary JSON string: {e}"))),
        None => Ok(Value::Str(s.to_owned())),
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let binary_strings = deserializer.is_human_readable();
        deserializer.deserialize_any(ValueVisitor { binary_strings })
    }
}

/// Builds a [`Value`] from any self-describing serde input.
#[derive(Clone, Copy)]
struct ValueVisitor {
    /// Whether strings starting with `"\0"` carry base64 binary (JSON).
    binary_strings: bool,
}

impl<'de> DeserializeSeed<'de> for ValueVisitor {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a WAMP value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }

    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Value, E> {
        if let Ok(u) = u64::try_from(v) {
            Ok(Value::UInt(u))
        } else if let Ok(i) = i64::try_from(v) {
            Ok(Value::Int(i))
        } else {
            Err(E::custom(format_args!(
                "integer {v} is out of the 64-bit range"
            )))
        }
    }

    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v)
            .map(Value::UInt)
            .map_err(|_| E::custom(format_args!("integer {v} is out of the 64-bit range")))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        if self.binary_strings {
            decode_json_string(v)
        } else {
            Ok(Value::Str(v.to_owned()))
        }
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        if self.binary_strings && v.starts_with(JSON_BINARY_PREFIX) {
            decode_json_string(&v)
        } else {
            Ok(Value::Str(v))
        }
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::from(v)))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    /// CBOR tags arrive as enums (tag, content); WAMP has no use for the
    /// tag, so the content stands for itself.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (_tag, content) = data.variant::<IgnoredAny>()?;
        content.newtype_variant_seed(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let hint = seq.size_hint().unwrap_or(0).min(MAX_PREALLOCATED_ELEMENTS);
        let mut items = Vec::with_capacity(hint);
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let hint = map.size_hint().unwrap_or(0).min(MAX_PREALLOCATED_ELEMENTS);
        let mut dict = Dict::with_capacity(hint);
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            // Spec, "Messages": dictionary keys MUST be unique.
            if dict.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate dictionary key {key:?}"
                )));
            }
            dict.insert(key, value);
        }
        Ok(Value::Dict(dict))
    }
}

impl fmt::Display for Value {
    /// Writes the value as compact JSON-like text, for logs and messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{self:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_compare_by_numeric_value() {
        assert_eq!(Value::Int(5), Value::UInt(5));
        assert_ne!(Value::Int(-1), Value::UInt(u64::MAX));
        assert_eq!(Value::from(-3i32), Value::Int(-3));
        assert_eq!(Value::from(3i32), Value::UInt(3));
    }

    #[test]
    fn json_binary_rule_roundtrips() {
        let bytes = Value::Bytes(Bytes::from_static(&[
            0x10, 0xe3, 0xff, 0x90, 0x53, 0x07, 0x5c, 0x52, 0x6f, 0x5f, 0xc0, 0x6d, 0x4f, 0xe3,
            0x7c, 0xdb,
        ]));
        let text = serde_json::to_string(&bytes).expect("encodes");
        // The example of spec section "Binary support in JSON".
        assert_eq!(text, r#""\u0000EOP/kFMHXFJvX8BtT+N82w==""#);
        let back: Value = serde_json::from_str(&text).expect("decodes");
        assert_eq!(back, bytes);
    }

    #[test]
    fn invalid_base64_after_nul_is_an_error() {
        let err = serde_json::from_str::<Value>(r#""\u0000not base64!""#).unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = serde_json::from_str::<Value>(r#"{"a": 1, "a": 2}"#).unwrap_err();
        assert!(
            err.to_string().contains("duplicate dictionary key \"a\""),
            "{err}"
        );
    }

    #[test]
    fn non_finite_floats_do_not_become_json_null() {
        assert!(serde_json::to_string(&Value::Float(f64::NAN)).is_err());
        assert!(serde_json::to_string(&Value::Float(f64::INFINITY)).is_err());
    }

    #[test]
    fn display_is_compact_json() {
        let mut d = Dict::new();
        d.insert(
            "a".into(),
            Value::List(vec![1u64.into(), "x".into(), Value::Null]),
        );
        assert_eq!(Value::Dict(d).to_string(), r#"{"a":[1,"x",null]}"#);
    }
}
