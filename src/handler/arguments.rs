//! The caller's (or publisher's) arguments, and the extractors that read
//! them: [`Params`], [`Args`], [`Kwargs`].

use serde::de::DeserializeOwned;
use serverwamp_protocol::value::from_value;
use serverwamp_protocol::{Dict, Value};

use super::WampError;
use super::params::ParamsDeserializer;

/// The positional and keyword arguments of a call or a publication, as a
/// handler's extractors read them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Arguments {
    /// Always a `Value::List`.
    pub(crate) args: Value,
    /// Always a `Value::Dict`.
    pub(crate) kwargs: Value,
    /// Whether camelCase keyword names fill snake_case fields.
    pub(crate) snake_case: bool,
    /// Set for a handler whose only reader of the positional arguments may
    /// take them.
    pub(crate) sole_args_reader: bool,
    /// The same for the keyword arguments.
    pub(crate) sole_kwargs_reader: bool,
}

impl Arguments {
    pub(crate) fn new(args: Vec<Value>, kwargs: Dict, snake_case: bool) -> Self {
        Arguments {
            args: Value::List(args),
            kwargs: Value::Dict(kwargs),
            snake_case,
            sole_args_reader: false,
            sole_kwargs_reader: false,
        }
    }

    /// The positional arguments.
    pub(crate) fn args(&self) -> &[Value] {
        self.args.as_list().map_or(&[], Vec::as_slice)
    }

    /// The keyword arguments.
    pub(crate) fn kwargs(&self) -> &Dict {
        static EMPTY: std::sync::LazyLock<Dict> = std::sync::LazyLock::new(Dict::new);
        self.kwargs.as_dict().unwrap_or(&EMPTY)
    }

    /// Whether there are any.
    pub(crate) fn is_empty(&self) -> bool {
        self.args().is_empty() && self.kwargs().is_empty()
    }

    pub(crate) fn params<T: DeserializeOwned>(&self) -> Result<Params<T>, WampError> {
        let de = ParamsDeserializer {
            args: &self.args,
            kwargs: self.kwargs(),
            snake_case: self.snake_case,
        };
        T::deserialize(de)
            .map(Params)
            .map_err(|e| WampError::invalid_argument(e.0))
    }

    pub(crate) fn positional<T: DeserializeOwned + 'static>(
        &mut self,
    ) -> Result<Args<T>, WampError> {
        if self.sole_args_reader
            && let Value::List(list) = std::mem::take(&mut self.args)
        {
            match downcast::<Vec<Value>, T>(list) {
                Ok(taken) => return Ok(Args(taken)),
                Err(list) => self.args = Value::List(list),
            }
        }
        from_value(&self.args)
            .map(Args)
            .map_err(|e| WampError::invalid_argument(format!("positional arguments: {e}")))
    }

    pub(crate) fn keyword<T: DeserializeOwned + 'static>(
        &mut self,
    ) -> Result<Kwargs<T>, WampError> {
        if self.sole_kwargs_reader
            && let Value::Dict(dict) = std::mem::take(&mut self.kwargs)
        {
            match downcast::<Dict, T>(dict) {
                Ok(taken) => return Ok(Kwargs(taken)),
                Err(dict) => self.kwargs = Value::Dict(dict),
            }
        }
        from_value(&self.kwargs)
            .map(Kwargs)
            .map_err(|e| WampError::invalid_argument(format!("keyword arguments: {e}")))
    }
}

/// `value` as a `U` if `T` is `U` (moved, not copied); `Err` gives it back.
pub(crate) fn downcast<T: 'static, U: 'static>(value: T) -> Result<U, T> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<U>() {
        return Err(value);
    }
    let mut slot = Some(value);
    let taken = (&mut slot as &mut dyn std::any::Any)
        .downcast_mut::<Option<U>>()
        .and_then(Option::take);
    taken.ok_or_else(|| slot.take().expect("not taken"))
}

/// The caller's arguments bound onto `T` like a function signature:
/// positional arguments fill fields in declaration order, keyword arguments
/// fill fields by name, and both may be mixed.
///
/// Missing, surplus, duplicated, unknown or wrongly typed arguments answer
/// `wamp.error.invalid_argument` with a message naming the argument. It
/// fills an argument of procedures and of publish handlers (the
/// publication's arguments).
///
/// ```
/// use serde::Deserialize;
/// use serverwamp::rpc::Params;
///
/// #[derive(Deserialize)]
/// struct AddParams { number1: f64, number2: f64 }
///
/// // The caller may send [1, 2] or {"number1": 1, "number2": 2}.
/// async fn add(Params(p): Params<AddParams>) -> f64 {
///     p.number1 + p.number2
/// }
/// # let _ = add;
/// ```
#[derive(Debug, Clone)]
pub struct Params<T>(pub T);

/// The positional arguments, as any type a list can fill (`Vec<Value>`,
/// a tuple, `Vec<f64>`, …). As a return value, `Args(x)` sends `x`
/// (which must serialize to a sequence) as positional arguments.
#[derive(Debug, Clone)]
pub struct Args<T>(pub T);

/// The keyword arguments, as any type a dict can fill (`Dict`, a struct,
/// `HashMap<String, T>`). As a return value, `Kwargs(x)` sends `x` (which
/// must serialize to a map or struct) as keyword arguments.
#[derive(Debug, Clone)]
pub struct Kwargs<T>(pub T);

/// Implements the argument extractors for a context with an `arguments`
/// field.
macro_rules! argument_extractors {
    ($context:ty) => {
        impl<T: serde::de::DeserializeOwned> $crate::handler::FromContext<$context>
            for $crate::handler::Params<T>
        {
            const READS: $crate::handler::ArgumentUse = $crate::handler::ArgumentUse::BOTH;

            fn from_context(context: &mut $context) -> Result<Self, $crate::handler::WampError> {
                context.arguments.params()
            }
        }

        impl<T: serde::de::DeserializeOwned + 'static> $crate::handler::FromContext<$context>
            for $crate::handler::Args<T>
        {
            const READS: $crate::handler::ArgumentUse = $crate::handler::ArgumentUse {
                args: true,
                kwargs: false,
            };

            fn from_context(context: &mut $context) -> Result<Self, $crate::handler::WampError> {
                context.arguments.positional()
            }
        }

        impl<T: serde::de::DeserializeOwned + 'static> $crate::handler::FromContext<$context>
            for $crate::handler::Kwargs<T>
        {
            const READS: $crate::handler::ArgumentUse = $crate::handler::ArgumentUse {
                args: false,
                kwargs: true,
            };

            fn from_context(context: &mut $context) -> Result<Self, $crate::handler::WampError> {
                context.arguments.keyword()
            }
        }
    };
}

pub(crate) use argument_extractors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downcast_moves_only_the_same_type() {
        let list = vec![Value::from("x")];
        let taken: Result<Vec<Value>, _> = downcast(list.clone());
        assert_eq!(taken, Ok(list.clone()));
        let refused: Result<Vec<String>, _> = downcast(list.clone());
        assert_eq!(refused, Err(list));
    }
}
