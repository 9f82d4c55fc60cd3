//! The calls a session is running: each one a task that can be canceled,
//! timed out, or dropped with the session.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use serverwamp_protocol::Id;
use serverwamp_protocol::message::CancelMode;
use serverwamp_protocol::well_known::error;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::WampError;
use crate::dealer::CalleeCall;
use crate::handler::HandlerFuture;
use crate::outbound::Outbound;
use crate::rpc::{CallOutcome, CallState, ProgressiveItem, RpcResult};

/// A call's task: its handler run to its answer.
pub(crate) type CallTask = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// A call to a local route, its handler made (arguments extracted) but not
/// yet polled: what [`Calls::start_local`] runs.
pub(crate) struct LocalCall {
    /// The handler's future.
    pub(crate) handler: HandlerFuture<CallOutcome>,
    /// The CALL's request ID.
    pub(crate) request: Id,
    /// The call's shared state, when it had to be made before the handler
    /// (its progress reports check it); otherwise made only if the call
    /// outlives its first poll.
    pub(crate) state: Option<Arc<CallState>>,
    /// Whether the caller asked for progressive results.
    pub(crate) receive_progress: bool,
    /// The call's timeout, if it asked for one.
    pub(crate) timeout: Option<Duration>,
    /// The call's span.
    pub(crate) span: tracing::Span,
}

/// The calls in flight on one session.
#[derive(Default)]
pub(crate) struct Calls {
    /// Dropping the set aborts every task: a session's handlers end with it.
    tasks: JoinSet<Id>,
    /// Each running call.
    running: HashMap<Id, Running>,
}

/// A running call: its shared state, its task, and for a call sent to a
/// client callee, the handle on its invocation.
struct Running {
    state: Arc<CallState>,
    task: tokio::task::Id,
    callee: Option<CalleeCall>,
}

impl Calls {
    pub(crate) fn is_running(&self, request: Id) -> bool {
        self.running.contains_key(&request)
    }

    /// The invocation of a running call sent to a client callee.
    pub(crate) fn callee_call(&self, request: Id) -> Option<&CalleeCall> {
        self.running.get(&request)?.callee.as_ref()
    }

    /// How many calls are running (those answered at their first poll never
    /// count).
    pub(crate) fn running(&self) -> usize {
        self.running.len()
    }

    /// Starts a call. A handler that finishes at its first poll (most do)
    /// is answered right here, without spawning a task. That first poll
    /// uses a waker that does nothing: a call still pending after it is
    /// spawned, and its task's first poll registers the task's own waker
    /// (a future must wake the waker of its latest poll), so nothing is
    /// lost and the connection's task is never woken for a call's sake.
    pub(crate) fn start(
        &mut self,
        request: Id,
        state: Arc<CallState>,
        callee: Option<CalleeCall>,
        mut work: CallTask,
    ) {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if work.as_mut().poll(&mut cx).is_ready() {
            return;
        }
        self.spawn(request, state, callee, work);
    }

    /// Starts a call to a local route. Its handler is polled once, bare
    /// (the same no-op waker as in [`Calls::start`]): one that answers
    /// there (most do) has its answer queued right here, with no task, no
    /// shared state and no stop signal made for it; no CANCEL can have
    /// come for a call the connection has not yet seen through. Any other
    /// goes on in [`run_call`], like every call of [`Calls::start`].
    pub(crate) fn start_local(&mut self, call: LocalCall, outbound: &Outbound) {
        let LocalCall {
            mut handler,
            request,
            state,
            receive_progress,
            timeout,
            span,
        } = call;
        // A recorded span (rare: the call spans are at debug) is entered on
        // every poll, the first one too: [`Calls::start`] makes that one.
        let mut polled = false;
        if span.is_disabled() {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match handler.as_mut().poll(&mut cx) {
                Poll::Ready(CallOutcome::Done(outcome)) => {
                    if let Some(bytes) = final_answer(outcome, request, outbound) {
                        self.queue_answer(request, bytes, outbound);
                    }
                    return;
                }
                // A stream may have its items ready: `start` polls it.
                Poll::Ready(outcome) => handler = Box::pin(std::future::ready(outcome)),
                // Just polled: the task goes on from here.
                Poll::Pending => polled = true,
            }
        }
        let state = state.unwrap_or_default();
        let work = run_call(
            handler,
            request,
            state.clone(),
            outbound.clone(),
            receive_progress,
            timeout,
        );
        let task: CallTask = if span.is_disabled() {
            Box::pin(work)
        } else {
            Box::pin(work.instrument(span))
        };
        if polled {
            self.spawn(request, state, None, task);
        } else {
            self.start(request, state, None, task);
        }
    }

