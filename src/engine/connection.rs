//! One connection's life: frames in, the session state machine, frames out.
//!
//! States (spec, "Sessions"): no session → HELLO → open → GOODBYE (either
//! side) → no session again, so a client may say HELLO anew on the same
//! connection. ABORT, a protocol violation or the transport closing end the
//! connection.

mod auth;
mod callee;
mod meta;
mod pubsub;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serverwamp_protocol::message::{Call, Cancel, Message, MessageType, Payload};
use serverwamp_protocol::well_known::{close, error};
use serverwamp_protocol::{Codec, Dict, Id, ProtocolViolation, Value};
use tokio::time::Instant;
use tracing::Instrument;

use super::Engine;
use super::calls::{Calls, LocalCall, run_call};
use super::cluster;
use crate::WampError;
use crate::broker::Broker;
use crate::engine::Counters;
use crate::handler::{Arguments, BoxedHandler};
use crate::lifecycle::SessionContext;
use crate::link::{FrameReader, FrameWriter, TransportInfo};
use crate::outbound::{Outbound, run_writer};
use crate::pubsub::{Teardown, Topic};
use crate::realm::{AppConfig, Limits, RealmView};
use crate::rpc::{CallContext, CallOutcome, CallState, OnCall, Progress, ProgressTarget, Request};
use crate::session::{Control, ControlSlot, Session};

/// How many frames already received a connection handles one after the
/// other before it looks at its timers, its session's controls and its
/// finished calls again.
const READ_AHEAD: usize = 32;

/// How many bytes of answers may wait in the queue before the connection
/// lets the writer (in the same task) write them out.
const WRITE_SOON_BYTES: usize = 8 * 1024;

/// How long a session closed by the server waits for the client's GOODBYE.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(5);

/// The name this implementation gives itself in WELCOME.
pub(super) const AGENT: &str = concat!("serverwamp-rs/", env!("CARGO_PKG_VERSION"));

/// Serves WAMP on one established connection until either side closes it.
///
/// Not an `async fn`: everything is set up before the returned future is
/// made, so that future holds only the session and the writer (in an
/// `async fn`, the locals moved into them would keep slots of their own
/// in every idle connection's task).
pub(super) fn run<R: FrameReader, W: FrameWriter>(
    engine: Engine,
    info: TransportInfo,
    codec: Codec,
    mut reader: R,
    writer: W,
) -> impl Future<Output = ()> + Send + 'static {
    let (outbound, queue) = Outbound::channel(
        codec,
        writer.max_message_len(),
        engine.config.outbound_bytes,
    );
    // The writer drains the session's one outbound queue. It runs in this
    // same task, beside the session, rather than in a task of its own: a
    // result queued here is written without waking another thread, which
    // measured as most of the per-call cost of a separate writer task.
    let writer = run_writer(queue, writer, codec.is_batched());
    let mut conn = Connection {
        config: engine.config.clone(),
        engine,
        transport: Arc::new(info),
        codec,
        outbound,
        phase: Phase::NoSession,
        calls: Calls::default(),
        hello_deadline: None,
        frames: 0,
        idle: None,
        call_counter: crate::observe::CallCounter::default(),
    };
    conn.await_hello();
    // One span per connection: its sessions record their realm, ID and
    // authid in it once known (`on_hello`, `open_session`), and every
    // call's span is its child.
    let span = tracing::info_span!(
        "session",
        realm = tracing::field::Empty,
        session = tracing::field::Empty,
        authid = tracing::field::Empty,
    );
    let session = async move {
        conn.serve(&mut reader).await;
        Box::pin(conn.end_session()).await;
        conn.outbound.close();
    }
    .instrument(span);
    futures_util::future::join(session, writer).map(|((), ())| ())
}

/// Whether to keep reading.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

enum Phase {
    /// Waiting for HELLO.
    NoSession,
    /// HELLO received; the realm's authentication runs.
    Authenticating(Box<auth::PendingAuth>),
    /// A session is open.
    Open(OpenSession),
    /// We sent GOODBYE and wait for the client's.
    Closing(OpenSession, Instant),
}

