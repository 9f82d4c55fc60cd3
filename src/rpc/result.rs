//! What a procedure returns: results, errors and progressive results.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::pin::Pin;

use futures_util::Stream;
use serde::Serialize;
use serverwamp_protocol::value::to_value;
use serverwamp_protocol::well_known::error;
use serverwamp_protocol::{Dict, List, Value};

/// A successful call result: positional and keyword arguments.
///
/// ```
/// use serverwamp::rpc::RpcResult;
///
/// let result = RpcResult::new()
///     .arg("Rock & Roll").arg("Blues").arg("Jazz")
///     .kwarg("playlistLength", 6432)
///     .kwarg("playlistSubscribers", 51);
/// assert_eq!(result.args.len(), 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RpcResult {
    /// Positional result arguments.
    pub args: List,
    /// Keyword result arguments.
    pub kwargs: Dict,
}

impl RpcResult {
    /// An empty result.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a positional argument.
    #[must_use]
    pub fn arg(mut self, value: impl Into<Value>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Adds a keyword argument.
    #[must_use]
    pub fn kwarg(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.kwargs.insert(key.into(), value.into());
        self
    }
}

/// A WAMP error answer: an error URI with optional arguments.
///
/// Return it (or `Err(it)` from a `Result`) to send the caller an `ERROR`.
/// Any `std::error::Error` converts into it with `?`; such unexpected errors
/// become `wamp.error.runtime_error` without their text, which is logged
/// instead, so no internal detail leaks to clients.
///
/// ```
/// use serverwamp::rpc::RpcError;
///
/// let err = RpcError::new("demo.error.bad_input")
///     .kwarg("errorCode", "BAD_INPUT");
/// assert_eq!(err.uri, "demo.error.bad_input");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The error URI, e.g. `wamp.error.invalid_argument`.
    pub uri: String,
    /// Positional error arguments.
    pub args: List,
    /// Keyword error arguments.
    pub kwargs: Dict,
}

impl RpcError {
    /// An error with this URI and no arguments.
    pub fn new(uri: impl Into<String>) -> Self {
        RpcError {
            uri: uri.into(),
            args: List::new(),
            kwargs: Dict::new(),
        }
    }

    /// `wamp.error.invalid_argument` with a message saying what was wrong.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        RpcError::new(error::INVALID_ARGUMENT).arg(message.into())
    }

    /// `wamp.error.runtime_error`, saying nothing about the cause.
    pub fn runtime_error() -> Self {
        RpcError::new(error::RUNTIME_ERROR)
    }

    /// Adds a positional argument.
    #[must_use]
    pub fn arg(mut self, value: impl Into<Value>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Adds a keyword argument.
    #[must_use]
    pub fn kwarg(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.kwargs.insert(key.into(), value.into());
        self
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)?;
        if let Some(first) = self.args.first() {
            write!(f, ": {first}")?;
        }
        Ok(())
    }
}

impl<E: std::error::Error> From<E> for RpcError {
    fn from(err: E) -> Self {
        tracing::warn!(error = %err, "procedure failed; answering wamp.error.runtime_error");
        RpcError::runtime_error()
    }
}

/// One item of a progressive result stream.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressiveItem {
    /// A progress report, sent only to callers that asked for progress.
    Progress(RpcResult),
    /// The final result; the stream is not read further.
    Result(RpcResult),
    /// The final error; the stream is not read further.
    Error(RpcError),
}

/// A progressive result: a stream of progress reports ending in a result or
/// an error (the Python serverwamp library's async generator of
/// `RPCProgressReport`s).
///
/// A stream that ends without a final item finishes the call with an empty
/// result.
///
/// ```
/// use serverwamp::rpc::{Progressive, ProgressiveItem, RpcResult};
///
/// async fn countdown() -> Progressive<impl futures_util::Stream<Item = ProgressiveItem> + Send> {
///     Progressive(futures_util::stream::iter([
///         ProgressiveItem::Progress(RpcResult::new().kwarg("timeLeft", 1)),
///         ProgressiveItem::Result(RpcResult::new().kwarg("liftoffStatus", "SUCCESS")),
///     ]))
/// }
/// # let _ = countdown;
/// ```
pub struct Progressive<S>(pub S);

