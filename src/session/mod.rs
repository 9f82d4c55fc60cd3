//! Sessions: the WAMP state machine of one connection, and the handle that
//! handlers use to talk to their session.

mod control;
pub(crate) mod registry;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serverwamp_protocol::message::Payload;
use serverwamp_protocol::well_known::close;
use serverwamp_protocol::{Dict, Id, List};

pub(crate) use control::{Control, ControlSlot};

use crate::broker::PublishReport;
use crate::broker::{Broker, Publication, Subscriber};
use crate::link::TransportInfo;
use crate::outbound::Outbound;

/// How a session authenticated, as announced in its WELCOME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthDetails {
    /// The authentication ID.
    pub authid: String,
    /// The authentication role.
    pub authrole: String,
    /// The authentication method used (`anonymous`, `ticket`, …).
    pub authmethod: String,
    /// Who vouched for the identity.
    pub authprovider: String,
}

/// A handle to one open WAMP session: cheap to clone, safe to keep.
///
/// Handlers receive it by naming a `Session` argument. It tells who the
/// session is, holds typed per-session data, and can close the session.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionInner>,
}

pub(crate) struct SessionInner {
    pub(crate) id: Id,
    pub(crate) realm: String,
    pub(crate) auth: AuthDetails,
    /// The identity the application's authenticator chose.
    pub(crate) identity: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) transport: Arc<TransportInfo>,
    /// The connection's outbound queue, for events sent outside a call.
    pub(crate) outbound: Outbound,
    /// The realm's broker (held strongly by the connection).
    broker: Weak<Broker<Session>>,
    /// Events dropped because the client did not keep up.
    dropped_events: AtomicU64,
    /// Typed per-session data, created on first use.
    data: Mutex<Option<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
    /// Requests to the connection task (close the session).
    pub(crate) control: Arc<ControlSlot>,
    /// Where the session's own calls go ([`Session::call`]): its realm
    /// and the realm's client registrations; set once it is open.
    pub(crate) router:
        std::sync::OnceLock<(crate::realm::RealmView, Option<Arc<crate::dealer::Dealer>>)>,
}

/// What a session is made of when it opens.
pub(crate) struct SessionParts {
    pub(crate) id: Id,
    pub(crate) realm: String,
    pub(crate) auth: AuthDetails,
    pub(crate) identity: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) transport: Arc<TransportInfo>,
    pub(crate) outbound: Outbound,
    pub(crate) control: Arc<ControlSlot>,
}

