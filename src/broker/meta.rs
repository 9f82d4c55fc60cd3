//! What the subscription meta API (spec, "Subscription Meta API") reads of
//! a broker. Touched only by meta calls, never per event.

use std::time::SystemTime;

use serverwamp_protocol::{Id, MatchPolicy};

use super::{Broker, Subscriber};

/// One subscription as `wamp.subscription.get` describes it.
pub(crate) struct SubscriptionInfo {
    pub(crate) id: Id,
    pub(crate) created: SystemTime,
    pub(crate) uri: String,
    pub(crate) policy: MatchPolicy,
}

impl<S: Subscriber> Broker<S> {
    /// The IDs of every subscription, by match policy: exact, prefix,
    /// wildcard.
    pub(crate) fn subscription_ids(&self) -> [Vec<Id>; 3] {
        let state = self.read();
        let mut lists: [Vec<Id>; 3] = Default::default();
        for (id, sub) in &state.subscriptions {
            let index = match sub.policy {
                MatchPolicy::Exact => 0,
                MatchPolicy::Prefix => 1,
                _ => 2,
            };
            lists[index].push(*id);
        }
        lists
    }

    /// The subscription of `topic` with `policy`, if there is one.
    pub(crate) fn lookup(&self, topic: &str, policy: MatchPolicy) -> Option<Id> {
        let state = self.read();
        match policy {
            MatchPolicy::Exact => state.exact.get(topic).copied(),
            other => state
                .patterns
                .iter()
                .find(|((p, uri), _)| *p == other && &**uri == topic)
                .map(|(_, id)| *id),
        }
    }

    /// The subscriptions an event to `topic` would reach.
    pub(crate) fn matching(&self, topic: &str) -> Vec<Id> {
        let state = self.read();
        state
            .subscriptions
            .iter()
            .filter(|(_, sub)| sub.policy.matches(&sub.topic, topic))
            .map(|(id, _)| *id)
            .collect()
    }

    /// A subscription's details, if it exists.
    pub(crate) fn subscription(&self, id: Id) -> Option<SubscriptionInfo> {
        let state = self.read();
        let sub = state.subscriptions.get(&id)?;
        Some(SubscriptionInfo {
            id,
            created: sub.created,
            uri: sub.topic.to_string(),
            policy: sub.policy,
        })
    }

    /// The sessions subscribed to a subscription, if it exists.
    pub(crate) fn subscribers(&self, id: Id) -> Option<Vec<Id>> {
        let state = self.read();
        let sub = state.subscriptions.get(&id)?;
        Some(sub.subscribers.keys().copied().collect())
    }
}
