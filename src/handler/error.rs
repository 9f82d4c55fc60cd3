//! The error any handler may answer with.

use std::fmt;

use serverwamp_protocol::message::{Message, MessageType, Payload};
use serverwamp_protocol::well_known::error;
use serverwamp_protocol::{Dict, Id, List, Value};

/// A WAMP error: an error URI with optional arguments, as any handler may
/// return it.
///
/// Returned by a procedure (or as `Err(it)` from a `Result`), it is the
/// caller's `ERROR`; returned by a subscribe or publish handler, it refuses
/// the subscription or publication with that `ERROR`; an extractor that
/// cannot fill its argument answers with one.
///
/// Any `std::error::Error` converts into it with `?`; such unexpected errors
/// become `wamp.error.runtime_error` without their text, which is logged
/// instead, so no internal detail leaks to clients.
///
/// ```
/// use serverwamp::WampError;
///
/// let err = WampError::new("demo.error.bad_input")
///     .kwarg("errorCode", "BAD_INPUT");
/// assert_eq!(err.uri, "demo.error.bad_input");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WampError {
    /// The error URI, e.g. `wamp.error.invalid_argument`.
    pub uri: String,
    /// Positional error arguments.
    pub args: List,
    /// Keyword error arguments.
    pub kwargs: Dict,
}

impl WampError {
    /// An error with this URI and no arguments.
    pub fn new(uri: impl Into<String>) -> Self {
        WampError {
            uri: uri.into(),
            args: List::new(),
            kwargs: Dict::new(),
        }
    }

    /// `wamp.error.invalid_argument` with a message saying what was wrong.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        WampError::new(error::INVALID_ARGUMENT).arg(message.into())
    }

    /// `wamp.error.no_such_procedure` for a call to `procedure`.
    pub(crate) fn no_such_procedure(procedure: &str) -> Self {
        WampError::new(error::NO_SUCH_PROCEDURE)
            .arg(format!("no procedure is registered for {procedure:?}"))
    }

    /// `wamp.error.runtime_error`, saying nothing about the cause.
    pub fn runtime_error() -> Self {
        WampError::new(error::RUNTIME_ERROR)
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

impl WampError {
    /// The ERROR answering request `request` of type `request_type`.
    pub(crate) fn to_message(&self, request_type: MessageType, request: Id) -> Message {
        let payload = Payload::new(self.args.clone(), self.kwargs.clone());
        Message::error(request_type, request, self.uri.clone(), payload)
    }

    /// The ERROR answering CALL `request`.
    pub(crate) fn to_call_error(&self, request: Id) -> Message {
        self.to_message(MessageType::Call, request)
    }
}

impl fmt::Display for WampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)?;
        if let Some(first) = self.args.first() {
            write!(f, ": {first}")?;
        }
        Ok(())
    }
}

impl<E: std::error::Error> From<E> for WampError {
    fn from(err: E) -> Self {
        tracing::warn!(error = %err, "procedure failed; answering wamp.error.runtime_error");
        WampError::runtime_error()
    }
}
