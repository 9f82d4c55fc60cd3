//! SUBSCRIBE, UNSUBSCRIBE and PUBLISH from a client.

use std::sync::Arc;

use serverwamp_protocol::id::random_id;
use serverwamp_protocol::message::{
    Event, EventDetails, Message, MessageType, Payload, Publish, Published, Subscribe, Subscribed,
    Unsubscribe, Unsubscribed,
};
use serverwamp_protocol::uri::is_reserved;
use serverwamp_protocol::well_known::error;
use serverwamp_protocol::{Id, MatchPolicy, Value};

use super::auth::not_authorized;
use super::meta::id_value;
use super::{Connection, Flow, Phase};
use crate::WampError;
use crate::auth::Action;
use crate::broker::{Audience, Broker, Publication};
use crate::engine::Counters;
use crate::handler::Arguments;
use crate::pubsub::{Teardown, Topic, TopicContext};
use crate::realm::Limits;
use crate::session::Session;

impl Connection {
    /// The context topic handlers extract their arguments from.
    fn topic_context(&self, session: &Session, topic: Topic) -> TopicContext {
        TopicContext {
            session: session.clone(),
            topic,
            state: self.config.state.clone(),
            subscribe_options: None,
            publish_options: None,
            arguments: Arguments::default(),
        }
    }

    async fn send_error(&mut self, request_type: MessageType, request: Id, err: WampError) {
        self.outbound
            .send_message(&err.to_message(request_type, request))
            .await;
    }

    pub(super) async fn on_subscribe(&mut self, subscribe: Subscribe) -> Flow {
        if !self.authorize(Action::Subscribe, &subscribe.topic).await {
            let err = not_authorized(Action::Subscribe, &subscribe.topic);
            self.send_error(MessageType::Subscribe, subscribe.request, err)
                .await;
            return Flow::Continue;
        }
        let Phase::Open(open) = &self.phase else {
            return Flow::Continue;
        };
        let (session, broker) = (open.session.clone(), open.broker.clone());
        let request = subscribe.request;
        let policy = subscribe.options.match_policy.unwrap_or_default();
        let route = open.realm.subscribe_route(&subscribe.topic).cloned();
        let open_broker = open.realm.is_open_broker();
        let admitters = &self.config.subscribe_handlers;
        // In a realm serving the meta API, its `wamp.` topics are served.
        let meta = open.realm.meta_api() && is_reserved(&subscribe.topic);
        if route.is_none() && !open_broker && admitters.is_empty() && !meta {
            let err = WampError::new(error::NOT_AUTHORIZED).arg(format!(
                "no subscriptions to {:?} are served",
                subscribe.topic
            ));
            self.send_error(MessageType::Subscribe, request, err).await;
            return Flow::Continue;
        }
        let held = open.subscriptions.len();
        let meta_events = open.realm.meta_api() && !is_reserved(&subscribe.topic);
        let get_retained = subscribe.options.get_retained == Some(true);
        let (subscription, added) = broker.subscribe(&session, &subscribe.topic, policy);
        if !added {
            // Spec: a repeated SUBSCRIBE gets the existing subscription.
            self.send_subscribed(request, subscription).await;
            return Flow::Continue;
        }
        let limit = self.config.limits.max_subscriptions;
        if held >= limit {
            broker.unsubscribe(subscription, session.id());
            Counters::count(&self.engine.stats.subscriptions_refused);
            let err = WampError::new(Limits::TOO_MANY_SUBSCRIPTIONS).arg(format!(
                "this session already holds {limit} subscriptions, the most it may"
            ));
            self.send_error(MessageType::Subscribe, request, err).await;
            return Flow::Continue;
        }
        let topic = Topic {
            uri: Arc::from(subscribe.topic),
            policy,
        };
        let mut cx = self.topic_context(&session, topic.clone());
        cx.subscribe_options = Some(Arc::new(subscribe.options));
        // The route's handler, then the application's subscribe handlers:
        // each admits (maybe with a teardown) or refuses. A refusal undoes
        // the teardowns of those that admitted, latest first.
        let mut teardown: Option<Teardown> = None;
        for handler in route.iter().chain(admitters) {
            match handler.call(cx.clone(), "subscribe").await {
                Ok(admitted) => {
                    teardown = match (teardown, admitted) {
                        (Some(earlier), Some(later)) => Some(later.then(earlier)),
                        (earlier, later) => later.or(earlier),
                    };
                }
                Err(err) => {
                    broker.unsubscribe(subscription, session.id());
                    if let Some(teardown) = teardown {
                        teardown.run().await;
                    }
                    self.send_error(MessageType::Subscribe, request, err).await;
                    return Flow::Continue;
                }
            }
        }
        // In a cluster, the other nodes' publications reach the
        // subscription once the backplane has taken its interest.
        if let Some(readiness) = broker.readiness(subscription) {
            crate::broker::relay::Watch::ready(readiness).await;
        }
        self.send_subscribed(request, subscription).await;
        if get_retained {
            // Spec, "Event Retention": the retained event right after
            // SUBSCRIBED, before anything published since.
            for retained in broker.retained_for(&session, &topic.uri, policy) {
                let event = Message::Event(Event {
                    subscription,
                    publication: random_id(),
                    details: retained.details,
                    payload: retained.payload,
                });
                self.outbound.send_message(&event).await;
            }
        }
        broker.activate(subscription, session.id());
        if meta_events {
            subscription_events(&broker, &session, subscription, true);
        }
        if let Phase::Open(open) | Phase::Closing(open, _) = &mut self.phase {
            open.subscriptions.insert(subscription, (topic, teardown));
        }
        Flow::Continue
    }

