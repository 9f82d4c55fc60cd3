//! One realm's subscriptions and the fan-out of events to them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use bytes::Bytes;
use serverwamp_protocol::id::{RouterScopeIds, random_id};
use serverwamp_protocol::message::{Event, EventDetails, Message, Payload, PublishOptions};
use serverwamp_protocol::{Codec, Id, MatchPolicy};

use super::{PublishReport, SlowSubscriberPolicy};
use crate::session::{SendError, Session};

/// The subscriptions of one realm.
///
/// Spec, "Pattern-based Subscription": every subscription (a topic and a
/// match policy) has one ID shared by all its subscribers, so an event is
/// the same bytes for every subscriber that uses the same codec; it is
/// encoded once per codec and the bytes are shared.
pub(crate) struct Broker {
    state: RwLock<State>,
    ids: RouterScopeIds,
    policy: SlowSubscriberPolicy,
}

#[derive(Default)]
struct State {
    exact: HashMap<Arc<str>, Id>,
    patterns: HashMap<(MatchPolicy, Arc<str>), Id>,
    subscriptions: HashMap<Id, Subscription>,
}

struct Subscription {
    topic: Arc<str>,
    policy: MatchPolicy,
    subscribers: HashMap<Id, Subscriber>,
}

struct Subscriber {
    session: Session,
    /// Set once SUBSCRIBED is queued; events before that are held.
    active: AtomicBool,
    held: Mutex<Option<Vec<Bytes>>>,
}

/// Which subscribers receive a client's publication (spec, "Subscriber
/// Black- and Whitelisting" and "Publisher Exclusion").
pub(crate) struct Audience<'a> {
    /// The publisher, excluded unless `exclude_me` is false.
    pub(crate) publisher: Option<&'a Session>,
    pub(crate) options: &'a PublishOptions,
}

impl Audience<'_> {
    fn admits(&self, session: &Session) -> bool {
        let o = self.options;
        let id = session.id();
        let excluded_me =
            o.exclude_me != Some(false) && self.publisher.is_some_and(|p| p.id() == id);
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
        let bytes = crate::session::encode_record(codec, self.message)
            .map_err(|e| tracing::warn!(error = %e, "an event cannot be encoded; not sent"))
            .ok();
        self.done.push((codec, bytes.clone()));
        bytes
    }
}

impl Broker {
    pub(crate) fn new(policy: SlowSubscriberPolicy) -> Self {
        Broker {
            state: RwLock::default(),
            ids: RouterScopeIds::new(),
            policy,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `session` to the subscription of `topic` with `policy` (made on
    /// first use), held until [`Broker::activate`]. Returns the
    /// subscription ID and whether the session was newly added.
    pub(crate) fn subscribe(
        &self,
        session: &Session,
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
            Subscriber {
                session: session.clone(),
                active: AtomicBool::new(false),
                held: Mutex::new(Some(Vec::new())),
            },
        );
        (id, true)
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

    /// Publishes to every subscription matching `topic`, to the subscribers
    /// `audience` admits (all of them without one), or only to `only`.
    pub(crate) fn publish(
        &self,
        topic: &str,
        payload: Payload,
        details: EventDetails,
        audience: Option<&Audience<'_>>,
        only: Option<Id>,
    ) -> PublishReport {
        let publication = random_id();
        let mut report = PublishReport {
            publication,
            delivered: 0,
            dropped: 0,
        };
        let state = self.read();
        let mut matching: Vec<(Id, &Subscription)> = Vec::new();
        if let Some((id, sub)) = state
            .exact
            .get(topic)
            .and_then(|id| state.subscriptions.get_key_value(id))
        {
            matching.push((*id, sub));
        }
        matching.extend(
            state
                .patterns
                .values()
                .filter_map(|id| state.subscriptions.get_key_value(id))
                .filter(|(_, sub)| sub.policy.matches(&sub.topic, topic))
                .map(|(id, sub)| (*id, sub)),
        );
        if matching.is_empty() {
            return report;
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
            let mut send_to = |subscriber: &Subscriber| {
                let session = &subscriber.session;
                if audience.is_some_and(|a| !a.admits(session)) {
                    return;
                }
                let Some(bytes) = encodings.get(session.inner.outbound.codec()) else {
                    return;
                };
                if self.deliver(subscriber, bytes) {
                    report.delivered += 1;
                } else {
                    report.dropped += 1;
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
        report
    }

    /// Queues an event for one subscriber, or holds it until SUBSCRIBED is
    /// out. Never waits: a full queue applies the slow-subscriber policy.
    fn deliver(&self, subscriber: &Subscriber, bytes: Bytes) -> bool {
        if !subscriber.active.load(Ordering::Acquire) {
            let mut held = subscriber
                .held
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(held) = held.as_mut() {
                held.push(bytes);
                return true;
            }
        }
        self.deliver_now(&subscriber.session, bytes)
    }

    fn deliver_now(&self, session: &Session, bytes: Bytes) -> bool {
        match session.inner.outbound.try_send_encoded(bytes) {
            Ok(()) => true,
            Err(SendError::Closed) => false,
            Err(SendError::Full) => {
                session.note_dropped_event();
                if self.policy == SlowSubscriberPolicy::CloseSession {
                    session.close_for_slowness();
                }
                false
            }
        }
    }
}

/// The brokers of an application, by realm. A broker lives while sessions
/// of its realm do, so realms named once do not pile up.
#[derive(Default)]
pub(crate) struct Brokers {
    by_realm: Mutex<HashMap<String, Weak<Broker>>>,
}

impl Brokers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<Broker>>> {
        self.by_realm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The realm's broker, made if no session of the realm is open.
    pub(crate) fn get_or_create(&self, realm: &str, policy: SlowSubscriberPolicy) -> Arc<Broker> {
        let mut map = self.lock();
        if let Some(broker) = map.get(realm).and_then(Weak::upgrade) {
            return broker;
        }
        let broker = Arc::new(Broker::new(policy));
        map.insert(realm.to_owned(), Arc::downgrade(&broker));
        if map.len() > 64 && map.len().is_power_of_two() {
            map.retain(|_, b| b.strong_count() > 0);
        }
        broker
    }

    /// The realm's broker, if a session of the realm is open.
    pub(crate) fn get(&self, realm: &str) -> Option<Arc<Broker>> {
        self.lock().get(realm).and_then(Weak::upgrade)
    }
}