    /// Queues a call's final answer; when the queue is full, the answer
    /// waits for room in a task of its own, as a call's task would.
    fn queue_answer(&mut self, request: Id, answer: bytes::Bytes, outbound: &Outbound) {
        let Err(answer) = outbound.try_queue(answer) else {
            return;
        };
        let state = Arc::new(CallState::default());
        // Answered already: a CANCEL that comes while it waits does nothing.
        state.claim_answer();
        let outbound = outbound.clone();
        let send = async move {
            outbound.send_encoded(answer).await;
        };
        self.spawn(request, state, None, Box::pin(send));
    }

    /// Spawns a started call's task and keeps track of it.
    fn spawn(
        &mut self,
        request: Id,
        state: Arc<CallState>,
        callee: Option<CalleeCall>,
        work: CallTask,
    ) {
        let task = self.tasks.spawn(work.map(move |()| request));
        self.running.insert(
            request,
            Running {
                state,
                task: task.id(),
                callee,
            },
        );
    }

    /// Waits for the next call task to finish and forgets it. Pending
    /// forever while no call runs.
    pub(crate) async fn next_finished(&mut self) {
        // Polling the set takes its lock: not while it is empty (most of
        // the time, as most calls answer without a task).
        if self.tasks.is_empty() {
            return std::future::pending().await;
        }
        match self.tasks.join_next().await {
            Some(Ok(request)) => {
                self.running.remove(&request);
            }
            // A task only fails by panicking outside the handler's own
            // panic guard; forget exactly that call.
            Some(Err(e)) => self.running.retain(|_, running| running.task != e.id()),
            None => std::future::pending().await,
        }
    }

    /// Cancels a call (spec, "Call Canceling"). An unknown request is
    /// ignored: the call has already been answered.
    pub(crate) async fn cancel(&mut self, request: Id, mode: CancelMode, outbound: &Outbound) {
        let Some(Running { state, callee, .. }) = self.running.get(&request) else {
            return;
        };
        match mode {
            // The handler runs on unseen; the caller is answered now.
            CancelMode::Skip => {
                if state.claim_answer() {
                    crate::observe::call_error(error::CANCELED);
                    outbound
                        .send_message(&WampError::new(error::CANCELED).to_call_error(request))
                        .await;
                }
            }
            // Spec, "Call Canceling": a client callee is sent INTERRUPT
            // and its answer ends the call. One that does not understand
            // INTERRUPT is skipped: the task answers now, without it.
            // The task drops the handler, then answers itself.
            CancelMode::Kill => {
                let interrupted = callee.as_ref().is_some_and(CalleeCall::interrupt);
                if !interrupted {
                    state.stop.notify_one();
                }
            }
            // The caller is answered now and the handler dropped.
            CancelMode::KillNoWait => {
                if state.claim_answer() {
                    crate::observe::call_error(error::CANCELED);
                    outbound
                        .send_message(&WampError::new(error::CANCELED).to_call_error(request))
                        .await;
                }
                state.stop.notify_one();
            }
        }
    }
}

