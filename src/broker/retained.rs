//! Event retention (spec, "Event Retention"): the last event published
//! with `retain: true` on a topic, given to subscribers that ask for it
//! with `get_retained: true`.

use std::sync::Arc;

use serverwamp_protocol::message::{EventDetails, Payload, PublishOptions};
use serverwamp_protocol::{Id, MatchPolicy};

use super::{Audience, Broker, Subscriber};

/// The most topics a realm retains an event for: a client must not grow
/// the server's memory without bound. Past it, `retain` on a new topic is
/// ignored, as the spec lets a broker do.
pub(crate) const MAX_RETAINED_TOPICS: usize = 4_096;

/// A topic's retained event, with who could receive it when it was
/// published.
pub(super) struct Retained {
    payload: Payload,
    details: EventDetails,
    /// The publisher, excluded unless it published with `exclude_me:
    /// false`.
    publisher: Option<Id>,
    /// The publication's options, for its black- and whitelists.
    options: Option<PublishOptions>,
}

/// A retained event as one subscriber receives it.
pub(crate) struct RetainedEvent {
    pub(crate) payload: Payload,
    /// Its details, `retained: true` set.
    pub(crate) details: EventDetails,
}

impl<S: Subscriber> Broker<S> {
    fn retained_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<Arc<str>, Retained>> {
        self.retained
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `payload` as the retained event of `topic`, replacing the one
    /// before. A client's publication keeps its audience, so a late
    /// subscriber gets it only if it could have received it then.
    pub(crate) fn retain(
        &self,
        topic: &str,
        payload: Payload,
        details: EventDetails,
        audience: Option<&Audience<'_>>,
    ) {
        let retained = Retained {
            payload,
            details,
            publisher: audience.and_then(|a| a.publisher),
            options: audience.map(|a| retained_options(a.options)),
        };
        let mut all = self.retained_lock();
        if all.len() >= MAX_RETAINED_TOPICS && !all.contains_key(topic) {
            // Logged at the 1st, 2nd, 4th, … refusal, so a client cannot
            // flood the log.
            let refused = self
                .retained_refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    realm = %self.realm,
                    topic,
                    refused,
                    "events not retained: the realm retains events on {MAX_RETAINED_TOPICS} topics, the most it may"
                );
            }
            return;
        }
        all.insert(Arc::from(topic), retained);
    }

    /// The retained events a new subscription of `session` to `topic`
    /// with `policy` receives: the exact topic's, or every matching
    /// topic's for a pattern, each only if `session` is in its audience.
    pub(crate) fn retained_for(
        &self,
        session: &S,
        topic: &str,
        policy: MatchPolicy,
    ) -> Vec<RetainedEvent> {
        let retained = self.retained_lock();
        let admits = |r: &Retained| match &r.options {
            Some(options) => Audience {
                publisher: r.publisher,
                options,
            }
            .admits(session),
            None => true,
        };
        let event = |uri: &str, r: &Retained| {
            let mut details = r.details.clone();
            details.retained = Some(true);
            // Spec: pattern subscribers learn the concrete topic.
            details.topic = (policy != MatchPolicy::Exact).then(|| uri.to_owned());
            RetainedEvent {
                payload: r.payload.clone(),
                details,
            }
        };
        match policy {
            MatchPolicy::Exact => retained
                .get(topic)
                .filter(|r| admits(r))
                .map(|r| event(topic, r))
                .into_iter()
                .collect(),
            _ => retained
                .iter()
                .filter(|(uri, r)| policy.matches(topic, uri) && admits(r))
                .map(|(uri, r)| event(uri, r))
                .collect(),
        }
    }
}

impl<S: Subscriber> Broker<S> {
    /// Whether any event is retained.
    pub(crate) fn has_retained(&self) -> bool {
        !self.retained_lock().is_empty()
    }
}

