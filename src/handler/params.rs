//! Binding a caller's positional and keyword arguments onto a serde type.
//!
//! Serde hands a struct's deserializer the field names, so positional
//! arguments can be matched to fields by order and keyword arguments by
//! name, like a Python function signature, with no macro.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;
use serverwamp_protocol::{Dict, Value};

/// Why the arguments did not fit: the text says which argument and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParamsError(pub(crate) String);

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParamsError {}

impl de::Error for ParamsError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ParamsError(msg.to_string())
    }
}

/// Presents `args` and `kwargs` as one argument list.
pub(crate) struct ParamsDeserializer<'a> {
    pub(crate) args: &'a Value,
    pub(crate) kwargs: &'a Dict,
    /// Convert camelCase keyword names to snake_case before matching.
    pub(crate) snake_case: bool,
}

/// `camelCase` → `camel_case`; other names unchanged.
pub(crate) fn to_snake_case(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.bytes().any(|b| b.is_ascii_uppercase()) {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 4);
    for (i, ch) in name.char_indices() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl<'a> ParamsDeserializer<'a> {
    fn positional(&self) -> &'a [Value] {
        self.args.as_list().map_or(&[], Vec::as_slice)
    }

    /// The (name, value) pairs for a struct with these fields, checked for
    /// surplus, duplicated and unknown arguments.
    fn bind(
        &self,
        type_name: &str,
        fields: &'static [&'static str],
    ) -> Result<Vec<(&'static str, &'a Value)>, ParamsError> {
        let positional = self.positional();
        if positional.len() > fields.len() {
            return Err(ParamsError(format!(
                "too many positional arguments: {} given, {type_name} takes at most {}",
                positional.len(),
                fields.len()
            )));
        }
        let mut bound: Vec<(&'static str, &'a Value)> =
            Vec::with_capacity(positional.len() + self.kwargs.len());
        for (field, value) in fields.iter().zip(positional) {
            bound.push((field, value));
        }
        for (key, value) in self.kwargs {
            let name = if self.snake_case {
                to_snake_case(key)
            } else {
                std::borrow::Cow::Borrowed(key.as_str())
            };
            let Some(field) = fields.iter().find(|f| **f == name) else {
                return Err(ParamsError(format!("unexpected keyword argument `{key}`")));
            };
            if bound.iter().any(|(n, _)| n == field) {
                return Err(ParamsError(format!(
                    "argument `{field}` given both by position and by keyword"
                )));
            }
            bound.push((field, value));
        }
        Ok(bound)
    }
}

