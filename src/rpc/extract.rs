//! Handler arguments the library fills in: the caller's arguments, the
//! session, the call's details, application state and a progress sender.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serverwamp_protocol::message::{CallOptions, Message, Payload, ResultDetails, ResultMessage};
use serverwamp_protocol::value::from_value;
use serverwamp_protocol::{Dict, Id, List, Value};

use super::params::ParamsDeserializer;
use super::result::{CallOutcome, IntoCallResult, RpcError, RpcResult, value_of};
use crate::outbound::Outbound;
use crate::session::Session;

/// Everything known about one call, from which handler arguments are
/// extracted.
pub struct CallContext {
    pub(crate) session: Session,
    pub(crate) request: Request,
    /// Always a `Value::List`.
    pub(crate) args: Value,
    /// Always a `Value::Dict`.
    pub(crate) kwargs: Value,
    pub(crate) state: Arc<StateMap>,
    pub(crate) progress: Progress,
    pub(crate) snake_case_kwargs: bool,
    /// Set by the handler: its only reader of the positional arguments may
    /// take them.
    pub(crate) sole_args_reader: bool,
    /// Set by the handler: its only reader of the keyword arguments may
    /// take them.
    pub(crate) sole_kwargs_reader: bool,
}

impl CallContext {
    /// The session that made the call.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The call's details.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The positional arguments.
    pub fn args(&self) -> &[Value] {
        self.args.as_list().map_or(&[], Vec::as_slice)
    }

    /// The keyword arguments.
    pub fn kwargs(&self) -> &Dict {
        static EMPTY: std::sync::LazyLock<Dict> = std::sync::LazyLock::new(Dict::new);
        self.kwargs.as_dict().unwrap_or(&EMPTY)
    }
}

/// Fills a handler argument from the call.
///
/// Implemented by [`Params`], [`Args`], [`Kwargs`], [`Session`], [`Request`],
/// [`State`] and [`Progress`]; a handler may take any of them in any order.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a WAMP procedure argument",
    label = "not an extractor",
    note = "procedure arguments must be extractors: `Params<T>`, `Args<T>`, `Kwargs<T>`, \
            `Session`, `Request`, `State<T>` or `Progress`"
)]
pub trait FromCall: Sized {
    /// Which of the caller's arguments this extractor reads. A handler none
    /// of whose arguments read any takes no arguments: a call that passes
    /// some is answered `wamp.error.invalid_argument`. An extractor that is
    /// a handler's only reader of the positional (or keyword) arguments may
    /// take them instead of copying them.
    const READS: ArgumentUse = ArgumentUse::NONE;

    /// Extracts the argument, or answers the caller with an error.
    ///
    /// # Errors
    /// The [`RpcError`] sent to the caller, typically
    /// `wamp.error.invalid_argument` saying which argument and why.
    fn from_call(call: &mut CallContext) -> Result<Self, RpcError>;
}

/// Which of the caller's arguments an extractor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgumentUse {
    /// It reads the positional arguments.
    pub args: bool,
    /// It reads the keyword arguments.
    pub kwargs: bool,
}

impl ArgumentUse {
    /// Reads neither.
    pub const NONE: ArgumentUse = ArgumentUse {
        args: false,
        kwargs: false,
    };
    /// Reads both.
    pub const BOTH: ArgumentUse = ArgumentUse {
        args: true,
        kwargs: true,
    };
}

/// Takes `value` as a `T` without copying when `T` is the value's own type
/// (`Vec<Value>` for the positional arguments, `Dict` for the keyword
/// ones); `Err` gives the value back otherwise.
fn take_as<T: 'static, V: 'static>(value: V) -> Result<T, V> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<V>() {
        return Err(value);
    }
    let boxed: Box<dyn std::any::Any> = Box::new(value);
    match boxed.downcast::<T>() {
        Ok(taken) => Ok(*taken),
        Err(_) => unreachable!("the type IDs are equal"),
    }
}

