//! Calls across the nodes of a cluster: a node without a procedure of its
//! own sends the CALL to a node that shares it, and serves the calls other
//! nodes send it.
//!
//! The calling node keeps the call as one of its session's calls (so
//! CANCEL, the call timeout and the session's end work as for local calls)
//! whose handler is the stream of the serving node's answers. The serving
//! node runs its handler as for a local call, with a stand-in session for
//! the caller, and sends back every RESULT and ERROR as WAMP messages
//! encoded in MsgPack.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use serverwamp_protocol::message::{CallOptions, Message, MessageType, ValidationRules};
use serverwamp_protocol::well_known::error;
use serverwamp_protocol::{Codec, Dict, Id, List, Serialization, Value};
use tokio::sync::mpsc;

use super::Engine;
use super::calls::run_call;
use crate::WampError;
use crate::broker::relay::CallServer;
use crate::broker::{Brokers, Relay};
use crate::handler::Arguments;
use crate::link::{PeerAddress, TransportInfo, TransportKind};
use crate::outbound::Outbound;
use crate::realm::{AppConfig, RealmView};
use crate::rpc::{
    CallContext, CallState, ItemStream, Progress, ProgressTarget, ProgressiveItem, Request,
    RpcResult,
};
use crate::session::{AuthDetails, Session, SessionParts};

/// How often a waiting caller checks that the serving node is still there.
const LIVENESS: Duration = Duration::from_secs(1);

/// The byte budget of a forwarded call's answers on the serving node.
const ANSWER_BYTES: usize = 1024 * 1024;

/// Sends a call of `session` to a node that shares `request`'s procedure;
/// `None` when no node does. The stream yields that node's answers.
pub(crate) fn remote_call(
    relay: &Arc<Relay>,
    session: &Session,
    request: &Request,
    args: &List,
    kwargs: &Dict,
) -> Option<ItemStream> {
    let node = relay.node_serving(&request.procedure)?;
    let (call, answers) = relay.expect_answers();
    let auth = session.auth();
    let message = relay.call_message(
        call,
        &(
            session.realm(),
            &request.procedure,
            &request.options,
            session.id().get(),
            (
                &auth.authid,
                &auth.authrole,
                &auth.authmethod,
                &auth.authprovider,
            ),
            args,
            kwargs,
        ),
    );
    if !relay.send_to_node(node, message) {
        relay.forget(call);
        let refused = node_unavailable("the backplane is not taking calls now");
        return Some(Box::pin(futures_util::stream::once(std::future::ready(
            refused,
        ))));
    }
    let pending = Pending {
        relay: relay.clone(),
        node,
        call,
        answered: false,
    };
    Some(Box::pin(futures_util::stream::unfold(
        (pending, answers),
        next_answer,
    )))
}

/// A call sent to another node: when dropped before its final answer
/// (canceled, timed out, or its session gone), the other node is told to
/// stop.
struct Pending {
    relay: Arc<Relay>,
    node: u64,
    call: u64,
    answered: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.relay.forget(self.call);
        if !self.answered {
            let cancel = self.relay.cancel_message(self.call);
            self.relay.send_to_node(self.node, cancel);
        }
    }
}

async fn next_answer(
    (mut pending, mut answers): (Pending, mpsc::UnboundedReceiver<Bytes>),
) -> Option<(ProgressiveItem, (Pending, mpsc::UnboundedReceiver<Bytes>))> {
    if pending.answered {
        return None;
    }
    let item = loop {
        tokio::select! {
            answer = answers.recv() => match answer.as_deref().map(read_answer) {
                Some(Some(item)) => break item,
                Some(None) => continue,
                None => break node_unavailable(LEFT),
            },
            () = tokio::time::sleep(LIVENESS) => {
                if !pending.relay.is_alive(pending.node) {
                    break node_unavailable(LEFT);
                }
            }
        }
    };
    if !matches!(item, ProgressiveItem::Progress(_)) {
        pending.answered = true;
    }
    Some((item, (pending, answers)))
}

