//! What a procedure returns: results, errors and progressive results.

use std::fmt;
use std::pin::Pin;

use futures_util::Stream;
use serde::Serialize;
use serverwamp_protocol::Message;
use serverwamp_protocol::message::Payload;
use serverwamp_protocol::value::to_value;
use serverwamp_protocol::{Dict, List, Value};

use super::OnCall;
use crate::handler::{Direct, Fallible, IntoOutcome, Serialized, WampError, downcast};

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
    /// The RESULT answering CALL `request` (a progress report if
    /// `progress`).
    pub(crate) fn into_message(self, request: serverwamp_protocol::Id, progress: bool) -> Message {
        Message::result(request, Payload::new(self.args, self.kwargs), progress)
    }

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

/// One item of a progressive result stream.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressiveItem {
    /// A progress report, sent only to callers that asked for progress.
    Progress(RpcResult),
    /// The final result; the stream is not read further.
    Result(RpcResult),
    /// The final error; the stream is not read further.
    Error(WampError),
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
    Done(Result<RpcResult, WampError>),
    /// Progress reports, then a final result or error.
    Progressive(ItemStream),
}

impl CallOutcome {
    /// The final result or error, for a caller that takes no progress
    /// reports (the application, an HTTP request): reports are dropped, and
    /// a progressive handler that panics is `wamp.error.runtime_error`.
    pub(crate) async fn final_result(self) -> Result<RpcResult, WampError> {
        use futures_util::{FutureExt, StreamExt};
        let mut stream = match self {
            CallOutcome::Done(result) => return result,
            CallOutcome::Progressive(stream) => stream,
        };
        loop {
            match std::panic::AssertUnwindSafe(stream.next())
                .catch_unwind()
                .await
            {
                Ok(Some(ProgressiveItem::Progress(_))) => {}
                Ok(Some(ProgressiveItem::Result(result))) => return Ok(result),
                Ok(Some(ProgressiveItem::Error(err))) => return Err(err),
                Ok(None) => return Ok(RpcResult::new()),
                Err(_) => {
                    tracing::error!("a progressive procedure panicked");
                    return Err(WampError::runtime_error());
                }
            }
        }
    }
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
/// The rules are the Python serverwamp library's, applied to anything that
/// implements `serde::Serialize` by what it serializes to: a scalar
/// (numbers of every width, `usize` included, strings, booleans) becomes
/// one positional argument; a sequence (a `Vec`, a slice, a tuple, a
/// one-element tuple too) becomes positional arguments; a map or a struct
/// becomes keyword arguments; `()` is an empty result; `None` is one `null`
/// argument and `Some(v)` whatever `v` is; a [`Value`] follows the same
/// rule at run time.
///
/// Beside those: [`RpcResult`] says both kinds of argument explicitly;
/// [`WampError`] or `Err` answers with an error (`Result<T, E>` where `T`
/// converts and `E: Into<WampError>`); [`Progressive`] streams progress
/// reports; [`Args`](crate::rpc::Args) and [`Kwargs`](crate::rpc::Kwargs)
/// force a value to positional or keyword arguments.
///
/// ```
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Zodiac { #[serde(rename = "gregorianYear")] gregorian_year: u32 }
///
/// // Keyword arguments {"gregorianYear": 2020}.
/// async fn zodiac() -> Zodiac { Zodiac { gregorian_year: 2020 } }
/// // One positional argument.
/// async fn count() -> usize { 3 }
/// // Positional arguments ["only"].
/// async fn one() -> (&'static str,) { ("only",) }
/// # let _ = (zodiac, count, one);
/// ```
///
/// `M` only tells the implementations apart; you never name it. A type of
/// your own that is not `Serialize` implements `IntoCallResult` (with the
/// default `M`). A `Result` whose error type is both `Serialize` and
/// `Into<WampError>` is ambiguous; map its error first.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a WAMP procedure",
    label = "not a WAMP result",
    note = "return anything `Serialize` (a scalar, a Vec or tuple, a map or struct), `RpcResult`, \
            `WampError`, `Result<T, E>` with `E: Into<WampError>`, `Args`/`Kwargs` or \
            `Progressive(stream)`"
)]
pub trait IntoCallResult<M = Direct> {
    /// Converts the return value.
    fn into_call_result(self) -> CallOutcome;
}

