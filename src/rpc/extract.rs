//! What a procedure handler gets to look at: the call's context, the kind
//! of handler procedures are, and the extractors only calls have
//! ([`Request`], [`Progress`]).

use std::sync::Arc;

use serde::Serialize;
use serverwamp_protocol::message::CallOptions;
use serverwamp_protocol::{Dict, Id, List, Value};

use super::result::{CallOutcome, IntoCallResult, RpcResult, value_of};
use crate::handler::{
    Args, ArgumentReaders, Arguments, FromContext, HandlerKind, Kwargs, StateMap, WampError,
    argument_extractors, common_extractors,
};
use crate::outbound::Outbound;
use crate::session::Session;

/// The kind of handler that answers calls (see [`crate::handler`]).
#[derive(Debug)]
pub enum OnCall {}

impl HandlerKind for OnCall {
    type Context = CallContext;
    type Outcome = CallOutcome;

    fn rejected(error: WampError) -> CallOutcome {
        CallOutcome::Done(Err(error))
    }

    /// A procedure none of whose arguments read the caller's arguments
    /// takes none: a call that passes some is answered
    /// `wamp.error.invalid_argument`.
    fn prepare(context: &mut CallContext, readers: ArgumentReaders) -> Result<(), WampError> {
        if readers.any == crate::handler::ArgumentUse::NONE && !context.arguments.is_empty() {
            return Err(WampError::invalid_argument(
                "this procedure takes no arguments",
            ));
        }
        context.arguments.sole_args_reader = readers.sole_args;
        context.arguments.sole_kwargs_reader = readers.sole_kwargs;
        Ok(())
    }
}

/// Everything known about one call, from which handler arguments are
/// extracted.
pub struct CallContext {
    pub(crate) session: Session,
    pub(crate) request: Request,
    pub(crate) arguments: Arguments,
    pub(crate) state: Arc<StateMap>,
    pub(crate) progress: Progress,
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
        self.arguments.args()
    }

    /// The keyword arguments.
    pub fn kwargs(&self) -> &Dict {
        self.arguments.kwargs()
    }
}

common_extractors!(CallContext);
argument_extractors!(CallContext);

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
                Err(WampError::runtime_error())
            }
        }))
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

impl FromContext<CallContext> for Request {
    fn from_context(context: &mut CallContext) -> Result<Self, WampError> {
        Ok(context.request.clone())
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
    pub(crate) answered: Arc<CallState>,
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
        let message = report.into_message(target.request, true);
        target.outbound.send_message(&message).await;
    }
}

impl FromContext<CallContext> for Progress {
    fn from_context(context: &mut CallContext) -> Result<Self, WampError> {
        Ok(context.progress.clone())
    }
}

/// What a running call shares with the session: who answered first, and
/// the signal to stop.
#[derive(Default)]
pub(crate) struct CallState {
    /// Set by whoever sends the call's final message: the call's task or a
    /// CANCEL. The loser stays silent, so a caller never gets two answers.
    answered: std::sync::atomic::AtomicBool,
    /// Wakes the task to drop its handler (CANCEL kill/killnowait).
    pub(crate) stop: tokio::sync::Notify,
}

impl CallState {
    /// Claims the right to send the final answer.
    pub(crate) fn claim_answer(&self) -> bool {
        !self
            .answered
            .swap(true, std::sync::atomic::Ordering::AcqRel)
    }

    pub(crate) fn is_answered(&self) -> bool {
        self.answered.load(std::sync::atomic::Ordering::Acquire)
    }
}