impl Session {
    pub(crate) fn new(parts: SessionParts, broker: &Arc<Broker<Session>>) -> Self {
        let SessionParts {
            id,
            realm,
            auth,
            identity,
            transport,
            outbound,
            control,
        } = parts;
        Session {
            inner: Arc::new(SessionInner {
                id,
                realm,
                auth,
                identity,
                transport,
                outbound,
                broker: Arc::downgrade(broker),
                dropped_events: AtomicU64::new(0),
                data: Mutex::new(None),
                control,
                router: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Sends an event to this session alone, on its subscriptions that
    /// match `topic` (exact or pattern). Returns whether it was queued: a
    /// session that is not subscribed to the topic gets nothing. An event
    /// sent while the subscription is being set up is held until the
    /// client has its SUBSCRIBED.
    ///
    /// Never waits: if the session's outbound queue is full the event is
    /// dropped and counted ([`Session::dropped_events`]);
    /// [`Session::send_event_wait`] waits for room instead.
    pub fn send_event(&self, topic: &str, args: List, kwargs: Dict) -> bool {
        let Some(broker) = self.inner.broker.upgrade() else {
            return false;
        };
        let mut publication = Publication::new(topic, Payload::new(args, kwargs));
        publication.only = Some(self.id());
        broker.publish(publication).delivered > 0
    }

    /// Sends an event to this session alone, as [`Session::send_event`]
    /// does, waiting while its outbound queue is full, up to the
    /// application's slow-subscriber timeout
    /// ([`Application::set_slow_subscriber_timeout`](crate::Application::set_slow_subscriber_timeout)).
    pub async fn send_event_wait(&self, topic: &str, args: List, kwargs: Dict) -> bool {
        let Some(broker) = self.inner.broker.upgrade() else {
            return false;
        };
        let mut publication = Publication::new(topic, Payload::new(args, kwargs));
        publication.only = Some(self.id());
        broker.publish_wait(publication).await.delivered > 0
    }

    /// Publishes an event to every subscriber of `topic` in this session's
    /// realm (this session included, if subscribed).
    ///
    /// Never waits: a subscriber whose outbound queue is full loses the
    /// event (counted in the report and in its
    /// [`Session::dropped_events`]). Use [`Session::publish_wait`] for
    /// bursts that must arrive whole.
    pub fn publish(&self, topic: &str, args: List, kwargs: Dict) -> PublishReport {
        match self.inner.broker.upgrade() {
            Some(broker) => broker.publish(Publication::new(topic, Payload::new(args, kwargs))),
            None => PublishReport::nobody(),
        }
    }

    /// Publishes an event to every subscriber of `topic` in this session's
    /// realm, as [`Session::publish`] does, and keeps it as the topic's
    /// retained event: a client that subscribes later with
    /// `get_retained: true` gets it right after its SUBSCRIBED, marked
    /// `retained: true` (spec, "Event Retention"). Each topic keeps its
    /// latest retained event, in this node's memory, until the
    /// application ends.
    pub fn publish_retained(&self, topic: &str, args: List, kwargs: Dict) -> PublishReport {
        match self.inner.broker.upgrade() {
            Some(broker) => {
                let payload = Payload::new(args, kwargs);
                broker.retain(topic, payload.clone(), Default::default(), None);
                broker.publish(Publication::new(topic, payload))
            }
            None => PublishReport::nobody(),
        }
    }

    /// Publishes an event to every subscriber of `topic` in this session's
    /// realm, waiting for room in the outbound queue of each subscriber
    /// whose queue is full.
    ///
    /// A subscriber that reads gets every event of a burst, in order, however
    /// long the burst: the publisher goes at the pace of its subscribers. A
    /// subscriber whose queue has stayed full for the slow-subscriber timeout
    /// (10 s by default) is not waited for: it meets the
    /// [`SlowSubscriberPolicy`](crate::pubsub::SlowSubscriberPolicy).
    pub async fn publish_wait(&self, topic: &str, args: List, kwargs: Dict) -> PublishReport {
        match self.inner.broker.upgrade() {
            Some(broker) => {
                let publication = Publication::new(topic, Payload::new(args, kwargs));
                broker.publish_wait(publication).await
            }
            None => PublishReport::nobody(),
        }
    }

    /// Calls `procedure` in this session's realm as this session, and waits
    /// for its final result: a local route (whose handler gets this
    /// session), or a procedure a client registered (see the
    /// [client callees guide](crate::guide::client_callees)), by the same
    /// rules as a client's CALL. Progress reports are skipped. The callee is
    /// told who calls only if its registration asked (`disclose_caller`).
    ///
    /// A procedure nobody serves is `wamp.error.no_such_procedure`; a
    /// callee that leaves before it answers, `wamp.error.canceled`. The
    /// call has no deadline of its own: bound it with
    /// `tokio::time::timeout`; a call dropped before its answer (also when
    /// the calling handler is canceled) sends its callee INTERRUPT.
    ///
    /// ```
    /// use serverwamp::Session;
    /// use serverwamp::rpc::{RpcResult, WampError};
    ///
    /// // A procedure that asks a device (a client callee) for its reading.
    /// async fn reading(session: Session) -> Result<RpcResult, WampError> {
    ///     session.call("device.read", vec![], Default::default()).await
    /// }
    /// # let _ = reading;
    /// ```
    pub async fn call(
        &self,
        procedure: &str,
        args: List,
        kwargs: Dict,
    ) -> Result<crate::rpc::RpcResult, crate::WampError> {
        let Some((realm, dealer)) = self.inner.router.get() else {
            return Err(crate::WampError::new(
                serverwamp_protocol::well_known::error::NO_SUCH_PROCEDURE,
            )
            .arg("this session cannot make calls"));
        };
        let caller = crate::dealer::Caller {
            session: self.id(),
            authid: self.authid(),
            authrole: self.authrole(),
        };
        crate::realm::call(
            realm,
            dealer.as_ref(),
            Some(&caller),
            || self.clone(),
            procedure,
            args,
            kwargs,
        )
        .await
    }

    /// How many events were dropped for this session because its client did
    /// not read them fast enough.
    pub fn dropped_events(&self) -> u64 {
        self.inner.dropped_events.load(Ordering::Relaxed)
    }

    /// The session ID.
    pub fn id(&self) -> Id {
        self.inner.id
    }

    /// The realm the session joined.
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// How the session authenticated: authid, role, method, provider.
    pub fn auth(&self) -> &AuthDetails {
        &self.inner.auth
    }

    /// The identity the application's authenticator returned, if it is a
    /// `T` (anonymous sessions have none).
    pub fn identity<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.inner.identity.as_deref()?.downcast_ref()
    }

    /// The authentication ID.
    pub fn authid(&self) -> &str {
        &self.inner.auth.authid
    }

    /// The authentication role.
    pub fn authrole(&self) -> &str {
        &self.inner.auth.authrole
    }

    /// Facts about the connection: peer address, HTTP headers, cookies.
    pub fn transport(&self) -> &TransportInfo {
        &self.inner.transport
    }

    fn data_map(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<HashMap<TypeId, Box<dyn Any + Send + Sync>>>> {
        self.inner
            .data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores a value of type `T` on the session, replacing any earlier one.
    pub fn insert_data<T: Any + Send + Sync>(&self, value: T) {
        self.data_map()
            .get_or_insert_with(HashMap::new)
            .insert(TypeId::of::<T>(), Box::new(value));
    }

    /// A copy of the session's value of type `T`, if one was stored.
    pub fn data<T: Any + Send + Sync + Clone>(&self) -> Option<T> {
        self.data_map()
            .as_ref()?
            .get(&TypeId::of::<T>())?
            .downcast_ref::<T>()
            .cloned()
    }

    /// Removes and returns the session's value of type `T`.
    pub fn remove_data<T: Any + Send + Sync>(&self) -> Option<T> {
        let boxed = self.data_map().as_mut()?.remove(&TypeId::of::<T>())?;
        boxed.downcast::<T>().ok().map(|b| *b)
    }

    /// Closes the session from the server side: its connection sends
    /// GOODBYE with `reason` (e.g. `wamp.close.close_realm`) and an optional
    /// message, waits up to 5 s for the client's GOODBYE, then closes.
    ///
    /// Returns at once, so a handler may close its own session and still
    /// return; await [`Session::closed`] to wait until the session has
    /// ended.
    pub fn close(&self, reason: impl Into<String>, message: Option<String>) {
        self.inner.control.request(Control::Close {
            reason: reason.into(),
            message,
        });
    }

    /// Waits until the session has ended, however it ends (closed by either
    /// side, or its connection lost). Returns at once for a session that
    /// has ended already.
    pub async fn closed(&self) {
        self.inner.control.ended().await;
    }

    /// Whether the session's connection is still open.
    pub fn is_open(&self) -> bool {
        !self.inner.control.is_closed()
    }
}

/// A session as the broker sees it.
impl Subscriber for Session {
    fn id(&self) -> Id {
        self.inner.id
    }

    fn authid(&self) -> &str {
        &self.inner.auth.authid
    }

    fn authrole(&self) -> &str {
        &self.inner.auth.authrole
    }

    fn outbound(&self) -> &Outbound {
        &self.inner.outbound
    }

    fn note_dropped_event(&self) -> u64 {
        self.inner.dropped_events.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn close_for_slowness(&self) {
        self.inner.control.request(Control::CloseNow {
            reason: close::KILLED.to_owned(),
            message: Some("the client did not read its events fast enough".to_owned()),
        });
    }
}

/// Sessions are equal when they are the same session (the same ID), so a
/// set of sessions (the subscribers of an update worker, say) holds each
/// once.
impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        self.inner.id == other.inner.id
    }
}

impl Eq for Session {}

impl std::hash::Hash for Session {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.id.hash(state);
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.inner.id)
            .field("realm", &self.inner.realm)
            .field("authid", &self.inner.auth.authid)
            .finish_non_exhaustive()
    }
}