/// Serializes `value` for a result, or answers `wamp.error.runtime_error`
/// (logged) when it cannot be represented.
pub(crate) fn value_of<T: Serialize + ?Sized>(value: &T) -> Result<Value, WampError> {
    to_value(value).map_err(|e| {
        tracing::warn!(error = %e, "a procedure's result cannot be serialized");
        WampError::runtime_error()
    })
}

fn done(result: Result<RpcResult, WampError>) -> CallOutcome {
    CallOutcome::Done(result)
}

/// The result a value makes: a list is positional arguments, a dict
/// keyword arguments, anything else one argument.
fn shaped(value: Value) -> CallOutcome {
    done(Ok(match value {
        Value::List(args) => RpcResult {
            args,
            kwargs: Dict::new(),
        },
        Value::Dict(kwargs) => RpcResult {
            args: List::new(),
            kwargs,
        },
        other => RpcResult {
            args: vec![other],
            kwargs: Dict::new(),
        },
    }))
}

impl<T: Serialize + 'static> IntoCallResult<Serialized> for T {
    fn into_call_result(self) -> CallOutcome {
        // Values that are already WAMP arguments move in without a copy.
        let this = match downcast::<T, Value>(self) {
            Ok(value) => return shaped(value),
            Err(this) => this,
        };
        let this = match downcast::<T, List>(this) {
            Ok(args) => return shaped(Value::List(args)),
            Err(this) => this,
        };
        let this = match downcast::<T, Dict>(this) {
            Ok(kwargs) => return shaped(Value::Dict(kwargs)),
            Err(this) => this,
        };
        // `()` serializes like `None`; it is no argument at all.
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() {
            return done(Ok(RpcResult::new()));
        }
        match value_of(&this) {
            Ok(value) => shaped(value),
            Err(e) => done(Err(e)),
        }
    }
}

/// What a procedure returns becomes its call's outcome.
impl<R: IntoCallResult<M>, M> IntoOutcome<OnCall, M> for R {
    fn into_outcome(self) -> CallOutcome {
        self.into_call_result()
    }
}

impl IntoCallResult for CallOutcome {
    fn into_call_result(self) -> CallOutcome {
        self
    }
}

impl IntoCallResult for RpcResult {
    fn into_call_result(self) -> CallOutcome {
        done(Ok(self))
    }
}

impl IntoCallResult for WampError {
    fn into_call_result(self) -> CallOutcome {
        done(Err(self))
    }
}

impl<T: IntoCallResult<M>, E: Into<WampError>, M> IntoCallResult<Fallible<M>> for Result<T, E> {
    fn into_call_result(self) -> CallOutcome {
        match self {
            Ok(v) => v.into_call_result(),
            Err(e) => done(Err(e.into())),
        }
    }
}

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

    use std::collections::BTreeMap;

    fn result(outcome: CallOutcome) -> Result<RpcResult, WampError> {
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
        let r: Result<i32, WampError> = Err(WampError::new("a.b"));
        assert_eq!(result(r.into_call_result()), Err(WampError::new("a.b")));
    }

    #[test]
    fn values_move_into_results_by_their_shape() {
        let list = vec![Value::from(1), Value::from("x")];
        assert_eq!(
            result(Value::List(list.clone()).into_call_result()),
            Ok(RpcResult {
                args: list.clone(),
                kwargs: Dict::new()
            })
        );
        assert_eq!(
            result(list.clone().into_call_result()),
            Ok(RpcResult {
                args: list,
                kwargs: Dict::new()
            })
        );
        let mut kwargs = Dict::new();
        kwargs.insert("k".into(), Value::Bool(true));
        assert_eq!(
            result(kwargs.clone().into_call_result()),
            Ok(RpcResult {
                args: List::new(),
                kwargs
            })
        );
        assert_eq!(result(().into_call_result()), Ok(RpcResult::new()));
        assert_eq!(
            result(7usize.into_call_result()),
            Ok(RpcResult::new().arg(7u64))
        );
        assert_eq!(
            result(("one",).into_call_result()),
            Ok(RpcResult::new().arg("one"))
        );
    }

    #[test]
    fn foreign_errors_become_runtime_errors_without_their_text() {
        let r: Result<i32, std::io::Error> = Err(std::io::Error::other("secret path /etc"));
        let err = result(r.into_call_result()).expect_err("an error");
        assert_eq!(err, WampError::runtime_error());
    }
}