/// The options of a publication that decide its audience; the rest are
/// not kept.
fn retained_options(options: &PublishOptions) -> PublishOptions {
    PublishOptions {
        exclude_me: options.exclude_me,
        exclude: options.exclude.clone(),
        exclude_authid: options.exclude_authid.clone(),
        exclude_authrole: options.exclude_authrole.clone(),
        eligible: options.eligible.clone(),
        eligible_authid: options.eligible_authid.clone(),
        eligible_authrole: options.eligible_authrole.clone(),
        ..PublishOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serverwamp_protocol::message::{EventDetails, Payload, PublishOptions};
    use serverwamp_protocol::{Codec, Id, MatchPolicy, Serialization, Value};

    use super::super::{Audience, Broker, SlowSubscribers, Subscriber};
    use super::MAX_RETAINED_TOPICS;
    use crate::outbound::Outbound;

    /// A subscriber with an ID and a role, whose events go nowhere.
    #[derive(Clone)]
    struct Fake {
        id: Id,
        role: &'static str,
        outbound: Outbound,
    }

    impl Fake {
        fn new(id: u64, role: &'static str) -> Self {
            let (outbound, _queue) =
                Outbound::channel(Codec::new(Serialization::Json), None, 1 << 16);
            Fake {
                id: Id::new(id).expect("an ID"),
                role,
                outbound,
            }
        }
    }

    impl Subscriber for Fake {
        fn id(&self) -> Id {
            self.id
        }
        fn authid(&self) -> &str {
            "someone"
        }
        fn authrole(&self) -> &str {
            self.role
        }
        fn outbound(&self) -> &Outbound {
            &self.outbound
        }
        fn note_dropped_event(&self) -> u64 {
            0
        }
        fn close_for_slowness(&self) {}
    }

    fn broker() -> Arc<Broker<Fake>> {
        Arc::new(Broker::new(SlowSubscribers::default(), "realm1", None))
    }

    fn payload(n: u64) -> Payload {
        Payload::from_args(vec![Value::UInt(n)])
    }

    #[test]
    fn the_latest_event_of_a_topic_is_retained() {
        let broker = broker();
        let me = Fake::new(1, "user");
        assert!(!broker.has_retained());
        broker.retain("a.b", payload(1), EventDetails::default(), None);
        broker.retain("a.b", payload(2), EventDetails::default(), None);
        broker.retain("a.c", payload(3), EventDetails::default(), None);
        let exact = broker.retained_for(&me, "a.b", MatchPolicy::Exact);
        assert_eq!(exact.len(), 1);
        assert_eq!(exact[0].payload, payload(2));
        assert_eq!(exact[0].details.retained, Some(true));
        assert_eq!(exact[0].details.topic, None);
        let mut prefix = broker.retained_for(&me, "a", MatchPolicy::Prefix);
        prefix.sort_by(|x, y| x.details.topic.cmp(&y.details.topic));
        let topics: Vec<_> = prefix.iter().map(|e| e.details.topic.clone()).collect();
        assert_eq!(topics, [Some("a.b".to_owned()), Some("a.c".to_owned())]);
        let wildcard = broker.retained_for(&me, ".c", MatchPolicy::Wildcard);
        assert_eq!(wildcard.len(), 1);
        assert_eq!(wildcard[0].details.topic.as_deref(), Some("a.c"));
        assert!(broker.retained_for(&me, "x", MatchPolicy::Exact).is_empty());
    }

    #[test]
    fn a_retained_event_keeps_its_audience() {
        let broker = broker();
        let publisher = Fake::new(1, "user");
        let guest = Fake::new(2, "guest");
        let user = Fake::new(3, "user");
        let options = PublishOptions {
            exclude_authrole: Some(vec!["guest".into()]),
            ..PublishOptions::default()
        };
        let audience = Audience {
            publisher: Some(publisher.id),
            options: &options,
        };
        broker.retain("t", payload(1), EventDetails::default(), Some(&audience));
        let count = |s: &Fake| broker.retained_for(s, "t", MatchPolicy::Exact).len();
        // The publisher is excluded (exclude_me defaults to true), and so
        // are guests.
        assert_eq!((count(&publisher), count(&guest), count(&user)), (0, 0, 1));
    }

    #[test]
    fn the_number_of_retained_topics_is_bounded() {
        let broker = broker();
        let me = Fake::new(1, "user");
        for i in 0..=MAX_RETAINED_TOPICS as u64 {
            broker.retain(&format!("t{i}"), payload(i), EventDetails::default(), None);
        }
        let last = format!("t{MAX_RETAINED_TOPICS}");
        assert!(
            broker
                .retained_for(&me, &last, MatchPolicy::Exact)
                .is_empty()
        );
        // A topic already retained is still replaced.
        broker.retain("t0", payload(7), EventDetails::default(), None);
        let first = broker.retained_for(&me, "t0", MatchPolicy::Exact);
        assert_eq!(first[0].payload, payload(7));
    }
}
