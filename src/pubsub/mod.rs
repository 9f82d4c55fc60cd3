//! Publish & subscribe: topic routes, subscriptions, and events sent to the
//! sessions that subscribed.
//!
//! The application is the broker for its own clients. A [`TopicRouteSet`]
//! says which topics clients may subscribe to (and what runs when they do),
//! and which client publications the application accepts. Events are sent
//! with [`Session::send_event`](crate::Session::send_event) to one session,
//! or [`Session::publish`](crate::Session::publish) /
//! [`Application::publish`](crate::Application::publish) to every subscriber
//! of a topic in a realm. Each event is encoded once per serialization in
//! use and the bytes are shared by all its subscribers.

mod handler;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use serverwamp_protocol::MatchPolicy;

pub use handler::{OnPublish, OnSubscribe, OnUnsubscribe, Topic, TopicContext};
pub use serverwamp_protocol::message::{PublishOptions, SubscribeOptions};

pub use crate::broker::{PublishReport, SlowSubscriberPolicy};
use crate::handler::{BoxedHandler, Handler};
use crate::routing::UriTable;

/// What runs when a subscription ends (the client unsubscribes or its
/// session ends): what the Python serverwamp library writes as the code
/// after a subscription handler's `yield`.
///
/// Either a guard whose `Drop` does the cleanup, or an async function.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::collections::HashSet;
/// use serverwamp::Session;
/// use serverwamp::pubsub::Teardown;
///
/// #[derive(Clone, Default)]
/// struct Listeners(Arc<Mutex<HashSet<u64>>>);
///
/// async fn join(session: Session, listeners: Listeners) -> Teardown {
///     let id = session.id().get();
///     listeners.0.lock().unwrap().insert(id);
///     Teardown::new(move || async move {
///         listeners.0.lock().unwrap().remove(&id);
///     })
/// }
/// # let _ = join;
/// ```
pub struct Teardown(std::sync::Mutex<TeardownKind>);

enum TeardownKind {
    Guard(#[allow(dead_code)] Box<dyn Any + Send>),
    Async(Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>),
}

impl Teardown {
    /// A teardown that runs `f` to completion.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Teardown(std::sync::Mutex::new(TeardownKind::Async(Box::new(
            move || Box::pin(f()),
        ))))
    }

    /// A teardown that runs `self`, then `next`.
    pub(crate) fn then(self, next: Teardown) -> Teardown {
        Teardown::new(move || async move {
            self.run().await;
            next.run().await;
        })
    }

    /// A teardown that drops `guard`.
    pub fn guard<G: Send + 'static>(guard: G) -> Self {
        Teardown(std::sync::Mutex::new(TeardownKind::Guard(Box::new(guard))))
    }

    /// Runs the teardown.
    pub(crate) async fn run(self) {
        // The mutex only makes a `Send` teardown shareable; it is never
        // contended.
        let kind = self
            .0
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match kind {
            TeardownKind::Guard(guard) => drop(guard),
            TeardownKind::Async(f) => f().await,
        }
    }
}

impl std::fmt::Debug for Teardown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Teardown")
    }
}

/// Topics clients may subscribe or publish to, each a URI (or pattern) with
/// a handler.
///
/// ```
/// use serverwamp::pubsub::TopicRouteSet;
/// use serverwamp::WampError;
///
/// let mut topics = TopicRouteSet::new();
/// topics
///     .subscribe("hourly_updates", || async {})
///     .subscribe_prefix("private", || async {
///         Err::<(), _>(WampError::new("wamp.error.not_authorized"))
///     });
/// ```
#[derive(Clone, Default)]
pub struct TopicRouteSet {
    subscribe: Vec<(String, MatchPolicy, BoxedHandler<OnSubscribe>)>,
    publish: Vec<(String, MatchPolicy, BoxedHandler<OnPublish>)>,
}

macro_rules! route_methods {
    ($list:ident, $kind:ident, $(($name:ident, $policy:ident, $doc:literal)),*) => {$(
        #[doc = $doc]
        pub fn $name<H: Handler<$kind, T>, T: 'static>(&mut self, uri: impl Into<String>, handler: H) -> &mut Self {
            let boxed = BoxedHandler::<$kind>::new(handler);
            self.$list.push((uri.into(), MatchPolicy::$policy, boxed));
            self
        }
    )*};
}

impl TopicRouteSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    route_methods!(
        subscribe,
        OnSubscribe,
        (
            subscribe,
            Exact,
            "Runs `handler` when a client subscribes to exactly `uri`."
        ),
        (
            subscribe_prefix,
            Prefix,
            "Runs `handler` when a client subscribes to `uri` or a topic below it (component-aware)."
        ),
        (
            subscribe_wildcard,
            Wildcard,
            "Runs `handler` when a client subscribes to a topic matching the wildcard pattern."
        )
    );

    route_methods!(
        publish,
        OnPublish,
        (
            publish,
            Exact,
            "Runs `handler` when a client publishes to exactly `uri`."
        ),
        (
            publish_prefix,
            Prefix,
            "Runs `handler` when a client publishes to `uri` or a topic below it (component-aware)."
        ),
        (
            publish_wildcard,
            Wildcard,
            "Runs `handler` when a client publishes to a topic matching the wildcard pattern."
        )
    );
}

/// Topic routes compiled for lookup.
#[derive(Clone, Default)]
pub(crate) struct TopicTable {
    pub(crate) subscribe: UriTable<BoxedHandler<OnSubscribe>>,
    pub(crate) publish: UriTable<BoxedHandler<OnPublish>>,
}

impl TopicTable {
    pub(crate) fn add(&mut self, set: TopicRouteSet) {
        for (uri, policy, handler) in set.subscribe {
            self.subscribe.insert(uri, policy, handler);
        }
        for (uri, policy, handler) in set.publish {
            self.publish.insert(uri, policy, handler);
        }
    }
}