/// One call's task: runs the handler (guarded against panics by its boxed
/// handler, bounded by the timeout, stoppable by CANCEL) and sends its final
/// answer unless a CANCEL answered first.
///
/// Every call allocates this future: it is kept well under a kilobyte (the
/// rare timeout and progressive paths are boxed), which the allocator
/// serves from its fast per-thread cache.
pub(crate) async fn run_call(
    handler: HandlerFuture<CallOutcome>,
    request: Id,
    state: Arc<CallState>,
    outbound: Outbound,
    receive_progress: bool,
    timeout: Option<Duration>,
) {
    let work = settle(handler, request, &state, &outbound, receive_progress);
    let outcome = match timeout {
        None => work.await,
        Some(limit) => Box::pin(tokio::time::timeout(limit, work))
            .await
            .unwrap_or_else(|_| Err(WampError::new(error::TIMEOUT))),
    };
    if !state.claim_answer() {
        return;
    }
    if let Some(bytes) = final_answer(outcome, request, &outbound) {
        outbound.send_encoded(bytes).await;
    }
}

/// A call's final message, encoded: its RESULT or ERROR, `runtime_error`
/// for a result that cannot be encoded, `payload_size_exceeded` for one
/// longer than the client accepts (spec, "URI Reference": the caller
/// never waits). A function of its own so that the message is gone before
/// the task waits for room in the queue.
fn final_answer(
    outcome: Result<RpcResult, WampError>,
    request: Id,
    outbound: &Outbound,
) -> Option<bytes::Bytes> {
    let message = match outcome {
        Ok(result) => result.into_message(request, false),
        Err(err) => {
            crate::observe::call_error(&err.uri);
            err.to_call_error(request)
        }
    };
    let bytes = match outbound.encode(&message) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(%request, error = %e, "a procedure's result cannot be encoded");
            outbound
                .encode(&WampError::runtime_error().to_call_error(request))
                .ok()?
        }
    };
    if !outbound.too_long(&bytes) {
        return Some(bytes);
    }
    let err = WampError::new(error::PAYLOAD_SIZE_EXCEEDED).arg(format!(
        "the result is {} bytes, more than the client accepts",
        bytes.len()
    ));
    outbound.encode(&err.to_call_error(request)).ok()
}

/// The handler's final answer: its result, its error, or `canceled` once
/// a CANCEL (kill) stops it.
async fn settle(
    handler: HandlerFuture<CallOutcome>,
    request: Id,
    state: &CallState,
    outbound: &Outbound,
    receive_progress: bool,
) -> Result<RpcResult, WampError> {
    let work = async {
        match handler.await {
            CallOutcome::Done(result) => result,
            CallOutcome::Progressive(stream) => {
                Box::pin(drive_progressive(
                    stream,
                    request,
                    state,
                    outbound,
                    receive_progress,
                ))
                .await
            }
        }
    };
    // The handler first: a CANCEL that meets a handler answering at the
    // same time loses to it, and the caller gets the answer, as if the
    // CANCEL came later. (A CANCEL before this waits leaves a permit,
    // which the signal's first poll takes.)
    tokio::select! {
        biased;
        outcome = work => outcome,
        () = state.stop.notified() => Err(WampError::new(error::CANCELED)),
    }
}

/// Sends progress reports (to callers that asked) until the final item.
async fn drive_progressive(
    mut stream: crate::rpc::ItemStream,
    request: Id,
    state: &CallState,
    outbound: &Outbound,
    receive_progress: bool,
) -> Result<RpcResult, WampError> {
    loop {
        let next = AssertUnwindSafe(stream.next()).catch_unwind().await;
        match next {
            Ok(Some(ProgressiveItem::Progress(report))) => {
                if receive_progress && !state.is_answered() {
                    outbound
                        .send_message(&report.into_message(request, true))
                        .await;
                }
            }
            Ok(Some(ProgressiveItem::Result(result))) => return Ok(result),
            Ok(Some(ProgressiveItem::Error(err))) => return Err(err),
            Ok(None) => return Ok(RpcResult::new()),
            Err(_) => {
                tracing::error!(%request, "a progressive procedure panicked");
                return Err(WampError::runtime_error());
            }
        }
    }
}
