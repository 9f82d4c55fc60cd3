//! Turning any `Serialize` type into a [`Value`].

use std::fmt;

use bytes::Bytes;
use serde::Serialize;
use serde::ser::{
    Impossible, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant,
    SerializeTuple, SerializeTupleStruct, SerializeTupleVariant, Serializer,
};

use super::{Dict, List, Value};

/// Turns `value` into a [`Value`].
///
/// Non-negative integers become [`Value::UInt`] and negative ones
/// [`Value::Int`]; `None` and `()` become [`Value::Null`]; structs and maps
/// become dictionaries in field (or iteration) order; enums follow the
/// externally tagged layout: `"Variant"` for unit variants and
/// `{"Variant": content}` for the others.
///
/// # Errors
///
/// A [`SerializeError`] if the type's `Serialize` implementation fails, if a
/// 128-bit integer does not fit in 64 bits, or if a map key is not a string,
/// a char, an integer or a boolean (those become strings).
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, SerializeError> {
    value.serialize(ValueSerializer)
}

/// Error turning a type into a [`Value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerializeError {
    /// What went wrong.
    message: String,
}

impl fmt::Display for SerializeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SerializeError {}

impl serde::ser::Error for SerializeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerializeError {
            message: msg.to_string(),
        }
    }
}

/// Shorthand for a [`SerializeError`] with `msg`.
fn error(msg: impl fmt::Display) -> SerializeError {
    serde::ser::Error::custom(msg)
}

/// An integer as a value: `UInt` if non-negative, `Int` otherwise.
fn signed(n: i64) -> Value {
    u64::try_from(n).map_or(Value::Int(n), Value::UInt)
}

/// `{variant: content}`.
fn tagged(variant: &'static str, content: Value) -> Value {
    let mut dict = Dict::with_capacity(1);
    dict.insert(variant.to_owned(), content);
    Value::Dict(dict)
}

/// The serializer behind [`to_value`].
struct ValueSerializer;

