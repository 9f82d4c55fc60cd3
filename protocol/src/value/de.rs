//! Filling any `Deserialize` type from a borrowed [`Value`], without
//! re-encoding it.
//!
//! Errors remember where they happened: a failure inside a list element or a
//! dictionary entry is prefixed with the index or the key, so a caller can be
//! told "which argument and why" (`at [1]: invalid type: ...`).

use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    DeserializeSeed, EnumAccess, Expected, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};
use serde::{Deserialize, Deserializer, forward_to_deserialize_any};

use super::Value;

/// Fills `T` from `value`, borrowing strings and bytes from it where `T`
/// allows.
///
/// Integers are accepted by any integer type they fit in, and float targets
/// also accept integers (a JSON peer may send `3` for `3.0`). Structs can be
/// filled from a dictionary (by field name) or from a list (by position).
///
/// # Errors
///
/// A [`DeserializeError`] naming the path of the offending element and what
/// was wrong with it (wrong type, missing field, out-of-range integer, a list
/// with too many elements, ...).
pub fn from_value<'de, T: Deserialize<'de>>(value: &'de Value) -> Result<T, DeserializeError> {
    T::deserialize(value)
}

/// Error filling a type from a [`Value`], with the path where it happened.
///
/// Displays as `at PATH: MESSAGE`, or just `MESSAGE` when the problem is with
/// the top-level value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeserializeError {
    /// Where the error happened, like `[1]` or `"user"."age"`; empty at the top.
    path: String,
    /// What went wrong, without the path.
    message: String,
}

impl DeserializeError {
    /// The path to the value that could not be deserialized: list indices in
    /// brackets and dictionary keys quoted, such as `[1]`, `"user"."age"` or
    /// `[0]."name"`. Empty when the problem is with the top-level value.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What went wrong, without the path.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Records that the error happened inside the list element `index`.
    fn at_index(self, index: usize) -> Self {
        self.within(format!("[{index}]"))
    }

    /// Records that the error happened inside the dictionary entry `key`.
    fn at_key(self, key: &str) -> Self {
        self.within(format!("{key:?}"))
    }

    /// Puts `segment` in front of the path.
    fn within(mut self, mut segment: String) -> Self {
        if self.path.starts_with('"') {
            segment.push('.');
        }
        segment.push_str(&self.path);
        self.path = segment;
        self
    }
}

impl fmt::Display for DeserializeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "at {}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for DeserializeError {}

impl serde::de::Error for DeserializeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeserializeError {
            path: String::new(),
            message: msg.to_string(),
        }
    }
}

/// How a value is described in serde's "invalid type" messages.
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Int(n) => Unexpected::Signed(*n),
        Value::UInt(n) => Unexpected::Unsigned(*n),
        Value::Float(f) => Unexpected::Float(*f),
        Value::Str(s) => Unexpected::Str(s),
        Value::Bytes(b) => Unexpected::Bytes(b),
        Value::List(_) => Unexpected::Seq,
        Value::Dict(_) => Unexpected::Map,
    }
}

/// The error for a value of the wrong kind.
fn invalid_type(value: &Value, expected: &dyn Expected) -> DeserializeError {
    serde::de::Error::invalid_type(unexpected(value), expected)
}

/// Hands a list to `visitor` and fails if the visitor leaves elements over
/// (a tuple or struct with fewer fields than the list has elements).
fn visit_list<'de, V: Visitor<'de>>(
    list: &'de [Value],
    visitor: V,
) -> Result<V::Value, DeserializeError> {
    let mut seq = SeqDeserializer {
        iter: list.iter(),
        index: 0,
    };
    let value = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(value)
    } else {
        Err(serde::de::Error::invalid_length(
            list.len(),
            &ElementCount(seq.index),
        ))
    }
}

/// "Expected" text for a list that had more elements than were used.
struct ElementCount(usize);

impl Expected for ElementCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("a list of 1 element"),
            n => write!(f, "a list of {n} elements"),
        }
    }
}