/// A boxed stream of progressive items.
pub(crate) type ItemStream = Pin<Box<dyn Stream<Item = ProgressiveItem> + Send>>;

/// What a handler produced, before it is put on the wire.
pub enum CallOutcome {
    /// A final result or error.
    Done(Result<RpcResult, RpcError>),
    /// Progress reports, then a final result or error.
    Progressive(ItemStream),
}

impl fmt::Debug for CallOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallOutcome::Done(r) => f.debug_tuple("Done").field(r).finish(),
            CallOutcome::Progressive(_) => f.write_str("Progressive(..)"),
        }
    }
}

/// Turns what a procedure returns into a WAMP result.
///
/// The rules are the Python serverwamp library's: a scalar becomes one positional argument; a
/// `Vec` or tuple becomes positional arguments; a map becomes keyword
/// arguments; [`RpcResult`] says both explicitly; [`RpcError`] or `Err`
/// answers with an error; [`Progressive`] streams progress reports. Wrap a
/// struct in [`Kwargs`](crate::rpc::Kwargs) to return its fields as keyword
/// arguments, or in [`Args`](crate::rpc::Args) to return a sequence type as
/// positional arguments.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a WAMP procedure",
    label = "not a WAMP result",
    note = "return a scalar, a Vec or tuple (positional arguments), a map (keyword arguments), \
            `RpcResult`, `RpcError`, `Result<T, E>` with `E: Into<RpcError>`, `Kwargs(struct)` \
            or `Progressive(stream)`"
)]
pub trait IntoCallResult {
    /// Converts the return value.
    fn into_call_result(self) -> CallOutcome;
}

/// Serializes `value` for a result, or answers `wamp.error.runtime_error`
/// (logged) when it cannot be represented.
pub(crate) fn value_of<T: Serialize + ?Sized>(value: &T) -> Result<Value, RpcError> {
    to_value(value).map_err(|e| {
        tracing::warn!(error = %e, "a procedure's result cannot be serialized");
        RpcError::runtime_error()
    })
}

fn done(result: Result<RpcResult, RpcError>) -> CallOutcome {
    CallOutcome::Done(result)
}

fn single(value: Value) -> CallOutcome {
    done(Ok(RpcResult {
        args: vec![value],
        kwargs: Dict::new(),
    }))
}

impl IntoCallResult for CallOutcome {
    fn into_call_result(self) -> CallOutcome {
        self
    }
}

impl IntoCallResult for () {
    fn into_call_result(self) -> CallOutcome {
        done(Ok(RpcResult::new()))
    }
}

impl IntoCallResult for RpcResult {
    fn into_call_result(self) -> CallOutcome {
        done(Ok(self))
    }
}

impl IntoCallResult for RpcError {
    fn into_call_result(self) -> CallOutcome {
        done(Err(self))
    }
}

impl<T: IntoCallResult, E: Into<RpcError>> IntoCallResult for Result<T, E> {
    fn into_call_result(self) -> CallOutcome {
        match self {
            Ok(v) => v.into_call_result(),
            Err(e) => done(Err(e.into())),
        }
    }
}

/// `None` is a single `null` argument; `Some(v)` is whatever `v` is.
impl<T: IntoCallResult> IntoCallResult for Option<T> {
    fn into_call_result(self) -> CallOutcome {
        match self {
            Some(v) => v.into_call_result(),
            None => single(Value::Null),
        }
    }
}

/// A dynamic value follows the same rule at run time: a list becomes
/// positional arguments, a dict keyword arguments, anything else one
/// argument.
impl IntoCallResult for Value {
    fn into_call_result(self) -> CallOutcome {
        match self {
            Value::List(args) => done(Ok(RpcResult {
                args,
                kwargs: Dict::new(),
            })),
            Value::Dict(kwargs) => done(Ok(RpcResult {
                args: List::new(),
                kwargs,
            })),
            other => single(other),
        }
    }
}

