//! One realm's subscriptions and the fan-out of events to them.
//!
//! The broker knows its subscribers only as [`Subscriber`]s: an ID, an
//! authid and role for black- and whitelisting, an outbound queue, and what
//! to do when they fall behind. Sessions are one kind of subscriber; the
//! broker does not know what else they are.

mod envelope;
mod meta;
pub(crate) mod relay;
mod retained;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serverwamp_protocol::id::{RouterScopeIds, random_id};
use serverwamp_protocol::message::{Event, EventDetails, Message, Payload, PublishOptions};
use serverwamp_protocol::{Codec, Id, MatchPolicy};

use crate::outbound::{Outbound, SendError};
pub(crate) use meta::SubscriptionInfo;
pub(crate) use relay::Relay;
use retained::Retained;

/// What the broker needs of a subscriber.
pub(crate) trait Subscriber: Clone + Send + Sync + 'static {
    /// The subscriber's session ID.
    fn id(&self) -> Id;
    /// Its authid, for `exclude_authid` / `eligible_authid`.
    fn authid(&self) -> &str;
    /// Its authrole, for `exclude_authrole` / `eligible_authrole`.
    fn authrole(&self) -> &str;
    /// Where its events go.
    fn outbound(&self) -> &Outbound;
    /// Counts one event it lost to a full queue; returns the count so far.
    fn note_dropped_event(&self) -> u64;
    /// Closes it: it stayed too slow for too long.
    fn close_for_slowness(&self);
}

/// The subscriptions of one realm.
///
/// Spec, "Pattern-based Subscription": every subscription (a topic and a
/// match policy) has one ID shared by all its subscribers, so an event is
/// the same bytes for every subscriber that uses the same codec; it is
/// encoded once per codec and the bytes are shared.
pub(crate) struct Broker<S> {
    state: RwLock<State<S>>,
    ids: RouterScopeIds,
    slow: SlowSubscribers,
    realm: Arc<str>,
    /// The backplane link of a node in a cluster.
    relay: Option<Arc<Relay>>,
    /// The retained event of each topic (spec, "Event Retention"); apart
    /// from `state` so publications without `retain` never touch it.
    retained: Mutex<HashMap<Arc<str>, Retained>>,
    /// Events not retained because the realm retains its most topics.
    retained_refused: std::sync::atomic::AtomicU64,
}

/// What a realm does with subscribers whose outbound queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlowSubscribers {
    pub(crate) policy: SlowSubscriberPolicy,
    /// How long a queue may stay full before its session counts as slow.
    pub(crate) timeout: Duration,
}