impl Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SerializeError;
    type SerializeSeq = ListBuilder;
    type SerializeTuple = ListBuilder;
    type SerializeTupleStruct = ListBuilder;
    type SerializeTupleVariant = ListBuilder;
    type SerializeMap = DictBuilder;
    type SerializeStruct = DictBuilder;
    type SerializeStructVariant = DictBuilder;

    fn serialize_bool(self, v: bool) -> Result<Value, SerializeError> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, SerializeError> {
        Ok(signed(i64::from(v)))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, SerializeError> {
        Ok(signed(i64::from(v)))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, SerializeError> {
        Ok(signed(i64::from(v)))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, SerializeError> {
        Ok(signed(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Value, SerializeError> {
        if let Ok(n) = u64::try_from(v) {
            Ok(Value::UInt(n))
        } else if let Ok(n) = i64::try_from(v) {
            Ok(Value::Int(n))
        } else {
            Err(error(format_args!(
                "integer {v} is out of the 64-bit range"
            )))
        }
    }

    fn serialize_u8(self, v: u8) -> Result<Value, SerializeError> {
        Ok(Value::UInt(u64::from(v)))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, SerializeError> {
        Ok(Value::UInt(u64::from(v)))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, SerializeError> {
        Ok(Value::UInt(u64::from(v)))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, SerializeError> {
        Ok(Value::UInt(v))
    }

    fn serialize_u128(self, v: u128) -> Result<Value, SerializeError> {
        u64::try_from(v)
            .map(Value::UInt)
            .map_err(|_| error(format_args!("integer {v} is out of the 64-bit range")))
    }

    fn serialize_f32(self, v: f32) -> Result<Value, SerializeError> {
        Ok(Value::Float(f64::from(v)))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, SerializeError> {
        Ok(Value::Float(v))
    }

    fn serialize_char(self, v: char) -> Result<Value, SerializeError> {
        Ok(Value::Str(v.to_string()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, SerializeError> {
        Ok(Value::Str(v.to_owned()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, SerializeError> {
        Ok(Value::Bytes(Bytes::copy_from_slice(v)))
    }

    fn serialize_none(self) -> Result<Value, SerializeError> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, SerializeError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, SerializeError> {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, SerializeError> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, SerializeError> {
        Ok(Value::Str(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, SerializeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, SerializeError> {
        Ok(tagged(variant, to_value(value)?))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<ListBuilder, SerializeError> {
        Ok(ListBuilder {
            items: List::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<ListBuilder, SerializeError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ListBuilder, SerializeError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<ListBuilder, SerializeError> {
        Ok(ListBuilder {
            items: List::with_capacity(len),
            variant: Some(variant),
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<DictBuilder, SerializeError> {
        Ok(DictBuilder {
            dict: Dict::with_capacity(len.unwrap_or(0)),
            pending_key: None,
            variant: None,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<DictBuilder, SerializeError> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<DictBuilder, SerializeError> {
        Ok(DictBuilder {
            dict: Dict::with_capacity(len),
            pending_key: None,
            variant: Some(variant),
        })
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// Collects a sequence, tuple, tuple struct or tuple variant into a list.
struct ListBuilder {
    /// The elements so far.
    items: List,
    /// For a tuple variant, its name: the list is wrapped as `{variant: list}`.
    variant: Option<&'static str>,
}

impl ListBuilder {
    /// Adds one element.
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        self.items.push(to_value(value)?);
        Ok(())
    }

    /// The finished list, wrapped in its variant if any.
    fn finish(self) -> Value {
        let list = Value::List(self.items);
        match self.variant {
            Some(variant) => tagged(variant, list),
            None => list,
        }
    }
}

impl SerializeSeq for ListBuilder {
    type Ok = Value;
    type Error = SerializeError;

    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), SerializeError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.finish())
    }
}

impl SerializeTuple for ListBuilder {
    type Ok = Value;
    type Error = SerializeError;

    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), SerializeError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.finish())
    }
}

impl SerializeTupleStruct for ListBuilder {
    type Ok = Value;
    type Error = SerializeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.finish())
    }
}

impl SerializeTupleVariant for ListBuilder {
    type Ok = Value;
    type Error = SerializeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        self.push(value)
    }

    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.finish())
    }
}

/// Collects a map, struct or struct variant into a dictionary.
struct DictBuilder {
    /// The entries so far; a later duplicate key replaces the earlier value.
    dict: Dict,
    /// A map key whose value has not been serialized yet.
    pending_key: Option<String>,
    /// For a struct variant, its name: the dict is wrapped as `{variant: dict}`.
    variant: Option<&'static str>,
}

impl DictBuilder {
    /// Adds one entry.
    fn insert<T: Serialize + ?Sized>(
        &mut self,
        key: String,
        value: &T,
    ) -> Result<(), SerializeError> {
        self.dict.insert(key, to_value(value)?);
        Ok(())
    }

    /// The finished dictionary, wrapped in its variant if any.
    fn finish(self) -> Value {
        let dict = Value::Dict(self.dict);
        match self.variant {
            Some(variant) => tagged(variant, dict),
            None => dict,
        }
    }
}

impl SerializeMap for DictBuilder {
    type Ok = Value;
    type Error = SerializeError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerializeError> {
        self.pending_key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| error("a map value was serialized before its key"))?;
        self.insert(key, value)
    }

    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.finish())
    }
}

impl SerializeStruct for DictBuilder {
    type Ok = Value;
    type Error = SerializeError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerializeError> {
        self.insert(key.to_owned(), value)
    }

    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.finish())
    }
}

impl SerializeStructVariant for DictBuilder {
    type Ok = Value;
    type Error = SerializeError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerializeError> {
        self.insert(key.to_owned(), value)
    }

    fn end(self) -> Result<Value, SerializeError> {
        Ok(self.finish())
    }
}

/// Serializes a map key to a string: strings and chars as they are, integers
/// and booleans as their text; anything else is refused.
struct KeySerializer;

/// The error for a map key that cannot be a dictionary key.
fn key_error() -> SerializeError {
    error("dictionary keys must be strings")
}

/// `KeySerializer` methods that write the key with `to_string`.
macro_rules! key_to_string {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method(self, v: $ty) -> Result<String, SerializeError> {
            Ok(v.to_string())
        }
    )*};
}

/// `KeySerializer` methods that refuse the key.
macro_rules! key_refused {
    ($($method:ident($($arg:ty),*) -> $ret:ty),* $(,)?) => {$(
        fn $method(self, $(_: $arg),*) -> Result<$ret, SerializeError> {
            Err(key_error())
        }
    )*};
}

impl Serializer for KeySerializer {
    type Ok = String;
    type Error = SerializeError;
    type SerializeSeq = Impossible<String, SerializeError>;
    type SerializeTuple = Impossible<String, SerializeError>;
    type SerializeTupleStruct = Impossible<String, SerializeError>;
    type SerializeTupleVariant = Impossible<String, SerializeError>;
    type SerializeMap = Impossible<String, SerializeError>;
    type SerializeStruct = Impossible<String, SerializeError>;
    type SerializeStructVariant = Impossible<String, SerializeError>;

    key_to_string! {
        serialize_bool(bool),
        serialize_i8(i8), serialize_i16(i16), serialize_i32(i32), serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8), serialize_u16(u16), serialize_u32(u32), serialize_u64(u64),
        serialize_u128(u128),
        serialize_char(char),
    }

    fn serialize_str(self, v: &str) -> Result<String, SerializeError> {
        Ok(v.to_owned())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, SerializeError> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, SerializeError> {
        value.serialize(self)
    }

    key_refused! {
        serialize_f32(f32) -> String,
        serialize_f64(f64) -> String,
        serialize_bytes(&[u8]) -> String,
        serialize_none() -> String,
        serialize_unit() -> String,
        serialize_unit_struct(&'static str) -> String,
        serialize_seq(Option<usize>) -> Self::SerializeSeq,
        serialize_tuple(usize) -> Self::SerializeTuple,
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct,
        serialize_tuple_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeTupleVariant,
        serialize_map(Option<usize>) -> Self::SerializeMap,
        serialize_struct(&'static str, usize) -> Self::SerializeStruct,
        serialize_struct_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeStructVariant,
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, SerializeError> {
        Err(key_error())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, SerializeError> {
        Err(key_error())
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::{Deserialize, Deserializer, Serializer};

    use super::*;
    use crate::value::from_value;

    fn dict(entries: &[(&str, Value)]) -> Value {
        Value::Dict(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<Dict>(),
        )
    }

    #[test]
    fn scalars() {
        assert_eq!(to_value(&true).expect("ok"), Value::Bool(true));
        assert!(matches!(to_value(&5i32).expect("ok"), Value::UInt(5)));
        assert!(matches!(to_value(&-5i8).expect("ok"), Value::Int(-5)));
        assert!(matches!(to_value(&7u16).expect("ok"), Value::UInt(7)));
        assert!(matches!(to_value(&-1i128).expect("ok"), Value::Int(-1)));
        assert!(matches!(
            to_value(&u128::from(u64::MAX)).expect("ok"),
            Value::UInt(u64::MAX)
        ));
        assert_eq!(to_value(&1.5f32).expect("ok"), Value::Float(1.5));
        assert_eq!(to_value(&'x').expect("ok"), Value::Str("x".into()));
        assert_eq!(to_value("hi").expect("ok"), Value::Str("hi".into()));
        assert_eq!(to_value(&()).expect("ok"), Value::Null);
        assert_eq!(to_value(&None::<u8>).expect("ok"), Value::Null);
        assert_eq!(to_value(&Some(3u8)).expect("ok"), Value::UInt(3));
        assert_eq!(
            to_value(&vec![1u8, 2]).expect("ok"),
            Value::List(vec![Value::UInt(1), Value::UInt(2)])
        );
        assert_eq!(
            to_value(&(1u8, "a")).expect("ok"),
            Value::List(vec![Value::UInt(1), Value::Str("a".into())])
        );
    }

    #[test]
    fn wide_integers_out_of_range() {
        assert_eq!(
            to_value(&(i128::from(i64::MIN) - 1))
                .expect_err("too small")
                .to_string(),
            "integer -9223372036854775809 is out of the 64-bit range"
        );
        assert_eq!(
            to_value(&(u128::from(u64::MAX) + 1))
                .expect_err("too big")
                .to_string(),
            "integer 18446744073709551616 is out of the 64-bit range"
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Unit;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Meters(f64);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Pair(u8, i8);

    #[test]
    fn structs_keep_field_order_and_skip_skipped_fields() {
        #[derive(Serialize)]
        struct S {
            zeta: u8,
            alpha: &'static str,
            #[serde(skip)]
            _hidden: u8,
            #[serde(skip_serializing_if = "Option::is_none")]
            maybe: Option<u8>,
            middle: Option<u8>,
        }
        let v = to_value(&S {
            zeta: 1,
            alpha: "a",
            _hidden: 9,
            maybe: None,
            middle: None,
        })
        .expect("ok");
        let Value::Dict(d) = &v else {
            panic!("not a dict: {v:?}")
        };
        assert_eq!(d.keys().collect::<Vec<_>>(), ["zeta", "alpha", "middle"]);
        assert_eq!(
            v,
            dict(&[
                ("zeta", Value::UInt(1)),
                ("alpha", Value::Str("a".into())),
                ("middle", Value::Null)
            ])
        );
        assert_eq!(to_value(&Unit).expect("ok"), Value::Null);
        assert_eq!(to_value(&Meters(2.0)).expect("ok"), Value::Float(2.0));
        assert_eq!(
            to_value(&Pair(1, -1)).expect("ok"),
            Value::List(vec![Value::UInt(1), Value::Int(-1)])
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Empty,
        Circle(f64),
        Point(i32, i32),
        Rect { w: u32, h: u32 },
    }

    #[test]
    fn enums_are_externally_tagged() {
        let cases = [
            (Shape::Empty, Value::Str("Empty".into())),
            (Shape::Circle(1.5), dict(&[("Circle", Value::Float(1.5))])),
            (
                Shape::Point(-1, 2),
                dict(&[("Point", Value::List(vec![Value::Int(-1), Value::UInt(2)]))]),
            ),
            (
                Shape::Rect { w: 3, h: 4 },
                dict(&[(
                    "Rect",
                    dict(&[("w", Value::UInt(3)), ("h", Value::UInt(4))]),
                )]),
            ),
        ];
        for (shape, value) in cases {
            assert_eq!(to_value(&shape).expect("ok"), value);
            assert_eq!(from_value::<Shape>(&value).expect("fits"), shape);
        }
    }

    #[test]
    fn map_keys_become_strings() {
        let map = HashMap::from([(7u32, "seven")]);
        assert_eq!(
            to_value(&map).expect("ok"),
            dict(&[("7", Value::Str("seven".into()))])
        );
        let map = BTreeMap::from([(-1i64, 1u8), (2, 2)]);
        let v = to_value(&map).expect("ok");
        assert_eq!(v, dict(&[("-1", Value::UInt(1)), ("2", Value::UInt(2))]));
        assert_eq!(from_value::<BTreeMap<i64, u8>>(&v).expect("fits"), map);
        let map = BTreeMap::from([(true, 1u8)]);
        assert_eq!(
            to_value(&map).expect("ok"),
            dict(&[("true", Value::UInt(1))])
        );
        let map = BTreeMap::from([('c', 1u8)]);
        assert_eq!(to_value(&map).expect("ok"), dict(&[("c", Value::UInt(1))]));
    }

    #[test]
    fn non_string_keys_are_refused() {
        let map = BTreeMap::from([(vec![1u8], 1u8)]);
        assert_eq!(
            to_value(&map).expect_err("list key").to_string(),
            "dictionary keys must be strings"
        );
        let map = BTreeMap::from([(Some(1u8), 1u8)]);
        assert!(to_value(&map).is_err());
    }

    /// A later duplicate key replaces the earlier value.
    struct Duplicates;

    impl Serialize for Duplicates {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry("a", &1u8)?;
            map.serialize_entry("b", &2u8)?;
            map.serialize_entry("a", &3u8)?;
            map.end()
        }
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        assert_eq!(
            to_value(&Duplicates).expect("ok"),
            dict(&[("a", Value::UInt(3)), ("b", Value::UInt(2))])
        );
    }

    /// Bytes that serialize as a byte string (what `serde_bytes` would do).
    #[derive(Debug, PartialEq)]
    struct Blob(Bytes);

    impl Serialize for Blob {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Blob {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct BlobVisitor;
            impl serde::de::Visitor<'_> for BlobVisitor {
                type Value = Blob;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Blob, E> {
                    Ok(Blob(Bytes::copy_from_slice(v)))
                }
            }
            deserializer.deserialize_bytes(BlobVisitor)
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Inner {
        name: String,
        data: Vec<u8>,
        blob: Blob,
        score: Option<f64>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Outer {
        id: u64,
        delta: i32,
        inner: Vec<Inner>,
        shapes: Vec<Shape>,
        tags: BTreeMap<u16, String>,
        unit: Unit,
        pair: Pair,
    }

    #[test]
    fn nested_struct_round_trips() {
        let outer = Outer {
            id: u64::MAX,
            delta: -7,
            inner: vec![Inner {
                name: "n".into(),
                data: vec![0, 255],
                blob: Blob(Bytes::from_static(b"\x00\xff")),
                score: None,
            }],
            shapes: vec![Shape::Empty, Shape::Rect { w: 1, h: 2 }],
            tags: BTreeMap::from([(1, "one".into())]),
            unit: Unit,
            pair: Pair(255, -128),
        };
        let value = to_value(&outer).expect("ok");
        let Value::Dict(d) = &value else {
            panic!("not a dict: {value:?}")
        };
        let Some(Value::List(inner)) = d.get("inner") else {
            panic!("no inner list: {value:?}")
        };
        assert_eq!(
            inner[0].as_dict().and_then(|i| i.get("blob")),
            Some(&Value::Bytes(Bytes::from_static(b"\x00\xff")))
        );
        assert_eq!(
            inner[0].as_dict().and_then(|i| i.get("data")),
            Some(&Value::List(vec![Value::UInt(0), Value::UInt(255)]))
        );
        assert_eq!(from_value::<Outer>(&value).expect("fits"), outer);
        assert_eq!(to_value(&value).expect("ok"), value);
    }
}