macro_rules! scalar_results {
    ($($ty:ty),*) => {$(
        impl IntoCallResult for $ty {
            fn into_call_result(self) -> CallOutcome {
                single(Value::from(self))
            }
        }
    )*};
}

scalar_results!(
    bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, String, &str
);

impl<T: Serialize> IntoCallResult for Vec<T> {
    fn into_call_result(self) -> CallOutcome {
        done(
            self.iter()
                .map(value_of)
                .collect::<Result<List, _>>()
                .map(|args| RpcResult {
                    args,
                    kwargs: Dict::new(),
                }),
        )
    }
}

macro_rules! map_results {
    ($($map:ident $(, $bound:path)?);*) => {$(
        impl<K: AsRef<str> $(+ $bound)?, V: Serialize> IntoCallResult for $map<K, V> {
            fn into_call_result(self) -> CallOutcome {
                let mut kwargs = Dict::with_capacity(self.len());
                for (k, v) in &self {
                    match value_of(v) {
                        Ok(v) => {
                            kwargs.insert(k.as_ref().to_owned(), v);
                        }
                        Err(e) => return done(Err(e)),
                    }
                }
                done(Ok(RpcResult { args: List::new(), kwargs }))
            }
        }
    )*};
}

map_results!(HashMap; BTreeMap);

impl IntoCallResult for Dict {
    fn into_call_result(self) -> CallOutcome {
        done(Ok(RpcResult {
            args: List::new(),
            kwargs: self,
        }))
    }
}

macro_rules! tuple_results {
    ($(($($name:ident),+)),*) => {$(
        impl<$($name: Serialize),+> IntoCallResult for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_call_result(self) -> CallOutcome {
                let ($($name,)+) = self;
                let args: Result<List, RpcError> = (|| Ok(vec![$(value_of(&$name)?),+]))();
                done(args.map(|args| RpcResult { args, kwargs: Dict::new() }))
            }
        }
    )*};
}

tuple_results!(
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H)
);

impl<S> IntoCallResult for Progressive<S>
where
    S: Stream<Item = ProgressiveItem> + Send + 'static,
{
    fn into_call_result(self) -> CallOutcome {
        CallOutcome::Progressive(Box::pin(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(outcome: CallOutcome) -> Result<RpcResult, RpcError> {
        match outcome {
            CallOutcome::Done(r) => r,
            CallOutcome::Progressive(_) => panic!("not progressive"),
        }
    }

    #[test]
    fn scalars_are_one_argument() {
        assert_eq!(
            result(42i32.into_call_result()),
            Ok(RpcResult::new().arg(42))
        );
        assert_eq!(
            result("x".into_call_result()),
            Ok(RpcResult::new().arg("x"))
        );
    }

    #[test]
    fn sequences_are_positional() {
        let r = result(vec!["Peanut Butter", "Jelly", "Bread"].into_call_result());
        assert_eq!(
            r,
            Ok(RpcResult::new()
                .arg("Peanut Butter")
                .arg("Jelly")
                .arg("Bread"))
        );
        let r = result((1u8, "two").into_call_result());
        assert_eq!(r, Ok(RpcResult::new().arg(1).arg("two")));
    }

    #[test]
    fn maps_are_keyword_arguments() {
        let mut m = BTreeMap::new();
        m.insert("gregorianYear", 2020);
        let r = result(m.into_call_result());
        assert_eq!(r, Ok(RpcResult::new().kwarg("gregorianYear", 2020)));
    }

    #[test]
    fn none_is_a_null_argument_and_errors_pass_through() {
        assert_eq!(
            result(None::<i32>.into_call_result()),
            Ok(RpcResult::new().arg(Value::Null))
        );
        let r: Result<i32, RpcError> = Err(RpcError::new("a.b"));
        assert_eq!(result(r.into_call_result()), Err(RpcError::new("a.b")));
    }

    #[test]
    fn foreign_errors_become_runtime_errors_without_their_text() {
        let r: Result<i32, std::io::Error> = Err(std::io::Error::other("secret path /etc"));
        let err = result(r.into_call_result()).expect_err("an error");
        assert_eq!(err, RpcError::runtime_error());
    }
}