impl Default for SlowSubscribers {
    fn default() -> Self {
        SlowSubscribers {
            policy: SlowSubscriberPolicy::default(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// One event to fan out.
pub(crate) struct Publication<'a> {
    pub(crate) topic: &'a str,
    pub(crate) payload: Payload,
    pub(crate) details: EventDetails,
    /// Which subscribers a client's publication reaches (all without one).
    pub(crate) audience: Option<&'a Audience<'a>>,
    /// Only this session, if set (never relayed to other nodes).
    pub(crate) only: Option<Id>,
    /// The publication ID, if given (another node's publication).
    pub(crate) id: Option<Id>,
    /// Only this subscription, if set.
    pub(crate) within: Option<Id>,
    /// Whether it came from another node, and so goes to no other.
    pub(crate) relayed: bool,
}

impl<'a> Publication<'a> {
    /// An event from the application, to every subscriber.
    pub(crate) fn new(topic: &'a str, payload: Payload) -> Self {
        Publication {
            topic,
            payload,
            details: EventDetails::default(),
            audience: None,
            only: None,
            id: None,
            within: None,
            relayed: false,
        }
    }
}

struct State<S> {
    exact: HashMap<Arc<str>, Id>,
    patterns: HashMap<(MatchPolicy, Arc<str>), Id>,
    subscriptions: HashMap<Id, Subscription<S>>,
}

impl<S> Default for State<S> {
    fn default() -> Self {
        State {
            exact: HashMap::new(),
            patterns: HashMap::new(),
            subscriptions: HashMap::new(),
        }
    }
}

struct Subscription<S> {
    topic: Arc<str>,
    policy: MatchPolicy,
    subscribers: HashMap<Id, Subscribed<S>>,
    /// Its listening on the backplane, in a cluster.
    watch: Option<relay::Watch>,
    /// When it was made, for the subscription meta API.
    created: std::time::SystemTime,
}

/// One subscriber of a subscription.
struct Subscribed<S> {
    session: S,
    /// Set once SUBSCRIBED is queued; events before that are held.
    active: AtomicBool,
    held: Mutex<Option<Vec<Bytes>>>,
}

/// Which subscribers receive a client's publication (spec, "Subscriber
/// Black- and Whitelisting" and "Publisher Exclusion").
pub(crate) struct Audience<'a> {
    /// The publisher's session ID, excluded unless `exclude_me` is false.
    pub(crate) publisher: Option<Id>,
    pub(crate) options: &'a PublishOptions,
}

impl Audience<'_> {
    fn admits<S: Subscriber>(&self, session: &S) -> bool {
        let o = self.options;
        let id = session.id();
        let excluded_me = o.exclude_me != Some(false) && self.publisher == Some(id);
        let authid = session.authid();
        let authrole = session.authrole();
        let listed = |list: &Option<Vec<String>>, value: &str| {
            list.as_ref().is_some_and(|l| l.iter().any(|x| x == value))
        };
        !excluded_me
            && !o.exclude.as_ref().is_some_and(|l| l.contains(&id))
            && !listed(&o.exclude_authid, authid)
            && !listed(&o.exclude_authrole, authrole)
            && o.eligible.as_ref().is_none_or(|l| l.contains(&id))
            && (o.eligible_authid.is_none() || listed(&o.eligible_authid, authid))
            && (o.eligible_authrole.is_none() || listed(&o.eligible_authrole, authrole))
    }
}

/// Bytes of one event, per codec, encoded on first need.
struct Encodings<'m> {
    message: &'m Message,
    done: Vec<(Codec, Option<Bytes>)>,
}

impl Encodings<'_> {
    fn get(&mut self, codec: Codec) -> Option<Bytes> {
        if let Some((_, bytes)) = self.done.iter().find(|(c, _)| *c == codec) {
            return bytes.clone();
        }
        let bytes = crate::outbound::encode_record(codec, self.message)
            .map_err(|e| tracing::warn!(error = %e, "an event cannot be encoded; not sent"))
            .ok();
        self.done.push((codec, bytes.clone()));
        bytes
    }
}