impl<'de> Deserializer<'de> for &'de Value {
    type Error = DeserializeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeserializeError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(n) => visitor.visit_i64(*n),
            Value::UInt(n) => visitor.visit_u64(*n),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::List(list) => visit_list(list, visitor),
            Value::Dict(dict) => visitor.visit_map(MapDeserializer {
                iter: dict.iter(),
                pending: None,
            }),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeserializeError> {
        // `as_f64` also converts integers: `3` is a fine value for a float.
        match self.as_f64() {
            Some(f) => visitor.visit_f64(f),
            None => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeserializeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeserializeError> {
        match self {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeserializeError> {
        match self {
            Value::Null => visitor.visit_unit(),
            _ => Err(invalid_type(self, &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeserializeError> {
        match self {
            Value::Bytes(b) => visitor.visit_borrowed_bytes(b),
            Value::Str(s) => visitor.visit_borrowed_bytes(s.as_bytes()),
            // A list of small integers goes through `visit_seq`.
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        match self {
            Value::Str(variant) => visitor.visit_enum(EnumDeserializer {
                variant,
                content: None,
            }),
            Value::Dict(dict) => match dict.first() {
                Some((variant, content)) if dict.len() == 1 => {
                    visitor.visit_enum(EnumDeserializer {
                        variant,
                        content: Some(content),
                    })
                }
                _ => Err(serde::de::Error::invalid_length(
                    dict.len(),
                    &"a dict with exactly one entry, naming the variant",
                )),
            },
            _ => Err(invalid_type(self, &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        false
    }

    // Integers go through `visit_i64`/`visit_u64`, whose default
    // implementations check the range of the target type; strings, chars,
    // sequences, maps and structs are all decided by the value's kind.
    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 char str string
        seq tuple tuple_struct map struct identifier
    }
}

impl<'de> IntoDeserializer<'de, DeserializeError> for &'de Value {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// The elements of a list, each error prefixed with the element's index.
struct SeqDeserializer<'de> {
    /// The elements not handed out yet.
    iter: std::slice::Iter<'de, Value>,
    /// The index of the next element.
    index: usize,
}

impl<'de> SeqAccess<'de> for SeqDeserializer<'de> {
    type Error = DeserializeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeserializeError> {
        let Some(value) = self.iter.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(value)
            .map(Some)
            .map_err(|e| e.at_index(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The entries of a dictionary, each value's error prefixed with its key.
struct MapDeserializer<'de> {
    /// The entries not handed out yet.
    iter: indexmap::map::Iter<'de, String, Value>,
    /// The entry whose key was handed out and whose value was not, yet.
    pending: Option<(&'de str, &'de Value)>,
}

impl<'de> MapAccess<'de> for MapDeserializer<'de> {
    type Error = DeserializeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeserializeError> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.pending = Some((key, value));
        seed.deserialize(KeyDeserializer(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeserializeError> {
        let (key, value) = self.pending.take().ok_or_else(|| {
            <DeserializeError as serde::de::Error>::custom(
                "a dict value was requested before its key",
            )
        })?;
        seed.deserialize(value).map_err(|e| e.at_key(key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A dictionary key. It is a string, but integer and boolean targets parse
/// it, so that maps like `HashMap<u32, _>` (whose keys [`super::to_value`]
/// writes as decimal strings) can be read back.
struct KeyDeserializer<'de>(&'de str);

/// Deserializer methods that parse the key, or hand the visitor the string
/// (and so its "invalid type" error) when it does not parse.
macro_rules! parse_key {
    ($($method:ident => $visit:ident($ty:ty)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeserializeError> {
            match self.0.parse::<$ty>() {
                Ok(parsed) => visitor.$visit(parsed),
                Err(_) => visitor.visit_borrowed_str(self.0),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDeserializer<'de> {
    type Error = DeserializeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeserializeError> {
        visitor.visit_borrowed_str(self.0)
    }

    parse_key! {
        deserialize_bool => visit_bool(bool),
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_i128 => visit_i128(i128),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_u128 => visit_u128(u128),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeserializeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        visitor.visit_enum(BorrowedStrDeserializer::new(self.0))
    }

    fn is_human_readable(&self) -> bool {
        false
    }

    forward_to_deserialize_any! {
        f32 f64 char str string bytes byte_buf unit unit_struct
        seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// An enum written as a variant name (`"A"`) or as `{"A": content}`.
struct EnumDeserializer<'de> {
    /// The variant's name.
    variant: &'de str,
    /// The variant's data, if it was written as a one-entry dictionary.
    content: Option<&'de Value>,
}

impl<'de> EnumDeserializer<'de> {
    /// The variant's data, or an error saying that `kind` needs some.
    fn content(&self, kind: &'static str) -> Result<&'de Value, DeserializeError> {
        self.content
            .ok_or_else(|| serde::de::Error::invalid_type(Unexpected::UnitVariant, &kind))
    }
}

impl<'de> EnumAccess<'de> for EnumDeserializer<'de> {
    type Error = DeserializeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), DeserializeError> {
        let variant = seed.deserialize(BorrowedStrDeserializer::new(self.variant))?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for EnumDeserializer<'de> {
    type Error = DeserializeError;

    fn unit_variant(self) -> Result<(), DeserializeError> {
        match self.content {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(invalid_type(other, &"a unit variant").at_key(self.variant)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, DeserializeError> {
        let content = self.content("a newtype variant")?;
        seed.deserialize(content)
            .map_err(|e| e.at_key(self.variant))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        let content = self.content("a tuple variant")?;
        content
            .deserialize_tuple(len, visitor)
            .map_err(|e| e.at_key(self.variant))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        let content = self.content("a struct variant")?;
        content
            .deserialize_struct("", fields, visitor)
            .map_err(|e| e.at_key(self.variant))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;

    use super::*;
    use crate::value::{Dict, List};

    fn dict(entries: &[(&str, Value)]) -> Value {
        Value::Dict(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<Dict>(),
        )
    }

    fn list(items: &[Value]) -> Value {
        Value::List(items.to_vec())
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Add {
        number1: f64,
        number2: f64,
    }

    #[test]
    fn struct_from_dict() {
        let v = dict(&[("number1", Value::Float(1.5)), ("number2", Value::UInt(2))]);
        assert_eq!(
            from_value::<Add>(&v).expect("fits"),
            Add {
                number1: 1.5,
                number2: 2.0
            }
        );
    }

    #[test]
    fn struct_and_tuple_from_positional_list() {
        let v = list(&[Value::Float(1.5), Value::Int(-2)]);
        assert_eq!(from_value::<(f64, f64)>(&v).expect("fits"), (1.5, -2.0));
        assert_eq!(
            from_value::<Add>(&v).expect("fits"),
            Add {
                number1: 1.5,
                number2: -2.0
            }
        );
    }

    #[test]
    fn too_many_or_too_few_elements() {
        let three = list(&[Value::UInt(1), Value::UInt(2), Value::UInt(3)]);
        let err = from_value::<(f64, f64)>(&three).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "invalid length 3, expected a list of 2 elements"
        );
        let err = from_value::<Add>(&three).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "invalid length 3, expected a list of 2 elements"
        );
        let err = from_value::<Add>(&list(&[Value::UInt(1)])).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "invalid length 1, expected struct Add with 2 elements"
        );
        assert_eq!(from_value::<Vec<u8>>(&three).expect("fits"), vec![1, 2, 3]);
    }

    #[test]
    fn missing_field() {
        let v = dict(&[("number1", Value::UInt(1))]);
        let err = from_value::<Add>(&v).expect_err("must fail");
        assert_eq!(err.to_string(), "missing field `number2`");
        assert_eq!(err.path(), "");
    }

    #[test]
    fn unknown_field_when_denied() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Strict {
            a: u8,
        }
        let v = dict(&[("user", dict(&[("a", Value::UInt(1)), ("b", Value::Null)]))]);
        let err = from_value::<HashMap<String, Strict>>(&v).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "at \"user\": unknown field `b`, expected `a`"
        );
    }

    #[test]
    fn wrong_type_in_list_has_index_path() {
        let v = list(&[Value::Float(1.0), Value::Str("x".into())]);
        let err = from_value::<(f64, f64)>(&v).expect_err("must fail");
        assert_eq!(err.path(), "[1]");
        assert_eq!(err.message(), "invalid type: string \"x\", expected f64");
        assert_eq!(
            err.to_string(),
            "at [1]: invalid type: string \"x\", expected f64"
        );
    }

    #[test]
    fn wrong_type_in_nested_dict_has_key_path() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            b: u32,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            a: Inner,
        }
        let v = dict(&[("a", dict(&[("b", Value::Bool(true))]))]);
        let err = from_value::<Outer>(&v).expect_err("must fail");
        assert_eq!(err.path(), "\"a\".\"b\"");
        assert_eq!(
            err.to_string(),
            "at \"a\".\"b\": invalid type: boolean `true`, expected u32"
        );

        let v = list(&[dict(&[("name", Value::UInt(3))])]);
        let err = from_value::<Vec<HashMap<String, String>>>(&v).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "at [0].\"name\": invalid type: integer `3`, expected a string"
        );

        let v = dict(&[("a", list(&[Value::Null, Value::Float(0.5)]))]);
        let err = from_value::<BTreeMap<String, Vec<Option<i32>>>>(&v).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "at \"a\"[1]: invalid type: floating point `0.5`, expected i32"
        );
    }

    #[test]
    fn kinds_are_named_in_type_errors() {
        let cases = [
            (Value::Null, "invalid type: unit value, expected a string"),
            (
                Value::Bool(true),
                "invalid type: boolean `true`, expected a string",
            ),
            (
                Value::Int(-1),
                "invalid type: integer `-1`, expected a string",
            ),
            (
                Value::UInt(1),
                "invalid type: integer `1`, expected a string",
            ),
            (
                Value::Float(0.5),
                "invalid type: floating point `0.5`, expected a string",
            ),
            (
                Value::Bytes(bytes::Bytes::from_static(b"\xff")),
                // The string visitor accepts UTF-8 bytes, so it says "value".
                "invalid value: byte array, expected a string",
            ),
            (list(&[]), "invalid type: sequence, expected a string"),
            (dict(&[]), "invalid type: map, expected a string"),
        ];
        for (value, message) in cases {
            assert_eq!(
                from_value::<String>(&value)
                    .expect_err("must fail")
                    .to_string(),
                message
            );
        }
    }

    #[test]
    fn option_fields() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct Opts {
            a: Option<u8>,
            b: Option<String>,
            c: Option<bool>,
        }
        let v = dict(&[("a", Value::Null), ("b", Value::Str("x".into()))]);
        assert_eq!(
            from_value::<Opts>(&v).expect("fits"),
            Opts {
                a: None,
                b: Some("x".into()),
                c: None
            }
        );
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Shape {
        Empty,
        Circle(f64),
        Point(i32, i32),
        Rect { w: u32, h: u32 },
    }

    #[test]
    fn enums() {
        let cases = [
            (Value::Str("Empty".into()), Shape::Empty),
            (dict(&[("Empty", Value::Null)]), Shape::Empty),
            (dict(&[("Circle", Value::UInt(2))]), Shape::Circle(2.0)),
            (
                dict(&[("Point", list(&[Value::Int(-1), Value::UInt(2)]))]),
                Shape::Point(-1, 2),
            ),
            (
                dict(&[(
                    "Rect",
                    dict(&[("w", Value::UInt(3)), ("h", Value::UInt(4))]),
                )]),
                Shape::Rect { w: 3, h: 4 },
            ),
        ];
        for (value, shape) in cases {
            assert_eq!(from_value::<Shape>(&value).expect("fits"), shape);
        }
    }

    #[test]
    fn enum_errors() {
        let err = from_value::<Shape>(&Value::Str("Square".into())).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "unknown variant `Square`, expected one of `Empty`, `Circle`, `Point`, `Rect`"
        );
        let err = from_value::<Shape>(&Value::Str("Circle".into())).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "invalid type: unit variant, expected a newtype variant"
        );
        let err = from_value::<Shape>(&dict(&[("Rect", dict(&[("w", Value::Int(-3))]))]))
            .expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "at \"Rect\".\"w\": invalid value: integer `-3`, expected u32"
        );
        let two = dict(&[("Empty", Value::Null), ("Circle", Value::UInt(1))]);
        assert_eq!(
            from_value::<Shape>(&two)
                .expect_err("must fail")
                .to_string(),
            "invalid length 2, expected a dict with exactly one entry, naming the variant"
        );
        assert_eq!(
            from_value::<Shape>(&Value::UInt(1))
                .expect_err("must fail")
                .to_string(),
            "invalid type: integer `1`, expected enum Shape"
        );
    }

    #[test]
    fn integers_out_of_range() {
        assert_eq!(
            from_value::<u8>(&Value::UInt(300))
                .expect_err("must fail")
                .to_string(),
            "invalid value: integer `300`, expected u8"
        );
        assert_eq!(
            from_value::<u32>(&Value::Int(-1))
                .expect_err("must fail")
                .to_string(),
            "invalid value: integer `-1`, expected u32"
        );
        assert_eq!(
            from_value::<i64>(&Value::UInt(u64::MAX))
                .expect_err("must fail")
                .to_string(),
            "invalid value: integer `18446744073709551615`, expected i64"
        );
        assert_eq!(from_value::<i8>(&Value::UInt(127)).expect("fits"), 127);
        assert_eq!(from_value::<i32>(&Value::Int(-5)).expect("fits"), -5);
        assert_eq!(from_value::<i128>(&Value::Int(-5)).expect("fits"), -5);
        assert_eq!(from_value::<u128>(&Value::UInt(5)).expect("fits"), 5);
    }

    #[test]
    fn floats_accept_integers() {
        assert!((from_value::<f64>(&Value::UInt(3)).expect("fits") - 3.0).abs() < f64::EPSILON);
        assert!((from_value::<f32>(&Value::Int(-3)).expect("fits") + 3.0).abs() < f32::EPSILON);
        assert_eq!(
            from_value::<f64>(&Value::Str("a".into()))
                .expect_err("must fail")
                .to_string(),
            "invalid type: string \"a\", expected f64"
        );
    }

    #[test]
    fn borrows_strings_and_bytes() {
        #[derive(Deserialize)]
        struct Borrowed<'a> {
            name: &'a str,
            #[serde(borrow)]
            data: &'a [u8],
        }
        let v = dict(&[
            ("name", Value::Str("alice".into())),
            ("data", Value::Bytes(bytes::Bytes::from_static(b"\x00\x01"))),
        ]);
        let b = from_value::<Borrowed<'_>>(&v).expect("fits");
        assert_eq!(b.name, "alice");
        assert_eq!(b.data, b"\x00\x01");
    }

    #[test]
    fn unit_char_and_ignored() {
        from_value::<()>(&Value::Null).expect("fits");
        assert_eq!(
            from_value::<()>(&Value::Bool(false))
                .expect_err("must fail")
                .to_string(),
            "invalid type: boolean `false`, expected unit"
        );
        assert_eq!(
            from_value::<char>(&Value::Str("é".into())).expect("fits"),
            'é'
        );
        assert!(from_value::<char>(&Value::Str("ab".into())).is_err());
        from_value::<serde::de::IgnoredAny>(&list(&[dict(&[])])).expect("fits");
    }

    #[test]
    fn integer_keys_are_parsed() {
        let v = dict(&[
            ("1", Value::Str("one".into())),
            ("20", Value::Str("twenty".into())),
        ]);
        let map = from_value::<BTreeMap<u32, String>>(&v).expect("fits");
        assert_eq!(
            map,
            BTreeMap::from([(1, "one".into()), (20, "twenty".into())])
        );
        let err = from_value::<BTreeMap<u32, String>>(&dict(&[("x", Value::Null)]))
            .expect_err("must fail");
        assert_eq!(err.to_string(), "invalid type: string \"x\", expected u32");
    }

    #[test]
    fn value_roundtrips_through_itself() {
        let v = dict(&[("a", list(&[Value::Int(-1), Value::UInt(1), Value::Null]))]);
        assert_eq!(from_value::<Value>(&v).expect("fits"), v);
        let _: List = from_value(&list(&[Value::Bool(true)])).expect("fits");
    }

    #[test]
    fn into_deserializer_is_identity() {
        let v = Value::UInt(7);
        let d: &Value = IntoDeserializer::<DeserializeError>::into_deserializer(&v);
        assert_eq!(u16::deserialize(d).expect("fits"), 7);
    }
}