    async fn send_subscribed(&mut self, request: Id, subscription: Id) {
        let message = Message::Subscribed(Subscribed {
            request,
            subscription,
        });
        self.outbound.send_message(&message).await;
    }

    pub(super) async fn on_unsubscribe(&mut self, unsubscribe: Unsubscribe) -> Flow {
        let Phase::Open(open) = &mut self.phase else {
            return Flow::Continue;
        };
        let Some((topic, teardown)) = open.subscriptions.remove(&unsubscribe.subscription) else {
            let err = WampError::new(error::NO_SUCH_SUBSCRIPTION).arg(format!(
                "this session holds no subscription {}",
                unsubscribe.subscription
            ));
            self.send_error(MessageType::Unsubscribe, unsubscribe.request, err)
                .await;
            return Flow::Continue;
        };
        let (session, broker) = (open.session.clone(), open.broker.clone());
        let meta = open.realm.meta_api() && !is_reserved(&topic.uri);
        self.end_subscription(&session, &broker, unsubscribe.subscription, topic, teardown)
            .await;
        if meta {
            subscription_events(&broker, &session, unsubscribe.subscription, false);
        }
        let message = Message::Unsubscribed(Unsubscribed {
            request: unsubscribe.request,
        });
        self.outbound.send_message(&message).await;
        Flow::Continue
    }

    /// Removes a subscription and runs what its end runs: its teardown,
    /// then the application's unsubscribe handlers.
    pub(super) async fn end_subscription(
        &mut self,
        session: &Session,
        broker: &Broker<Session>,
        subscription: Id,
        topic: Topic,
        teardown: Option<Teardown>,
    ) {
        broker.unsubscribe(subscription, session.id());
        if let Some(teardown) = teardown {
            teardown.run().await;
        }
        if !self.config.unsubscribe_handlers.is_empty() {
            let cx = self.topic_context(session, topic);
            for handler in &self.config.unsubscribe_handlers {
                handler.call(cx.clone(), "unsubscribe").await;
            }
        }
    }