impl<S: Subscriber> Broker<S> {
    pub(crate) fn new(slow: SlowSubscribers, realm: &str, relay: Option<Arc<Relay>>) -> Self {
        Broker {
            state: RwLock::default(),
            ids: RouterScopeIds::new(),
            slow,
            realm: Arc::from(realm),
            relay,
            retained: Mutex::default(),
            retained_refused: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State<S>> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State<S>> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `session` to the subscription of `topic` with `policy` (made on
    /// first use), held until [`Broker::activate`]. Returns the
    /// subscription ID and whether the session was newly added.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        session: &S,
        topic: &str,
        policy: MatchPolicy,
    ) -> (Id, bool) {
        let mut state = self.write();
        let existing = match policy {
            MatchPolicy::Exact => state.exact.get(topic).copied(),
            other => state.patterns.get(&(other, Arc::from(topic))).copied(),
        };
        let id = match existing {
            Some(id) => id,
            None => {
                let id = self.ids.next();
                let topic: Arc<str> = Arc::from(topic);
                let watch = self.relay.as_ref().and_then(|relay| {
                    relay.watch(Arc::downgrade(self), &self.realm, &topic, policy, id)
                });
                match policy {
                    MatchPolicy::Exact => state.exact.insert(topic.clone(), id),
                    other => state.patterns.insert((other, topic.clone()), id),
                };
                state.subscriptions.insert(
                    id,
                    Subscription {
                        topic,
                        policy,
                        subscribers: HashMap::new(),
                        watch,
                        created: std::time::SystemTime::now(),
                    },
                );
                id
            }
        };
        let Some(subscription) = state.subscriptions.get_mut(&id) else {
            return (id, false);
        };
        if subscription.subscribers.contains_key(&session.id()) {
            return (id, false);
        }
        subscription.subscribers.insert(
            session.id(),
            Subscribed {
                session: session.clone(),
                active: AtomicBool::new(false),
                held: Mutex::new(Some(Vec::new())),
            },
        );
        (id, true)
    }

    /// What to wait on before telling a client its new subscription is in
    /// place: the backplane taking the subscription's interest, when this
    /// node is in a cluster whose backplane is connected.
    pub(crate) fn readiness(&self, subscription: Id) -> Option<tokio::sync::watch::Receiver<bool>> {
        if !self.relay.as_ref().is_some_and(|r| r.is_connected()) {
            return None;
        }
        let state = self.read();
        let watch = state.subscriptions.get(&subscription)?.watch.as_ref()?;
        Some(watch.readiness())
    }

    /// Gives a publication its ID and, for a local one in a cluster, its
    /// envelope for the other nodes.
    fn envelope(&self, publication: &mut Publication<'_>, wait: bool) -> Option<relay::Envelope> {
        let id = *publication.id.get_or_insert_with(random_id);
        let relay = self.relay.as_ref()?;
        if publication.relayed || publication.only.is_some() {
            return None;
        }
        relay.envelope(&self.realm, publication, id, wait)
    }

    /// Sends the events held for a new subscriber (SUBSCRIBED is out), then
    /// lets events flow to it directly.
    pub(crate) fn activate(&self, subscription: Id, session: Id) {
        let state = self.read();
        let Some(subscriber) = state
            .subscriptions
            .get(&subscription)
            .and_then(|s| s.subscribers.get(&session))
        else {
            return;
        };
        let mut held = subscriber
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for bytes in held.take().unwrap_or_default() {
            self.deliver_now(&subscriber.session, bytes);
        }
        subscriber.active.store(true, Ordering::Release);
    }

    /// Removes `session` from a subscription; the subscription goes when its
    /// last subscriber does. Returns whether the session was subscribed.
    pub(crate) fn unsubscribe(&self, subscription: Id, session: Id) -> bool {
        let mut state = self.write();
        let Some(sub) = state.subscriptions.get_mut(&subscription) else {
            return false;
        };
        let removed = sub.subscribers.remove(&session).is_some();
        if sub.subscribers.is_empty() {
            let (topic, policy) = (sub.topic.clone(), sub.policy);
            state.subscriptions.remove(&subscription);
            match policy {
                MatchPolicy::Exact => state.exact.remove(&topic),
                other => state.patterns.remove(&(other, topic)),
            };
        }
        removed
    }

    /// Publishes without waiting: a subscriber whose queue is full loses
    /// the event (counted), and one whose queue has stayed full for the
    /// slow-subscriber timeout meets the realm's policy.
    pub(crate) fn publish(&self, mut publication: Publication<'_>) -> PublishReport {
        if let (Some(relay), Some(envelope)) = (&self.relay, self.envelope(&mut publication, false))
        {
            relay.send_now(envelope);
        }
        let (mut report, full) = self.fan_out(publication);
        for (session, _) in full {
            let slow = session
                .outbound()
                .full_since()
                .is_some_and(|since| since.elapsed() >= self.slow.timeout);
            self.drop_event(&session, slow);
            report.dropped += 1;
        }
        report
    }

    /// Publishes, waiting for room in each full subscriber's queue until it
    /// has been full for the slow-subscriber timeout; a subscriber still
    /// full then meets the realm's policy.
    pub(crate) async fn publish_wait(&self, mut publication: Publication<'_>) -> PublishReport {
        if let (Some(relay), Some(envelope)) = (&self.relay, self.envelope(&mut publication, true))
        {
            relay.send_waiting(envelope, self.slow.timeout).await;
        }
        let (mut report, full) = self.fan_out(publication);
        if full.is_empty() {
            return report;
        }
        let waits = full.into_iter().map(|(session, bytes)| async move {
            let outbound = &session.outbound();
            let deadline = outbound.full_since().unwrap_or_else(Instant::now) + self.slow.timeout;
            match outbound.send_encoded_until(bytes, deadline).await {
                Ok(()) => Some(true),
                Err(SendError::Closed) => None,
                Err(SendError::Full) => {
                    self.drop_event(&session, true);
                    Some(false)
                }
            }
        });
        for outcome in futures_util::future::join_all(waits).await {
            match outcome {
                Some(true) => report.delivered += 1,
                Some(false) => report.dropped += 1,
                None => {}
            }
        }
        report
    }

    /// Encodes the event (once per codec of each matching subscription) and
    /// queues it for every subscriber with room. Returns the report so far
    /// and the subscribers whose queue was full, with their bytes.
    fn fan_out(&self, publication: Publication<'_>) -> (PublishReport, Vec<(S, Bytes)>) {
        let Publication {
            topic,
            payload,
            details,
            audience,
            only,
            id,
            within,
            relayed: _,
        } = publication;
        let publication = id.unwrap_or_else(random_id);
        let mut report = PublishReport {
            publication,
            delivered: 0,
            dropped: 0,
        };
        let mut full = Vec::new();
        let state = self.read();
        let mut matching: Vec<(Id, &Subscription<S>)> = Vec::new();
        if let Some(id) = within {
            // Another node's publication, for the subscription that listened.
            matching.extend(
                state
                    .subscriptions
                    .get_key_value(&id)
                    .map(|(id, sub)| (*id, sub)),
            );
        } else if let Some((id, sub)) = state
            .exact
            .get(topic)
            .and_then(|id| state.subscriptions.get_key_value(id))
        {
            matching.push((*id, sub));
        }
        if within.is_none() {
            matching.extend(
                state
                    .patterns
                    .values()
                    .filter_map(|id| state.subscriptions.get_key_value(id))
                    .filter(|(_, sub)| sub.policy.matches(&sub.topic, topic))
                    .map(|(id, sub)| (*id, sub)),
            );
        }
        if matching.is_empty() {
            return (report, full);
        }
        let mut message = Message::Event(Event {
            subscription: publication,
            publication,
            details,
            payload,
        });
        for (id, sub) in matching {
            if let Message::Event(event) = &mut message {
                event.subscription = id;
                // Spec: pattern subscribers learn the concrete topic.
                event.details.topic = (sub.policy != MatchPolicy::Exact).then(|| topic.to_owned());
            }
            let mut encodings = Encodings {
                message: &message,
                done: Vec::new(),
            };
            let mut send_to = |subscriber: &Subscribed<S>| {
                let session = &subscriber.session;
                if audience.is_some_and(|a| !a.admits(session)) {
                    return;
                }
                let Some(bytes) = encodings.get(session.outbound().codec()) else {
                    return;
                };
                match self.deliver(subscriber, bytes) {
                    Ok(()) => report.delivered += 1,
                    Err((SendError::Full, bytes)) => full.push((session.clone(), bytes)),
                    Err((SendError::Closed, _)) => {}
                }
            };
            match only {
                Some(session) => {
                    if let Some(subscriber) = sub.subscribers.get(&session) {
                        send_to(subscriber);
                    }
                }
                None => sub.subscribers.values().for_each(&mut send_to),
            }
        }
        (report, full)
    }

    /// Queues an event for one subscriber, or holds it until SUBSCRIBED is
    /// out. Never waits; a full queue gives the bytes back.
    fn deliver(&self, subscriber: &Subscribed<S>, bytes: Bytes) -> Result<(), (SendError, Bytes)> {
        if !subscriber.active.load(Ordering::Acquire) {
            let mut held = subscriber
                .held
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(held) = held.as_mut() {
                held.push(bytes);
                return Ok(());
            }
        }
        let outbound = &subscriber.session.outbound();
        outbound
            .try_send_encoded(bytes.clone())
            .map_err(|e| (e, bytes))
    }

    /// Queues a held event now, dropping it if the queue is full.
    fn deliver_now(&self, session: &S, bytes: Bytes) {
        if let Err(SendError::Full) = session.outbound().try_send_encoded(bytes) {
            self.drop_event(session, false);
        }
    }

    /// Counts an event `session` lost to a full queue (logged at 1, 2, 4, …
    /// lost events) and, when the session is `slow` (full past the timeout)
    /// under [`SlowSubscriberPolicy::CloseSession`], closes it.
    fn drop_event(&self, session: &S, slow: bool) {
        crate::observe::event_dropped();
        let dropped = session.note_dropped_event();
        if dropped.is_power_of_two() {
            tracing::warn!(
                session = %session.id(),
                dropped,
                "events dropped: the client does not read them as fast as they are published"
            );
        }
        if slow && self.slow.policy == SlowSubscriberPolicy::CloseSession {
            tracing::warn!(
                session = %session.id(),
                full_for = ?self.slow.timeout,
                "closing a session whose client stopped reading its events"
            );
            session.close_for_slowness();
        }
    }
}

/// The brokers of an application, by realm. A broker lives while sessions
/// of its realm do, so realms named once do not pile up.
pub(crate) struct Brokers<S> {
    by_realm: Mutex<HashMap<String, Weak<Broker<S>>>>,
    /// Brokers kept while no session of their realm is open, because they
    /// hold retained events.
    pinned: Mutex<HashMap<String, Arc<Broker<S>>>>,
}

impl<S> Default for Brokers<S> {
    fn default() -> Self {
        Brokers {
            by_realm: Mutex::default(),
            pinned: Mutex::default(),
        }
    }
}

impl<S: Subscriber> Brokers<S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<Broker<S>>>> {
        self.by_realm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The realm's broker, made if no session of the realm is open.
    pub(crate) fn get_or_create(
        &self,
        realm: &str,
        slow: SlowSubscribers,
        relay: Option<&Arc<Relay>>,
    ) -> Arc<Broker<S>> {
        let mut map = self.lock();
        if let Some(broker) = map.get(realm).and_then(Weak::upgrade) {
            return broker;
        }
        let broker = Arc::new(Broker::new(slow, realm, relay.cloned()));
        map.insert(realm.to_owned(), Arc::downgrade(&broker));
        if map.len() > 64 && map.len().is_power_of_two() {
            map.retain(|_, b| b.strong_count() > 0);
        }
        broker
    }

    /// The realm's broker, if a session of the realm is open (or it holds
    /// retained events).
    pub(crate) fn get(&self, realm: &str) -> Option<Arc<Broker<S>>> {
        self.lock().get(realm).and_then(Weak::upgrade)
    }

    /// Keeps `broker` when the last session of its realm closes: it holds
    /// retained events. Once per realm.
    pub(crate) fn pin(&self, broker: &Arc<Broker<S>>) {
        let mut pinned = self
            .pinned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !pinned.contains_key(&*broker.realm) {
            pinned.insert(broker.realm.to_string(), broker.clone());
        }
    }
}

/// What happens to a subscriber that does not keep up.
///
/// Every session has one outbound queue, bounded in bytes
/// ([`Application::set_outbound_queue_limit`](crate::Application::set_outbound_queue_limit),
/// 1 MiB by default). Events published without waiting
/// ([`Session::publish`](crate::Session::publish)) that find a subscriber's
/// queue full are dropped for that subscriber: the client misses them, and
/// they are counted in [`PublishReport::dropped`] and
/// [`Session::dropped_events`](crate::Session::dropped_events) and logged
/// (at the 1st, 2nd, 4th, 8th, … drop). The waiting variants
/// ([`Session::publish_wait`](crate::Session::publish_wait)) wait for room
/// instead, so a burst reaches a subscriber that reads, however long it is.
///
/// A subscriber is *slow* once its queue has stayed full for the
/// slow-subscriber timeout
/// ([`Application::set_slow_subscriber_timeout`](crate::Application::set_slow_subscriber_timeout),
/// 10 s by default; the queue counts as full from the moment a sender
/// found no room until it has drained below half). Waiting publishers stop
/// waiting for a slow subscriber, and this policy decides what happens to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SlowSubscriberPolicy {
    /// Drop the events a slow subscriber has no room for, and count them.
    /// The session stays open and gets events again once it catches up.
    #[default]
    DropEvents,
    /// Close a slow subscriber's session: it gets GOODBYE
    /// `wamp.close.killed` with the message "the client did not read its
    /// events fast enough" after what is already queued, and the
    /// connection closes without waiting for a reply (at most 5 s later
    /// if the client reads nothing at all).
    CloseSession,
}

/// The outcome of a publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishReport {
    /// The publication's ID (random, global scope).
    pub publication: serverwamp_protocol::Id,
    /// How many events were queued for subscribers.
    pub delivered: usize,
    /// How many were dropped because a subscriber could not keep up.
    pub dropped: usize,
}

impl PublishReport {
    /// The report of a publication nobody could receive.
    pub(crate) fn nobody() -> Self {
        PublishReport {
            publication: serverwamp_protocol::id::random_id(),
            delivered: 0,
            dropped: 0,
        }
    }
}