struct OpenSession {
    session: Session,
    /// The session's realm, resolved at HELLO.
    realm: RealmView,
    control: Arc<ControlSlot>,
    broker: Arc<Broker<Session>>,
    /// The realm's client registrations, if its clients may register.
    dealer: Option<Arc<crate::dealer::Dealer>>,
    /// The dealer features the client announced.
    features: crate::dealer::PeerFeatures,
    /// The last progressive-invocation calls that ended: a late chunk of
    /// one is discarded (spec, "Continuations on Completed Calls").
    progressive_done: std::collections::VecDeque<Id>,
    /// How many registrations the session holds.
    registrations: usize,
    /// The session's subscriptions, with what runs when each ends.
    subscriptions: HashMap<Id, (Topic, Option<Teardown>)>,
    /// Authorization decisions cached for this session.
    authorized: auth::Decisions,
    /// What the session asked to be published when it ends (meta API).
    testaments: Vec<meta::Testament>,
}

struct Connection {
    engine: Engine,
    /// The configuration this connection's sessions use.
    config: Arc<AppConfig>,
    transport: Arc<TransportInfo>,
    codec: Codec,
    outbound: Outbound,
    phase: Phase,
    calls: Calls,
    /// When a connection without a session must have said HELLO.
    hello_deadline: Option<Instant>,
    /// Frames received so far: the activity the idle deadline watches.
    frames: u64,
    /// The idle deadline of the open session, and the frame count when it
    /// was set.
    idle: Option<(Instant, u64)>,
    /// Counts this connection's CALLs for the metrics recorder.
    call_counter: crate::observe::CallCounter,
}

impl Connection {
    /// Starts the wait for a HELLO: on a new connection, and after a
    /// session ended.
    fn await_hello(&mut self) {
        self.hello_deadline = Some(Instant::now() + self.config.limits.hello_timeout);
    }

    /// Arms the idle deadline of a session that just opened, if there is
    /// one.
    fn arm_idle(&mut self) {
        self.idle = self
            .config
            .limits
            .idle_timeout
            .map(|idle| (Instant::now() + idle, self.frames));
    }

    async fn serve<R: FrameReader>(&mut self, reader: &mut R) {
        let mut keepalive = self.config.keepalive.map(|(interval, timeout)| {
            let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            Keepalive {
                ticks,
                timeout,
                heard: 0,
                heard_by: Instant::now(),
            }
        });
        loop {
            let deadline = match &self.phase {
                Phase::Closing(_, deadline) => Some(*deadline),
                Phase::Authenticating(auth) => Some(auth.deadline),
                Phase::NoSession => self.hello_deadline,
                Phase::Open(_) => self.idle.map(|(deadline, _)| deadline),
            };
            // In this order, so that a turn with a frame waiting polls
            // nothing else but the session's controls (a flag). The timers
            // come last: tokio's cooperative budget makes reading return
            // pending now and then, so a peer that never stops sending
            // still meets its deadlines.
            let flow = tokio::select! {
                biased;
                event = next_event(&mut self.phase) => match event {
                    PhaseEvent::Control(control) => self.control(control),
                    PhaseEvent::Authenticated(outcome) => {
                        let handling = Box::pin(self.on_authenticated(*outcome));
                        handling.await
                    }
                },
                frame = reader.next_frame() => match frame {
                    Some(Ok(frame)) => self.on_frames(frame, reader).await,
                    other => reading_ended(other),
                },
                () = self.calls.next_finished() => Flow::Continue,
                () = sleep_until(deadline) => {
                    let handling = Box::pin(self.on_deadline());
                    handling.await
                }
                () = next_keepalive(&mut keepalive) => self.on_keepalive(reader, &mut keepalive),
            };
            if flow == Flow::Stop {
                return;
            }
        }
    }