/// The caller's arguments bound onto `T` like a function signature:
/// positional arguments fill fields in declaration order, keyword arguments
/// fill fields by name, and both may be mixed.
///
/// Missing, surplus, duplicated, unknown or wrongly typed arguments answer
/// `wamp.error.invalid_argument` with a message naming the argument.
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

impl<T: DeserializeOwned> FromCall for Params<T> {
    const READS: ArgumentUse = ArgumentUse::BOTH;

    fn from_call(call: &mut CallContext) -> Result<Self, RpcError> {
        let de = ParamsDeserializer {
            args: &call.args,
            kwargs: call.kwargs(),
            snake_case: call.snake_case_kwargs,
        };
        T::deserialize(de)
            .map(Params)
            .map_err(|e| RpcError::invalid_argument(e.0))
    }
}

/// The positional arguments, as any type a list can fill (`Vec<Value>`,
/// a tuple, `Vec<f64>`, …). As a return value, `Args(x)` sends `x`
/// (which must serialize to a sequence) as positional arguments.
#[derive(Debug, Clone)]
pub struct Args<T>(pub T);

impl<T: DeserializeOwned + 'static> FromCall for Args<T> {
    const READS: ArgumentUse = ArgumentUse {
        args: true,
        kwargs: false,
    };

    fn from_call(call: &mut CallContext) -> Result<Self, RpcError> {
        if call.sole_args_reader && matches!(call.args, Value::List(_)) {
            let Value::List(list) = std::mem::take(&mut call.args) else {
                unreachable!("checked above")
            };
            match take_as::<T, Vec<Value>>(list) {
                Ok(taken) => return Ok(Args(taken)),
                Err(list) => call.args = Value::List(list),
            }
        }
        from_value(&call.args)
            .map(Args)
            .map_err(|e| RpcError::invalid_argument(format!("positional arguments: {e}")))
    }
}

/// The keyword arguments, as any type a dict can fill (`Dict`, a struct,
/// `HashMap<String, T>`). As a return value, `Kwargs(x)` sends `x` (which
/// must serialize to a map or struct) as keyword arguments.
#[derive(Debug, Clone)]
pub struct Kwargs<T>(pub T);

impl<T: DeserializeOwned + 'static> FromCall for Kwargs<T> {
    const READS: ArgumentUse = ArgumentUse {
        args: false,
        kwargs: true,
    };

    fn from_call(call: &mut CallContext) -> Result<Self, RpcError> {
        if call.sole_kwargs_reader && matches!(call.kwargs, Value::Dict(_)) {
            let Value::Dict(dict) = std::mem::take(&mut call.kwargs) else {
                unreachable!("checked above")
            };
            match take_as::<T, Dict>(dict) {
                Ok(taken) => return Ok(Kwargs(taken)),
                Err(dict) => call.kwargs = Value::Dict(dict),
            }
        }
        from_value(&call.kwargs)
            .map(Kwargs)
            .map_err(|e| RpcError::invalid_argument(format!("keyword arguments: {e}")))
    }
}

impl<T: Serialize> IntoCallResult for Args<T> {
    fn into_call_result(self) -> CallOutcome {
        CallOutcome::Done(value_of(&self.0).map(|v| match v {
            Value::List(args) => RpcResult {
                args,
                kwargs: Dict::new(),
            },
            other => RpcResult {
                args: vec![other],
                kwargs: Dict::new(),
            },
        }))
    }
}

impl<T: Serialize> IntoCallResult for Kwargs<T> {
    fn into_call_result(self) -> CallOutcome {
        CallOutcome::Done(value_of(&self.0).and_then(|v| match v {
            Value::Dict(kwargs) => Ok(RpcResult {
                args: List::new(),
                kwargs,
            }),
            other => {
                tracing::warn!(
                    kind = other.kind(),
                    "Kwargs(..) returned a value that is not a map"
                );
                Err(RpcError::runtime_error())
            }
        }))
    }
}