    pub(super) async fn on_publish(&mut self, publish: Publish) -> Flow {
        if !self.authorize(Action::Publish, &publish.topic).await {
            if publish.options.acknowledge == Some(true) {
                let err = not_authorized(Action::Publish, &publish.topic);
                self.send_error(MessageType::Publish, publish.request, err)
                    .await;
            }
            return Flow::Continue;
        }
        let Phase::Open(open) = &self.phase else {
            return Flow::Continue;
        };
        let (session, broker) = (open.session.clone(), open.broker.clone());
        let acknowledge = publish.options.acknowledge == Some(true);
        let request = publish.request;
        let route = open.realm.publish_route(&publish.topic).cloned();
        let open_broker = open.realm.is_open_broker();
        let outcome = if let Some(handler) = route {
            let topic = Topic {
                uri: Arc::from(publish.topic.as_str()),
                policy: MatchPolicy::Exact,
            };
            let mut cx = self.topic_context(&session, topic);
            if let Payload::Args { args, kwargs } = publish.payload {
                cx.arguments = Arguments::new(args, kwargs, self.config.snake_case_kwargs);
            }
            cx.publish_options = Some(Arc::new(publish.options));
            handler.call(cx, "publish").await.map(|()| random_id())
        } else if open_broker && open.realm.meta_api() && is_reserved(&publish.topic) {
            // Meta events come from the router alone.
            Err(not_authorized(Action::Publish, &publish.topic))
        } else if open_broker {
            let details = disclosed_details(&session, &publish);
            let audience = Audience {
                publisher: Some(session.id()),
                options: &publish.options,
            };
            if publish.options.retain == Some(true) {
                let payload = publish.payload.clone();
                broker.retain(&publish.topic, payload, details.clone(), Some(&audience));
            }
            let report = broker.publish(Publication {
                topic: &publish.topic,
                payload: publish.payload.clone(),
                details,
                audience: Some(&audience),
                only: None,
                id: None,
                within: None,
                relayed: false,
            });
            Ok(report.publication)
        } else {
            Err(WampError::new(error::NOT_AUTHORIZED).arg(format!(
                "publications to {:?} are not accepted",
                publish.topic
            )))
        };
        if acknowledge {
            match outcome {
                Ok(publication) => {
                    let message = Message::Published(Published {
                        request,
                        publication,
                    });
                    self.outbound.send_message(&message).await;
                }
                Err(err) => self.send_error(MessageType::Publish, request, err).await,
            }
        }
        Flow::Continue
    }
}

/// The subscription meta events of a session added to (`added`) or removed
/// from a subscription: `on_create` before `on_subscribe` for the first
/// subscriber, `on_delete` after `on_unsubscribe` for the last (spec,
/// "Subscription Meta API"). Not for the meta topics themselves.
pub(super) fn subscription_events(
    broker: &Broker<Session>,
    session: &Session,
    subscription: Id,
    added: bool,
) {
    let ids = || vec![id_value(session.id()), id_value(subscription)];
    let info = broker.subscription(subscription);
    if added {
        let first = broker
            .subscribers(subscription)
            .is_some_and(|s| s.len() == 1);
        if let (true, Some(info)) = (first, &info) {
            let details = Value::Dict(super::meta::subscription_details(info));
            let args = vec![id_value(session.id()), details];
            super::meta::meta_event(broker, "wamp.subscription.on_create", args);
        }
        super::meta::meta_event(broker, "wamp.subscription.on_subscribe", ids());
    } else {
        super::meta::meta_event(broker, "wamp.subscription.on_unsubscribe", ids());
        if info.is_none() {
            super::meta::meta_event(broker, "wamp.subscription.on_delete", ids());
        }
    }
}

/// EVENT details for a client's publication: the publisher when it asked to
/// be disclosed (spec, "Publisher Identification"), and the passthru keys
/// of a transparent payload.
fn disclosed_details(session: &Session, publish: &Publish) -> EventDetails {
    let options = &publish.options;
    let mut details = EventDetails::default();
    if options.disclose_me == Some(true) {
        details.publisher = Some(session.id());
        details.publisher_authid = Some(session.authid().to_owned());
        details.publisher_authrole = Some(session.authrole().to_owned());
    }
    details.enc_algo.clone_from(&options.enc_algo);
    details.enc_serializer.clone_from(&options.enc_serializer);
    details.ppt_scheme.clone_from(&options.ppt_scheme);
    details.ppt_serializer.clone_from(&options.ppt_serializer);
    details.ppt_cipher.clone_from(&options.ppt_cipher);
    details.ppt_keyid.clone_from(&options.ppt_keyid);
    details
}