    /// A frame from the peer, then those already received behind it (up
    /// to [`READ_AHEAD`]), without going back to wait on everything else:
    /// pipelined calls cost one wait, not one each.
    async fn on_frames<R: FrameReader>(&mut self, frame: bytes::Bytes, reader: &mut R) -> Flow {
        let mut flow = self.on_frame(&frame).await;
        drop(frame);
        for _ in 0..READ_AHEAD {
            if flow == Flow::Stop {
                break;
            }
            if self.outbound.queued_bytes() >= WRITE_SOON_BYTES {
                let_writer_run().await;
            }
            // Reading is cancel-safe (it is also raced in `serve`).
            flow = match reader.next_frame().now_or_never() {
                Some(Some(Ok(frame))) => self.on_frame(&frame).await,
                Some(other) => reading_ended(other),
                None => break,
            };
        }
        flow
    }

    /// A frame from the peer. The common case, a CALL that can start at
    /// once, is handled without awaiting anything, so without a future of
    /// its own; everything else goes through [`Connection::on_message`],
    /// boxed so that the connection's own future stays small.
    async fn on_frame(&mut self, frame: &[u8]) -> Flow {
        self.frames += 1;
        // Each boxed future is bound before it is awaited: a temporary
        // would live to the end of the statement, across the await, and
        // take its full size in the connection's future.
        let handling: Pin<Box<dyn Future<Output = Flow> + Send + '_>> = if self.codec.is_batched() {
            Box::pin(self.on_batch(frame))
        } else {
            let decoded = self.codec.serialization().decode(frame, &self.config.rules);
            match decoded {
                Ok(message) => match self.try_message_now(message) {
                    None => return Flow::Continue,
                    Some(message) => Box::pin(self.on_message(message)),
                },
                Err(e) => Box::pin(self.on_undecodable(e)),
            }
        };
        handling.await
    }

    /// A frame of a batched codec: each record is answered on its own, so
    /// one with an incorrect URI gets its ERROR and the records after it
    /// still run.
    async fn on_batch(&mut self, frame: &[u8]) -> Flow {
        let mut records = Vec::new();
        self.codec
            .decode_records(frame, &self.config.rules, &mut records);
        // A batched JSON peer's record separator is learnt from its frames;
        // everything sent from here on uses the same one.
        if self.outbound.codec() != self.codec {
            self.outbound.set_codec(self.codec);
        }
        for record in records {
            let flow = match record {
                Ok(message) => match self.try_message_now(message) {
                    None => Flow::Continue,
                    Some(message) => self.on_message(message).await,
                },
                Err(e) => self.on_undecodable(e).await,
            };
            if flow == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Handles a message that needs no waiting (see
    /// [`Connection::try_call_now`]) and returns `None`; hands any other
    /// back.
    fn try_message_now(&mut self, message: Message) -> Option<Message> {
        match message {
            Message::Call(call) => self.try_call_now(call).map(Message::Call),
            other => Some(other),
        }
    }

    /// A frame that did not make a valid message. Spec, "URI Reference": a
    /// request whose only fault is an incorrect URI is answered with ERROR
    /// `wamp.error.invalid_uri` and the session goes on; an incorrect realm
    /// aborts with that reason; anything else is a protocol violation.
    async fn on_undecodable(&mut self, e: serverwamp_protocol::DecodeError) -> Flow {
        let violation = e.violation();
        if let (Phase::Open(_), Some((request_type, request))) = (
            &self.phase,
            violation.and_then(ProtocolViolation::answerable_request),
        ) {
            let payload = Payload::from_args(vec![Value::Str(e.to_string())]);
            let message = Message::error(request_type, request, error::INVALID_URI, payload);
            self.outbound.send_message(&message).await;
            return Flow::Continue;
        }
        if let Some(
            v @ ProtocolViolation::InvalidUri {
                message: MessageType::Hello,
                ..
            },
        ) = violation
        {
            self.abort(error::INVALID_URI, v.to_string()).await;
            return Flow::Stop;
        }
        self.protocol_violation(&e.to_string()).await
    }

    async fn on_message(&mut self, message: Message) -> Flow {
        match &self.phase {
            Phase::NoSession => match message {
                Message::Hello(hello) => Box::pin(self.on_hello(hello)).await,
                Message::Abort(_) => Flow::Stop,
                other => {
                    let name = other.message_type();
                    self.protocol_violation(&format!("{name} received before HELLO"))
                        .await
                }
            },
            Phase::Authenticating(_) => self.on_authentication_message(message).await,
            Phase::Open(_) => self.on_session_message(message).await,
            // Spec, "Session Closing": after sending GOODBYE, a peer ignores
            // everything but the GOODBYE (or ABORT) that answers it.
            Phase::Closing(..) => match message {
                Message::Goodbye(_) | Message::Abort(_) => Flow::Stop,
                _ => Flow::Continue,
            },
        }
    }

    async fn on_session_message(&mut self, message: Message) -> Flow {
        match message {
            Message::Call(call) => Box::pin(self.on_call(call)).await,
            Message::Cancel(Cancel { request, options }) => {
                let mode = options.mode.unwrap_or_default();
                self.calls.cancel(request, mode, &self.outbound).await;
                Flow::Continue
            }
            Message::Goodbye(_) => {
                let reply = Message::goodbye(close::GOODBYE_AND_OUT, None);
                self.outbound.send_message(&reply).await;
                Box::pin(self.end_session()).await;
                Flow::Continue
            }
            Message::Abort(_) => Flow::Stop,
            Message::Register(m) => Box::pin(self.on_register(m)).await,
            Message::Unregister(m) => Box::pin(self.on_unregister(m)).await,
            Message::Yield(m) if self.is_callee_realm() => self.on_yield(m).await,
            Message::Error(m)
                if m.request_type == MessageType::Invocation && self.is_callee_realm() =>
            {
                self.on_invocation_error(m).await
            }
            Message::Subscribe(m) => Box::pin(self.on_subscribe(m)).await,
            Message::Unsubscribe(m) => Box::pin(self.on_unsubscribe(m)).await,
            Message::Publish(m) => Box::pin(self.on_publish(m)).await,
            // Acknowledged event delivery is never requested by this router.
            Message::EventReceived(_) => Flow::Continue,
            Message::Hello(_) => {
                self.protocol_violation("HELLO received while a session is open")
                    .await
            }
            Message::Authenticate(_) => {
                self.protocol_violation("AUTHENTICATE received without a pending CHALLENGE")
                    .await
            }
            Message::Yield(_) | Message::Error(_) => {
                let name = message.message_type();
                let text = format!("{name} received, but this realm never sends INVOCATION");
                self.protocol_violation(&text).await
            }
            other => {
                let name = other.message_type();
                self.protocol_violation(&format!("{name} is sent by routers, not clients"))
                    .await
            }
        }
    }

    /// A CALL that can start without waiting, started: in an open session
    /// of a realm without client callees, a local route, nothing to ask
    /// the authorizer (none, or its decision cached), room for one more
    /// call. Its handler runs to its first pending point right here (most
    /// answer there) and `None` is returned. Any other call is handed back
    /// for [`Connection::on_call`].
    fn try_call_now(&mut self, call: Call) -> Option<Call> {
        let Phase::Open(open) = &self.phase else {
            return Some(call);
        };
        let startable = open.dealer.is_none()
            && !self.calls.is_running(call.request)
            && self.calls.running() < self.config.limits.max_calls_in_flight
            && !(open.realm.meta_api() && call.procedure.starts_with("wamp."))
            && auth::known_decision(open, crate::auth::Action::Call, &call.procedure) == Some(true);
        let handler = match open.realm.procedure(&call.procedure) {
            Some(handler) if startable => handler,
            _ => return Some(call),
        };
        let Call {
            request,
            options,
            procedure,
            payload,
        } = call;
        let (args, kwargs) = match payload {
            Payload::Args { args, kwargs } => (args, kwargs),
            payload @ Payload::Transparent(_) => {
                return Some(Call {
                    request,
                    options,
                    procedure,
                    payload,
                });
            }
        };
        self.call_counter.call();
        let request_info = Request {
            id: request,
            procedure,
            options,
        };
        let call = local_call(
            open,
            handler,
            &self.config,
            &self.outbound,
            request_info,
            args,
            kwargs,
        );
        self.calls.start_local(call, &self.outbound);
        None
    }

    /// A CALL that [`Connection::try_call_now`] could not start at once:
    /// one to ask the authorizer about, one to refuse, the meta API's, a
    /// client callee's, another node's, or a chunk of a progressive call.
    async fn on_call(&mut self, call: Call) -> Flow {
        let request = call.request;
        self.call_counter.call();
        if self.calls.is_running(request) {
            return Box::pin(self.on_call_chunk(call)).await;
        }
        // Only realms with client callees take calls in chunks.
        if self.is_callee_realm()
            && let Some(flow) = Box::pin(self.check_progressive_call(&call)).await
        {
            return flow;
        }
        let limit = self.config.limits.max_calls_in_flight;
        if self.calls.running() >= limit {
            Counters::count(&self.engine.stats.calls_refused);
            let err = WampError::new(Limits::TOO_MANY_CALLS).arg(format!(
                "this session already has {limit} calls running, the most it may"
            ));
            return self.refuse_call(request, &err).await;
        }
        if !self
            .authorize(crate::auth::Action::Call, &call.procedure)
            .await
        {
            let err = auth::not_authorized(crate::auth::Action::Call, &call.procedure);
            return self.refuse_call(request, &err).await;
        }
        let Phase::Open(open) = &self.phase else {
            return Flow::Continue;
        };
        if open.realm.meta_api() && call.procedure.starts_with("wamp.") {
            return Box::pin(self.on_meta_call(call)).await;
        }
        let handler = open.realm.procedure(&call.procedure).cloned();
        // A client registration serves a procedure without a local route
        // (or before it, if the realm says so). A realm without
        // registrations is never looked up.
        let dealer = open.dealer.as_ref().filter(|d| {
            d.has_registrations() && (handler.is_none() || open.realm.client_callees_first())
        });
        // In a cluster, a procedure without a route here may be served by
        // another node that shares it.
        let relay = self.config.relay.as_ref().filter(|_| handler.is_none());
        if handler.is_none() && relay.is_none() && dealer.is_none() {
            let err = WampError::no_such_procedure(&call.procedure);
            return self.refuse_call(request, &err).await;
        }
        let (mut args, mut kwargs) = match call.payload {
            Payload::Args { args, kwargs } => (args, kwargs),
            Payload::Transparent(_) => {
                let err = WampError::invalid_argument("payload passthru mode is not supported");
                return self.refuse_call(request, &err).await;
            }
        };
        // Spec, "Progressive Call Invocations": only client callees take
        // a call in chunks.
        let in_chunks = open.dealer.is_some() && call.options.progress == Some(true);
        let receive_progress = call.options.receive_progress == Some(true);
        let request_info = Request {
            id: request,
            procedure: call.procedure,
            options: call.options,
        };
        let timeout = request_info.timeout();
        if let Some(dealer) = dealer {
            let caller = crate::dealer::Caller {
                session: open.session.id(),
                authid: open.session.authid(),
                authrole: open.session.authrole(),
            };
            match dealer.invoke(
                &request_info.procedure,
                Some(&caller),
                &request_info.options,
                args,
                kwargs,
            ) {
                Ok((answers, callee_call)) => {
                    let state = Arc::new(CallState::default());
                    let work = run_call(
                        Box::pin(std::future::ready(CallOutcome::Progressive(answers))),
                        request,
                        state.clone(),
                        self.outbound.clone(),
                        receive_progress,
                        timeout,
                    );
                    self.calls
                        .start(request, state, Some(callee_call), Box::pin(work));
                    return Flow::Continue;
                }
                Err(payload) => (args, kwargs) = payload,
            }
        }
        if in_chunks {
            let err = WampError::new(error::FEATURE_NOT_SUPPORTED).arg(format!(
                "{:?} does not take progressive call invocations",
                request_info.procedure
            ));
            self.outbound
                .send_message(&err.to_call_error(request))
                .await;
            return Flow::Continue;
        }
        if let Some(handler) = &handler {
            let call = local_call(
                open,
                handler,
                &self.config,
                &self.outbound,
                request_info,
                args,
                kwargs,
            );
            self.calls.start_local(call, &self.outbound);
            return Flow::Continue;
        }
        let answers = relay.and_then(|relay| {
            cluster::remote_call(relay, &open.session, &request_info, &args, &kwargs)
        });
        let Some(answers) = answers else {
            let err = WampError::no_such_procedure(&request_info.procedure);
            return self.refuse_call(request, &err).await;
        };
        let span = call_span(&request_info);
        let state = Arc::new(CallState::default());
        let work = run_call(
            Box::pin(std::future::ready(CallOutcome::Progressive(answers))),
            request,
            state.clone(),
            self.outbound.clone(),
            receive_progress,
            timeout,
        );
        self.calls
            .start(request, state, None, Box::pin(work.instrument(span)));
        Flow::Continue
    }

    /// A request from the session's handle (or the connection itself) to
    /// close the session. Never waits.
    fn control(&mut self, control: Control) -> Flow {
        match control {
            Control::Close { reason, message } => {
                let phase = std::mem::replace(&mut self.phase, Phase::NoSession);
                self.phase = match phase {
                    Phase::Open(open) => {
                        // Never wait here: a client that reads nothing must
                        // not hold up its own close.
                        if self
                            .outbound
                            .send_message_unbudgeted(&Message::goodbye(reason, message))
                            .is_err()
                        {
                            self.phase = Phase::Open(open);
                            return Flow::Stop;
                        }
                        Phase::Closing(open, Instant::now() + GOODBYE_TIMEOUT)
                    }
                    other => other,
                };
                Flow::Continue
            }
            Control::CloseNow { reason, message } => {
                let _ = self
                    .outbound
                    .send_message_unbudgeted(&Message::goodbye(reason, message));
                Flow::Stop
            }
            Control::Kill => Flow::Stop,
        }
    }

    /// A keepalive tick: close a peer silent for longer than the timeout,
    /// else ping it. Silence is seen tick by tick (the reader counts
    /// frames, it does not time them), so a silent peer is closed between
    /// `timeout` and `timeout` plus one interval after it last spoke.
    fn on_keepalive<R: FrameReader>(
        &mut self,
        reader: &R,
        keepalive: &mut Option<Keepalive>,
    ) -> Flow {
        if let (Some(keepalive), Some(heard)) = (keepalive.as_mut(), reader.frames_heard()) {
            if heard != keepalive.heard {
                keepalive.heard = heard;
                keepalive.heard_by = Instant::now();
            } else if keepalive.heard_by.elapsed() > keepalive.timeout {
                let silent_for = keepalive.heard_by.elapsed();
                tracing::info!(
                    ?silent_for,
                    "closing a connection whose peer stopped answering"
                );
                Counters::count(&self.engine.stats.keepalive_timeouts);
                return Flow::Stop;
            }
        }
        self.outbound.ping();
        Flow::Continue
    }

    /// Answers a CALL with `err` before any handler runs.
    async fn refuse_call(&mut self, request: Id, err: &WampError) -> Flow {
        crate::observe::call_error(&err.uri);
        self.outbound
            .send_message(&err.to_call_error(request))
            .await;
        Flow::Continue
    }

    /// Answers a request this router does not serve with an ERROR.
    async fn refuse(&mut self, request_type: MessageType, request: Id, uri: &str) -> Flow {
        let message = Message::error(request_type, request, uri, Payload::default());
        self.outbound.send_message(&message).await;
        Flow::Continue
    }

    /// Sends ABORT `wamp.error.protocol_violation` and ends the connection.
    async fn protocol_violation(&mut self, message: &str) -> Flow {
        tracing::debug!(%message, "protocol violation");
        self.abort(error::PROTOCOL_VIOLATION, message.to_owned())
            .await;
        Flow::Stop
    }

    async fn abort(&mut self, reason: &str, message: String) {
        let abort = Message::abort(reason, Some(message));
        self.outbound.send_message(&abort).await;
    }

    /// Ends the open session, if any: its calls are dropped, it leaves the
    /// registry, and the close handlers run in reverse order.
    async fn end_session(&mut self) {
        let phase = std::mem::replace(&mut self.phase, Phase::NoSession);
        let open = match phase {
            Phase::Open(open) | Phase::Closing(open, _) => open,
            Phase::NoSession | Phase::Authenticating(_) => return,
        };
        self.calls = Calls::default();
        self.idle = None;
        self.await_hello();
        open.control.close();
        crate::observe::session_closed();
        self.engine.registry.remove(open.session.id());
        let quiet = open.control.is_quiet();
        let meta = open.realm.meta_api() && !quiet;
        if let Some(dealer) = &open.dealer {
            let left = dealer.remove_callee(open.session.id());
            if meta {
                for (registration, deleted) in left {
                    let session = open.session.id();
                    meta::registration_events(&open.broker, session, registration, Some(deleted));
                }
            }
        }
        for (subscription, (topic, teardown)) in open.subscriptions {
            let events = meta && !serverwamp_protocol::uri::is_reserved(&topic.uri);
            self.end_subscription(&open.session, &open.broker, subscription, topic, teardown)
                .await;
            if events {
                pubsub::subscription_events(&open.broker, &open.session, subscription, false);
            }
        }
        if !open.testaments.is_empty() && !quiet {
            meta::publish_testaments(&open.session, &open.broker, open.testaments);
        }
        // A realm's retained events outlive its sessions.
        if open.broker.has_retained() {
            self.engine.brokers.pin(&open.broker);
        }
        if meta {
            let session = &open.session;
            let args = vec![
                meta::id_value(session.id()),
                Value::Str(session.authid().to_owned()),
                Value::Str(session.authrole().to_owned()),
            ];
            meta::meta_event(&open.broker, "wamp.session.on_leave", args);
        }
        let cx = SessionContext {
            session: open.session,
            state: self.config.state.clone(),
        };
        for handler in self.config.close_handlers.iter().rev() {
            handler.call(cx.clone(), "session close").await;
        }
    }
}

/// Returns pending once, waking its task at once: the task's poll goes on
/// to the writer joined beside the session, and the session resumes on the
/// task's next poll.
async fn let_writer_run() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// How a read that gave no frame ends the connection: the peer closed it,
/// or it failed.
fn reading_ended(read: Option<Result<bytes::Bytes, crate::link::TransportError>>) -> Flow {
    if let Some(Err(e)) = read {
        tracing::debug!(error = %e, "connection failed");
    }
    Flow::Stop
}

/// A call's span. At debug: at info, with a subscriber that records spans
/// (the demo's fmt), one per call cost 10-20 % of the demo's calls per
/// second; the session span, once per connection, costs nothing.
fn call_span(request: &Request) -> tracing::Span {
    tracing::debug_span!("call", procedure = %request.procedure, request = %request.id)
}

/// A call to a local route, not yet polled: the call's context built, its
/// handler made (arguments extracted; extraction runs user code, so the
/// boxed handler guards it like the handler itself).
fn local_call(
    open: &OpenSession,
    handler: &BoxedHandler<OnCall>,
    config: &AppConfig,
    outbound: &Outbound,
    request: Request,
    args: Vec<Value>,
    kwargs: Dict,
) -> LocalCall {
    let id = request.id;
    let receive_progress = request.options.receive_progress == Some(true);
    let timeout = request.timeout();
    let span = call_span(&request);
    // Progress reports check whether the call was answered, so a call that
    // sends them has its state from the start.
    let state = receive_progress.then(|| Arc::new(CallState::default()));
    let progress = Progress::new(state.as_ref().map(|state| ProgressTarget {
        request: id,
        outbound: outbound.clone(),
        answered: state.clone(),
    }));
    let context = CallContext {
        session: open.session.clone(),
        request,
        arguments: Arguments::new(args, kwargs, config.snake_case_kwargs),
        state: config.state.clone(),
        progress,
    };
    LocalCall {
        handler: handler.call(context, "procedure"),
        request: id,
        state,
        receive_progress,
        timeout,
        span,
    }
}

/// The roles and features this router announces in WELCOME: exactly what
/// it implements: the meta API's features in realms that serve it, the
/// dealer's for client callees in realms that allow them.
fn router_roles(meta_api: bool, client_callees: bool) -> Dict {
    let role = |features: &[&str]| {
        let features: Dict = features
            .iter()
            .map(|f| ((*f).to_owned(), Value::Bool(true)))
            .collect();
        let mut role = Dict::new();
        role.insert("features".to_owned(), Value::Dict(features));
        Value::Dict(role)
    };
    let mut broker = vec![
        "pattern_based_subscription",
        "publisher_exclusion",
        "publisher_identification",
        "subscriber_blackwhite_listing",
        "event_retention",
    ];
    let mut dealer = vec!["progressive_call_results", "call_canceling", "call_timeout"];
    if meta_api {
        // Spec: the session meta API is announced by both roles; the
        // testament meta API by the dealer.
        // The registration meta API answers in realms without client
        // callees too: with no registrations, its lists are empty.
        broker.extend(["session_meta_api", "subscription_meta_api"]);
        dealer.extend([
            "session_meta_api",
            "testament_meta_api",
            "registration_meta_api",
        ]);
    }
    let mut roles = Dict::new();
    if client_callees {
        dealer.extend([
            "progressive_call_invocations",
            "shared_registration",
            "pattern_based_registration",
            "caller_identification",
        ]);
    }
    roles.insert("broker".to_owned(), role(&broker));
    roles.insert("dealer".to_owned(), role(&dealer));
    roles
}

/// Something the current phase produced besides a frame.
enum PhaseEvent {
    /// A request from the open session's handle.
    Control(Control),
    /// The authentication phase ended.
    Authenticated(Box<Result<crate::auth::AuthOutcome, crate::auth::AuthAbort>>),
}

/// The next event of the current phase; pending when it has none.
async fn next_event(phase: &mut Phase) -> PhaseEvent {
    match phase {
        Phase::Open(open) | Phase::Closing(open, _) => {
            PhaseEvent::Control(open.control.next().await)
        }
        Phase::Authenticating(auth) => PhaseEvent::Authenticated(Box::new(auth.outcome().await)),
        Phase::NoSession => std::future::pending().await,
    }
}

/// A connection's keepalive: its ticks, and when the peer was last heard.
struct Keepalive {
    ticks: tokio::time::Interval,
    /// How long the peer may stay silent.
    timeout: Duration,
    /// The reader's frame count as the last tick saw it.
    heard: u64,
    /// The tick that last saw the count move (or the connection's start):
    /// the peer was heard no later than this.
    heard_by: Instant,
}

/// The next keepalive tick; pending when keepalive is off.
async fn next_keepalive(keepalive: &mut Option<Keepalive>) {
    match keepalive {
        Some(keepalive) => {
            keepalive.ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Silent;

    impl FrameReader for Silent {
        async fn next_frame(
            &mut self,
        ) -> Option<Result<bytes::Bytes, crate::link::TransportError>> {
            None
        }
    }

    impl FrameWriter for Silent {
        async fn feed(&mut self, _frame: bytes::Bytes) -> Result<(), crate::link::TransportError> {
            Ok(())
        }
        async fn flush(&mut self) -> Result<(), crate::link::TransportError> {
            Ok(())
        }
        async fn close(&mut self) {}
    }

    /// Every idle connection keeps its task's future: keep it small.
    #[test]
    fn a_connection_task_is_small() {
        let info = TransportInfo::new(
            crate::link::TransportKind::WebSocket,
            crate::link::PeerAddress::Unknown,
        );
        let future = run(
            Engine::default(),
            info,
            Codec::new(serverwamp_protocol::Serialization::Json),
            Silent,
            Silent,
        );
        let size = std::mem::size_of_val(&future);
        eprintln!("connection future: {size} bytes");
        // 1,616 bytes (this test's reader and writer, debug build) since
        // `run` stopped being an `async fn`, 3,256 before; an idle
        // session's memory follows it.
        assert!(size < 2_000, "{size}");
    }
}