const LEFT: &str = "the node serving this call left the cluster before it answered";

fn node_unavailable(why: &str) -> ProgressiveItem {
    ProgressiveItem::Error(WampError::new(crate::backplane::NODE_UNAVAILABLE).arg(why))
}

/// A RESULT or ERROR from the serving node; `None` for anything else.
fn read_answer(bytes: &[u8]) -> Option<ProgressiveItem> {
    let message = Serialization::MsgPack
        .decode(bytes, &ValidationRules::default())
        .ok()?;
    let split = |payload: serverwamp_protocol::message::Payload| match payload {
        serverwamp_protocol::message::Payload::Args { args, kwargs } => (args, kwargs),
        serverwamp_protocol::message::Payload::Transparent(_) => (List::new(), Dict::new()),
    };
    match message {
        Message::Result(result) => {
            let progress = result.details.progress == Some(true);
            let (args, kwargs) = split(result.payload);
            let result = RpcResult { args, kwargs };
            Some(if progress {
                ProgressiveItem::Progress(result)
            } else {
                ProgressiveItem::Result(result)
            })
        }
        Message::Error(err) => {
            let (args, kwargs) = split(err.payload);
            Some(ProgressiveItem::Error(WampError {
                uri: err.error,
                args,
                kwargs,
            }))
        }
        _ => None,
    }
}

/// The calls running for other nodes, by (node, call ID).
type Running = Arc<Mutex<HashMap<(u64, u64), Arc<CallState>>>>;

/// Serves the calls other nodes send this one, with the engine's
/// configuration as it was when the node joined.
pub(crate) struct Server {
    config: Weak<AppConfig>,
    brokers: Weak<Brokers<Session>>,
    relay: Weak<Relay>,
    running: Running,
}

impl Engine {
    /// Serves other nodes' calls to the procedures this node shares, once
    /// per application (the first engine made from it that serves).
    pub(crate) fn join_cluster(&self) {
        let Some(relay) = &self.config.relay else {
            return;
        };
        relay.start();
        relay.serve_calls(|| {
            Arc::new(Server {
                config: Arc::downgrade(&self.config),
                brokers: Arc::downgrade(&self.brokers),
                relay: Arc::downgrade(relay),
                running: Running::default(),
            })
        });
    }
}

fn lock(running: &Running) -> std::sync::MutexGuard<'_, HashMap<(u64, u64), Arc<CallState>>> {
    running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl CallServer for Server {
    fn call(&self, from: u64, message: Vec<Value>) {
        let (Some(config), Some(brokers), Some(relay)) = (
            self.config.upgrade(),
            self.brokers.upgrade(),
            self.relay.upgrade(),
        ) else {
            return;
        };
        let Some(call) = RemoteCall::read(message) else {
            tracing::warn!(
                from,
                "a call from another node that cannot be read; ignored"
            );
            return;
        };
        let state = Arc::new(CallState::default());
        let key = (from, call.id.get());
        lock(&self.running).insert(key, state.clone());
        let running = self.running.clone();
        tokio::spawn(async move {
            serve(call, from, &config, &brokers, &relay, state).await;
            lock(&running).remove(&key);
        });
    }

    fn cancel(&self, from: u64, call: u64) {
        if let Some(state) = lock(&self.running).get(&(from, call)) {
            state.stop.notify_one();
        }
    }
}

/// A call another node sent: `[CALL, node, call ID, [realm, procedure,
/// options, caller, [authid, authrole, authmethod, authprovider], args,
/// kwargs]]`.
struct RemoteCall {
    id: Id,
    realm: String,
    procedure: String,
    options: CallOptions,
    caller: Id,
    auth: AuthDetails,
    args: List,
    kwargs: Dict,
}

