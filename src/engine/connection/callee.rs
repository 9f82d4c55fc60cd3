//! Client callees: REGISTER, UNREGISTER, and the callee's answers to
//! INVOCATIONs (YIELD, ERROR).

use serverwamp_protocol::Value;
use serverwamp_protocol::message::{
    Call, ErrorMessage, Message, MessageType, Payload, Register, Registered, Unregister,
    Unregistered, Yield,
};
use serverwamp_protocol::well_known::error;

use super::{Connection, Flow, Phase, auth, meta};
use crate::WampError;
use crate::auth::Action;
use crate::dealer::Callee;
use crate::realm::Limits;
use crate::rpc::{ProgressiveItem, RpcResult};

/// How many ended progressive-invocation calls a session remembers.
const PROGRESSIVE_DONE: usize = 64;

impl Connection {
    /// A CALL whose request is running: the next chunk of a progressive
    /// call invocation, or a protocol violation.
    pub(super) async fn on_call_chunk(&mut self, call: Call) -> Flow {
        let request = call.request;
        let handle = self
            .calls
            .callee_call(request)
            .filter(|handle| handle.is_progressive())
            .cloned();
        let Some(handle) = handle else {
            let message = format!("CALL.Request {request} is already used by a running call");
            return self.protocol_violation(&message).await;
        };
        let (args, kwargs) = match call.payload {
            Payload::Args { args, kwargs } => (args, kwargs),
            Payload::Transparent(_) => Default::default(),
        };
        // A chunk after the last one is discarded (spec, "Continuations on
        // Completed Calls").
        handle
            .chunk(args, kwargs, call.options.progress == Some(true))
            .await;
        Flow::Continue
    }

    /// In a realm with client callees: discards a late chunk of an ended
    /// progressive call, refuses `progress` from a caller that did not
    /// announce progressive call invocations (a protocol violation, spec,
    /// "Progressive Call Invocations"), and remembers the calls made in
    /// chunks. `None` to go on with the call.
    pub(super) async fn check_progressive_call(&mut self, call: &Call) -> Option<Flow> {
        let Phase::Open(open) = &mut self.phase else {
            return None;
        };
        open.dealer.as_ref()?;
        if open.progressive_done.contains(&call.request) {
            return Some(Flow::Continue);
        }
        if call.options.progress != Some(true) {
            return None;
        }
        if !open.features.caller_progressive_invocations {
            let message = "CALL with progress from a caller that did not announce progressive_call_invocations";
            return Some(self.protocol_violation(message).await);
        }
        if open.progressive_done.len() == PROGRESSIVE_DONE {
            open.progressive_done.pop_front();
        }
        open.progressive_done.push_back(call.request);
        None
    }
    /// Whether the open session's realm lets clients register.
    pub(super) fn is_callee_realm(&self) -> bool {
        matches!(&self.phase, Phase::Open(open) if open.dealer.is_some())
    }