impl<'de> de::Deserializer<'de> for ParamsDeserializer<'de> {
    type Error = ParamsError;

    /// Anything but a struct is filled from the positional arguments.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        if !self.kwargs.is_empty() {
            return Err(ParamsError(
                "this procedure takes no keyword arguments".into(),
            ));
        }
        de::Deserializer::deserialize_any(self.args, visitor)
            .map_err(|e| ParamsError(argument_error(&e)))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        let bound = self.bind(name, fields)?;
        visitor.visit_map(BoundArgs {
            entries: bound.into_iter(),
            current: None,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// `"at [1]: msg"` from the value deserializer reads better for a caller as
/// "argument 2: msg".
fn argument_error(e: &serverwamp_protocol::value::DeserializeError) -> String {
    let path = e.path();
    match path.strip_prefix('[').and_then(|p| p.split_once(']')) {
        Some((index, rest)) => match index.parse::<usize>() {
            Ok(i) if rest.is_empty() => format!("argument {}: {}", i + 1, e.message()),
            Ok(i) => format!(
                "argument {} at {}: {}",
                i + 1,
                rest.trim_start_matches('.'),
                e.message()
            ),
            Err(_) => e.to_string(),
        },
        None => e.to_string(),
    }
}

struct BoundArgs<'a> {
    entries: std::vec::IntoIter<(&'static str, &'a Value)>,
    current: Option<(&'static str, &'a Value)>,
}

impl<'de> MapAccess<'de> for BoundArgs<'de> {
    type Error = ParamsError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParamsError> {
        let Some((name, value)) = self.entries.next() else {
            return Ok(None);
        };
        let key = seed.deserialize(name.into_deserializer())?;
        self.current = Some((name, value));
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ParamsError> {
        let (name, value) = self
            .current
            .take()
            .ok_or_else(|| ParamsError("internal: value requested before key".into()))?;
        seed.deserialize(value).map_err(|e| {
            if e.path().is_empty() {
                ParamsError(format!("argument `{name}`: {}", e.message()))
            } else {
                ParamsError(format!(
                    "argument `{name}` at {}: {}",
                    e.path(),
                    e.message()
                ))
            }
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Add {
        number1: f64,
        number2: f64,
    }

    fn bind<T: Deserialize<'static>>(
        args: Vec<Value>,
        kwargs: Vec<(&str, Value)>,
    ) -> Result<T, ParamsError> {
        let args: &'static Value = Box::leak(Box::new(Value::List(args)));
        let kwargs: &'static Dict = Box::leak(Box::new(
            kwargs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ));
        T::deserialize(ParamsDeserializer {
            args,
            kwargs,
            snake_case: true,
        })
    }

    #[test]
    fn positional_keyword_and_mixed() {
        let expect = Add {
            number1: 1.0,
            number2: 2.5,
        };
        assert_eq!(
            bind::<Add>(vec![1u64.into(), 2.5.into()], vec![]),
            Ok(Add { ..expect })
        );
        let kw = bind::<Add>(
            vec![],
            vec![("number2", 2.5.into()), ("number1", 1u64.into())],
        );
        assert_eq!(
            kw,
            Ok(Add {
                number1: 1.0,
                number2: 2.5
            })
        );
        let mixed = bind::<Add>(vec![1u64.into()], vec![("number2", 2.5.into())]);
        assert_eq!(
            mixed,
            Ok(Add {
                number1: 1.0,
                number2: 2.5
            })
        );
    }

    #[test]
    fn errors_name_the_argument() {
        let missing = bind::<Add>(vec![1u64.into()], vec![]);
        assert_eq!(missing, Err(ParamsError("missing field `number2`".into())));
        let surplus = bind::<Add>(vec![1u64.into(), 2u64.into(), 3u64.into()], vec![]);
        assert_eq!(
            surplus,
            Err(ParamsError(
                "too many positional arguments: 3 given, Add takes at most 2".into()
            ))
        );
        let dup = bind::<Add>(
            vec![1u64.into(), 2u64.into()],
            vec![("number1", 1u64.into())],
        );
        assert_eq!(
            dup,
            Err(ParamsError(
                "argument `number1` given both by position and by keyword".into()
            ))
        );
        let unknown = bind::<Add>(vec![], vec![("number3", 1u64.into())]);
        assert_eq!(
            unknown,
            Err(ParamsError("unexpected keyword argument `number3`".into()))
        );
        let wrong = bind::<Add>(vec![1u64.into(), "x".into()], vec![]);
        assert_eq!(
            wrong,
            Err(ParamsError(
                "argument `number2`: invalid type: string \"x\", expected f64".into()
            ))
        );
    }

    #[test]
    fn camel_case_keywords_map_to_snake_case_fields() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct P {
            time_left: u32,
        }
        assert_eq!(
            bind::<P>(vec![], vec![("timeLeft", 3u64.into())]),
            Ok(P { time_left: 3 })
        );
        assert_eq!(to_snake_case("gregorianYear"), "gregorian_year");
        assert_eq!(to_snake_case("plain"), "plain");
    }

    #[test]
    fn tuples_take_positional_arguments() {
        assert_eq!(
            bind::<(u8, String)>(vec![1u64.into(), "a".into()], vec![]),
            Ok((1, "a".to_owned()))
        );
        let err = bind::<(u8, String)>(vec![1u64.into(), 2u64.into()], vec![]);
        assert_eq!(
            err,
            Err(ParamsError(
                "argument 2: invalid type: integer `2`, expected a string".into()
            ))
        );
    }
}