impl RemoteCall {
    fn read(items: Vec<Value>) -> Option<RemoteCall> {
        let [_, _, id, Value::List(call)]: [Value; 4] = items.try_into().ok()? else {
            return None;
        };
        let [
            Value::Str(realm),
            Value::Str(procedure),
            Value::Dict(options),
            caller,
            Value::List(auth),
            Value::List(args),
            Value::Dict(kwargs),
        ]: [Value; 7] = call.try_into().ok()?
        else {
            return None;
        };
        let [
            Value::Str(authid),
            Value::Str(authrole),
            Value::Str(authmethod),
            Value::Str(authprovider),
        ]: [Value; 4] = auth.try_into().ok()?
        else {
            return None;
        };
        Some(RemoteCall {
            id: Id::new(id.as_u64()?)?,
            realm,
            procedure,
            options: CallOptions::from_dict(options, MessageType::Call, "Options").ok()?,
            caller: Id::new(caller.as_u64()?)?,
            auth: AuthDetails {
                authid,
                authrole,
                authmethod,
                authprovider,
            },
            args,
            kwargs,
        })
    }
}

/// Runs one call for node `from` and sends it every answer.
async fn serve(
    call: RemoteCall,
    from: u64,
    config: &Arc<AppConfig>,
    brokers: &Brokers<Session>,
    relay: &Relay,
    state: Arc<CallState>,
) {
    let request = call.id;
    let answer = |message: &Message| match Serialization::MsgPack.encode(message) {
        Ok(bytes) => {
            relay.send_to_node(from, relay.reply_message(request.get(), &bytes));
        }
        Err(error) => tracing::warn!(%error, "an answer to another node cannot be encoded"),
    };
    crate::observe::call();
    let shared = config.shared_procedures.contains(&call.procedure);
    let realm = RealmView::resolve(config, &call.realm);
    let handler = realm
        .as_ref()
        .filter(|_| shared)
        .and_then(|realm| realm.procedure(&call.procedure).cloned());
    let (Some(realm), Some(handler)) = (realm, handler) else {
        let err = WampError::new(error::NO_SUCH_PROCEDURE).arg(format!(
            "no node serves {:?} to the cluster in realm {:?}",
            call.procedure, call.realm
        ));
        crate::observe::call_error(&err.uri);
        answer(&err.to_call_error(request));
        return;
    };
    let codec = Codec::new(Serialization::MsgPack);
    let (outbound, mut answers) = Outbound::channel(codec, None, ANSWER_BYTES);
    let broker =
        brokers.get_or_create(realm.name(), config.slow_subscribers, config.relay.as_ref());
    let control = Arc::new(crate::session::ControlSlot::default());
    let session = Session::new(
        SessionParts {
            id: call.caller,
            realm: call.realm,
            auth: call.auth,
            identity: None,
            transport: Arc::new(TransportInfo::new(
                TransportKind::Backplane,
                PeerAddress::Unknown,
            )),
            outbound: outbound.clone(),
            control: control.clone(),
        },
        &broker,
    );
    let receive_progress = call.options.receive_progress == Some(true);
    let request_info = Request {
        id: request,
        procedure: call.procedure,
        options: call.options,
    };
    let timeout = request_info.timeout();
    let progress = Progress::new(receive_progress.then(|| ProgressTarget {
        request,
        outbound: outbound.clone(),
        answered: state.clone(),
    }));
    let context = CallContext {
        session,
        request: request_info,
        arguments: Arguments::new(call.args, call.kwargs, config.snake_case_kwargs),
        state: config.state.clone(),
        progress,
    };
    let work = run_call(
        handler.call(context, "procedure"),
        request,
        state,
        outbound,
        receive_progress,
        timeout,
    );
    tokio::pin!(work);
    // Answers go out as they come; once the call is done, what it queued
    // last follows.
    loop {
        tokio::select! {
            () = &mut work => break,
            Some(bytes) = answers.recv_record() => {
                relay.send_to_node(from, relay.reply_message(request.get(), &bytes));
            }
        }
    }
    while let Some(bytes) = answers.try_recv_record() {
        relay.send_to_node(from, relay.reply_message(request.get(), &bytes));
    }
    control.close();
}