impl FromCall for Session {
    fn from_call(call: &mut CallContext) -> Result<Self, RpcError> {
        Ok(call.session.clone())
    }
}

/// The details of one call: its request ID, procedure and options.
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) id: Id,
    pub(crate) procedure: String,
    pub(crate) options: CallOptions,
}

impl Request {
    /// The CALL's request ID.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The procedure called (the concrete URI, also for pattern routes).
    pub fn procedure(&self) -> &str {
        &self.procedure
    }

    /// Whether the caller accepts progressive results.
    pub fn receive_progress(&self) -> bool {
        self.options.receive_progress == Some(true)
    }

    /// Whether the caller asked to be disclosed.
    pub fn disclose_me(&self) -> bool {
        self.options.disclose_me == Some(true)
    }

    /// The call timeout the caller asked for, if any.
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.options
            .timeout
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis)
    }

    /// All of the CALL's options, including unknown keys.
    pub fn options(&self) -> &CallOptions {
        &self.options
    }
}

impl FromCall for Request {
    fn from_call(call: &mut CallContext) -> Result<Self, RpcError> {
        Ok(call.request.clone())
    }
}

/// Application-wide values registered with
/// [`Application::set_state`](crate::Application::set_state) (the Python serverwamp library's
/// `set_default_arg`).
#[derive(Debug, Clone)]
pub struct State<T>(pub T);

/// Values by type.
#[derive(Default, Clone)]
pub(crate) struct StateMap(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl StateMap {
    pub(crate) fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }

    pub(crate) fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.0.get(&TypeId::of::<T>())?.downcast_ref()
    }
}

impl<T: Any + Send + Sync + Clone> FromCall for State<T> {
    fn from_call(call: &mut CallContext) -> Result<Self, RpcError> {
        match call.state.get::<T>() {
            Some(value) => Ok(State(value.clone())),
            None => {
                tracing::error!(
                    state = std::any::type_name::<T>(),
                    "a handler asks for State<T> that was never set with Application::set_state"
                );
                Err(RpcError::runtime_error())
            }
        }
    }
}

/// Sends progressive results to the caller while the handler runs.
///
/// Reports reach only callers that asked for progress
/// (`receive_progress: true`); for others, and once the call has been
/// answered or canceled, [`Progress::send`] does nothing.
#[derive(Clone)]
pub struct Progress {
    inner: Option<Arc<ProgressTarget>>,
}

pub(crate) struct ProgressTarget {
    pub(crate) request: Id,
    pub(crate) outbound: Outbound,
    pub(crate) answered: Arc<crate::session::CallState>,
}

impl Progress {
    pub(crate) fn new(target: Option<ProgressTarget>) -> Self {
        Progress {
            inner: target.map(Arc::new),
        }
    }

    /// Whether the caller wants progress reports.
    pub fn is_wanted(&self) -> bool {
        self.inner.is_some()
    }

    /// Sends one progress report (a RESULT with `progress: true`).
    pub async fn send(&self, report: RpcResult) {
        let Some(target) = &self.inner else { return };
        if target.answered.is_answered() {
            return;
        }
        let message = Message::Result(ResultMessage {
            request: target.request,
            details: ResultDetails {
                progress: Some(true),
                ..ResultDetails::default()
            },
            payload: Payload::new(report.args, report.kwargs),
        });
        target.outbound.send_message(&message).await;
    }
}

impl FromCall for Progress {
    fn from_call(call: &mut CallContext) -> Result<Self, RpcError> {
        Ok(call.progress.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_as_moves_only_the_same_type() {
        let list = vec![Value::from("x")];
        let taken: Result<Vec<Value>, _> = take_as(list.clone());
        assert_eq!(taken, Ok(list.clone()));
        let refused: Result<Vec<String>, _> = take_as(list.clone());
        assert_eq!(refused, Err(list));
    }
}