    pub(super) async fn on_register(&mut self, register: Register) -> Flow {
        let request = register.request;
        if !self.is_callee_realm() {
            // Procedures live in this server unless the realm lets clients
            // register.
            return self
                .refuse(MessageType::Register, request, error::NOT_AUTHORIZED)
                .await;
        }
        // Spec, "Reserved URIs": `wamp` as a first component belongs to
        // the protocol; no client provides such a procedure.
        if register.procedure == "wamp" || register.procedure.starts_with("wamp.") {
            let err = WampError::new(error::INVALID_URI).arg(format!(
                "{:?} is reserved: URIs under wamp. belong to the protocol",
                register.procedure
            ));
            self.outbound
                .send_message(&err.to_message(MessageType::Register, request))
                .await;
            return Flow::Continue;
        }
        if !self.authorize(Action::Register, &register.procedure).await {
            let err = auth::not_authorized(Action::Register, &register.procedure);
            self.outbound
                .send_message(&err.to_message(MessageType::Register, request))
                .await;
            return Flow::Continue;
        }
        let limit = self.config.limits.max_registrations;
        let Phase::Open(open) = &mut self.phase else {
            return Flow::Continue;
        };
        let Some(dealer) = &open.dealer else {
            return Flow::Continue;
        };
        if open.registrations >= limit {
            let err = WampError::new(Limits::TOO_MANY_REGISTRATIONS).arg(format!(
                "this session already holds {limit} registrations, the most it may"
            ));
            self.outbound
                .send_message(&err.to_message(MessageType::Register, request))
                .await;
            return Flow::Continue;
        }
        let callee = Callee {
            session: open.session.id(),
            outbound: self.outbound.clone(),
            interruptible: open.features.callee_cancels,
            progressive_invocations: open.features.callee_progressive_invocations,
        };
        let mut events = None;
        let reply = match dealer.register(callee, &register.procedure, &register.options) {
            Ok((registration, created)) => {
                open.registrations += 1;
                if open.realm.meta_api() {
                    events = Some((
                        open.broker.clone(),
                        open.session.id(),
                        dealer.clone(),
                        registration,
                        created,
                    ));
                }
                Message::Registered(Registered {
                    request,
                    registration,
                })
            }
            Err(err) => err.to_message(MessageType::Register, request),
        };
        self.outbound.send_message(&reply).await;
        // Spec, "Registration Meta API": `on_create` then `on_register`,
        // after REGISTERED as for subscriptions.
        if let Some((broker, session, dealer, registration, created)) = events {
            if created && let Some(info) = dealer.registration(registration) {
                let details = Value::Dict(meta::registration_details(&info));
                let args = vec![meta::id_value(session), details];
                meta::meta_event(&broker, "wamp.registration.on_create", args);
            }
            meta::registration_events(&broker, session, registration, None);
        }
        Flow::Continue
    }

    pub(super) async fn on_unregister(&mut self, unregister: Unregister) -> Flow {
        let request = unregister.request;
        let registration = unregister.registration;
        let (removed, events) = match &mut self.phase {
            Phase::Open(open) => {
                let removed = open
                    .dealer
                    .as_ref()
                    .and_then(|d| d.unregister(open.session.id(), registration));
                open.registrations -= usize::from(removed.is_some());
                let events = open
                    .realm
                    .meta_api()
                    .then(|| (open.broker.clone(), open.session.id()));
                (removed, events)
            }
            _ => (None, None),
        };
        let Some(deleted) = removed else {
            return self
                .refuse(
                    MessageType::Unregister,
                    request,
                    error::NO_SUCH_REGISTRATION,
                )
                .await;
        };
        let reply = Message::Unregistered(Unregistered { request });
        self.outbound.send_message(&reply).await;
        if let Some((broker, session)) = events {
            meta::registration_events(&broker, session, registration, Some(deleted));
        }
        Flow::Continue
    }

    /// A callee's YIELD. Spec, "Call Canceling": an answer to an invocation
    /// that was canceled (or is unknown) is discarded.
    pub(super) async fn on_yield(&mut self, message: Yield) -> Flow {
        let item = match message.payload {
            Payload::Args { args, kwargs } => {
                let result = RpcResult { args, kwargs };
                if message.options.progress == Some(true) {
                    ProgressiveItem::Progress(result)
                } else {
                    ProgressiveItem::Result(result)
                }
            }
            Payload::Transparent(_) => ProgressiveItem::Error(WampError::invalid_argument(
                "the callee answered in payload passthru mode, which is not supported",
            )),
        };
        self.answer(message.request, item).await;
        Flow::Continue
    }

    /// A callee's ERROR for an INVOCATION: the caller gets it.
    pub(super) async fn on_invocation_error(&mut self, message: ErrorMessage) -> Flow {
        let (args, kwargs) = match message.payload {
            Payload::Args { args, kwargs } => (args, kwargs),
            Payload::Transparent(_) => Default::default(),
        };
        let err = WampError {
            uri: message.error,
            args,
            kwargs,
        };
        self.answer(message.request, ProgressiveItem::Error(err))
            .await;
        Flow::Continue
    }

    async fn answer(&mut self, request: serverwamp_protocol::Id, item: ProgressiveItem) {
        let Phase::Open(open) = &self.phase else {
            return;
        };
        let Some(dealer) = open.dealer.clone() else {
            return;
        };
        let callee = open.session.id();
        let patience = self.config.slow_subscribers.timeout;
        dealer.answer(callee, request, item, patience).await;
    }
}
