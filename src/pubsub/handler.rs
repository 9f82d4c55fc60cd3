//! Async functions as topic handlers: arguments filled in by the library.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serverwamp_protocol::message::{PublishOptions, SubscribeOptions};
use serverwamp_protocol::value::from_value;
use serverwamp_protocol::{MatchPolicy, Value};

use super::Teardown;
use crate::rpc::{Args, Kwargs, RpcError, State, StateMap};
use crate::session::Session;

/// Everything known about one subscription or publication, from which
/// topic handler arguments are extracted.
pub struct TopicContext {
    pub(crate) session: Session,
    pub(crate) topic: Topic,
    pub(crate) state: Arc<StateMap>,
    pub(crate) subscribe_options: Option<Arc<SubscribeOptions>>,
    pub(crate) publish_options: Option<Arc<PublishOptions>>,
    /// A client publication's arguments (`Value::List`), else empty.
    pub(crate) args: Value,
    /// A client publication's keyword arguments (`Value::Dict`), else empty.
    pub(crate) kwargs: Value,
}

/// The topic a handler runs for: the URI (or pattern) a client subscribed
/// to or published to, with its match policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub(crate) uri: Arc<str>,
    pub(crate) policy: MatchPolicy,
}

impl Topic {
    /// The topic URI, or the pattern of a pattern subscription.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// How the subscription matches topics (exact for publications).
    pub fn policy(&self) -> MatchPolicy {
        self.policy
    }
}

impl PartialEq<&str> for Topic {
    fn eq(&self, other: &&str) -> bool {
        &*self.uri == *other
    }
}

/// Fills an argument of a topic handler: [`Session`], [`Topic`],
/// [`State<T>`], [`SubscribeOptions`] (subscribe handlers),
/// [`PublishOptions`], [`Args<T>`] and [`Kwargs<T>`] (publish handlers).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of a topic handler",
    note = "topic handlers take `Session`, `Topic`, `State<T>`, `SubscribeOptions`, \
            `PublishOptions`, `Args<T>` and `Kwargs<T>`"
)]
pub trait FromTopic: Sized {
    /// Extracts the argument, or refuses with an error.
    ///
    /// # Errors
    /// The error answered to the client.
    fn from_topic(cx: &TopicContext) -> Result<Self, RpcError>;
}

impl FromTopic for Session {
    fn from_topic(cx: &TopicContext) -> Result<Self, RpcError> {
        Ok(cx.session.clone())
    }
}

impl FromTopic for Topic {
    fn from_topic(cx: &TopicContext) -> Result<Self, RpcError> {
        Ok(cx.topic.clone())
    }
}

impl<T: std::any::Any + Send + Sync + Clone> FromTopic for State<T> {
    fn from_topic(cx: &TopicContext) -> Result<Self, RpcError> {
        cx.state.get::<T>().cloned().map(State).ok_or_else(|| {
            tracing::error!(
                state = std::any::type_name::<T>(),
                "a topic handler asks for State<T> that was never set"
            );
            RpcError::runtime_error()
        })
    }
}

impl FromTopic for SubscribeOptions {
    fn from_topic(cx: &TopicContext) -> Result<Self, RpcError> {
        Ok(cx.subscribe_options.as_deref().cloned().unwrap_or_default())
    }
}

impl FromTopic for PublishOptions {
    fn from_topic(cx: &TopicContext) -> Result<Self, RpcError> {
        Ok(cx.publish_options.as_deref().cloned().unwrap_or_default())
    }
}

impl<T: DeserializeOwned> FromTopic for Args<T> {
    fn from_topic(cx: &TopicContext) -> Result<Self, RpcError> {
        from_value(&cx.args)
            .map(Args)
            .map_err(|e| RpcError::invalid_argument(format!("positional arguments: {e}")))
    }
}

impl<T: DeserializeOwned> FromTopic for Kwargs<T> {
    fn from_topic(cx: &TopicContext) -> Result<Self, RpcError> {
        from_value(&cx.kwargs)
            .map(Kwargs)
            .map_err(|e| RpcError::invalid_argument(format!("keyword arguments: {e}")))
    }
}

/// What a subscribe handler may return: accept (`()`), accept with a
/// [`Teardown`] run when the subscription ends (`Teardown`, or an
/// `Option<Teardown>`), or refuse (`Err`).
pub trait IntoSubscribeOutcome {
    /// Converts the return value.
    fn into_subscribe_outcome(self) -> Result<Option<Teardown>, RpcError>;
}

impl IntoSubscribeOutcome for () {
    fn into_subscribe_outcome(self) -> Result<Option<Teardown>, RpcError> {
        Ok(None)
    }
}

impl IntoSubscribeOutcome for Teardown {
    fn into_subscribe_outcome(self) -> Result<Option<Teardown>, RpcError> {
        Ok(Some(self))
    }
}

/// Admits, with a teardown or without one.
impl IntoSubscribeOutcome for Option<Teardown> {
    fn into_subscribe_outcome(self) -> Result<Option<Teardown>, RpcError> {
        Ok(self)
    }
}

impl<T: IntoSubscribeOutcome, E: Into<RpcError>> IntoSubscribeOutcome for Result<T, E> {
    fn into_subscribe_outcome(self) -> Result<Option<Teardown>, RpcError> {
        self.map_err(Into::into)?.into_subscribe_outcome()
    }
}

/// What a publish handler may return: accept (`()`) or refuse (`Err`).
pub trait IntoPublishOutcome {
    /// Converts the return value.
    fn into_publish_outcome(self) -> Result<(), RpcError>;
}

impl IntoPublishOutcome for () {
    fn into_publish_outcome(self) -> Result<(), RpcError> {
        Ok(())
    }
}

impl<E: Into<RpcError>> IntoPublishOutcome for Result<(), E> {
    fn into_publish_outcome(self) -> Result<(), RpcError> {
        self.map_err(Into::into)
    }
}

/// Notification handlers (the application-wide subscribe and unsubscribe
/// handlers) return nothing.
pub trait IntoNotifyOutcome {
    /// Converts the return value.
    ///
    /// # Errors
    /// Never, for `()`.
    fn into_notify_outcome(self) -> Result<(), RpcError>;
}

impl IntoNotifyOutcome for () {
    fn into_notify_outcome(self) -> Result<(), RpcError> {
        Ok(())
    }
}

/// The boxed future of a topic handler.
pub(crate) type TopicFuture<O> = Pin<Box<dyn Future<Output = Result<O, RpcError>> + Send>>;

/// What a subscribe handler decides.
pub(crate) type SubscribeDecision = Option<Teardown>;

/// Declares one kind of topic handler: a trait implemented for async
/// functions of up to six [`FromTopic`] arguments whose output converts to
/// the kind's outcome.
macro_rules! topic_handler_kind {
    (
        $(#[$meta:meta])*
        $trait:ident, $bound:ident, $convert:ident, $outcome:ty
    ) => {
        $(#[$meta])*
        pub trait $trait<T>: Clone + Send + Sync + 'static {
            /// Extracts the arguments and starts the handler.
            #[doc(hidden)]
            fn start(&self, cx: &TopicContext) -> TopicFuture<$outcome>;
        }

        topic_handler_kind!(@impl $trait, $bound, $convert, $outcome;);
        topic_handler_kind!(@impl $trait, $bound, $convert, $outcome; T1);
        topic_handler_kind!(@impl $trait, $bound, $convert, $outcome; T1, T2);
        topic_handler_kind!(@impl $trait, $bound, $convert, $outcome; T1, T2, T3);
        topic_handler_kind!(@impl $trait, $bound, $convert, $outcome; T1, T2, T3, T4);
        topic_handler_kind!(@impl $trait, $bound, $convert, $outcome; T1, T2, T3, T4, T5);
        topic_handler_kind!(@impl $trait, $bound, $convert, $outcome; T1, T2, T3, T4, T5, T6);
    };
    (@impl $trait:ident, $bound:ident, $convert:ident, $outcome:ty; $($ty:ident),*) => {
        #[allow(non_snake_case, unused_variables, clippy::unused_unit)]
        impl<F, Fut, R, $($ty,)*> $trait<($($ty,)*)> for F
        where
            F: Fn($($ty),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: $bound,
            $($ty: FromTopic + Send + 'static,)*
        {
            fn start(&self, cx: &TopicContext) -> TopicFuture<$outcome> {
                $(let $ty = match $ty::from_topic(cx) {
                    Ok(v) => v,
                    Err(e) => return Box::pin(async move { Err(e) }),
                };)*
                let fut = self($($ty),*);
                Box::pin(async move { fut.await.$convert() })
            }
        }
    };
}

topic_handler_kind!(
    /// An async function run when a client subscribes to a topic route:
    /// it accepts (`()`), accepts with a [`Teardown`] run when the
    /// subscription ends, or refuses (`Err(RpcError)`, e.g.
    /// `wamp.error.not_authorized`).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a subscribe handler",
        note = "a subscribe handler is an `async fn` taking `Session`, `Topic`, `State<T>` or \
                `SubscribeOptions` and returning `()`, `Teardown` or `Result<_, RpcError>`"
    )]
    SubscribeHandler, IntoSubscribeOutcome, into_subscribe_outcome, SubscribeDecision
);

topic_handler_kind!(
    /// An async function run when a client publishes to a topic route:
    /// it accepts (`()`) or refuses (`Err(RpcError)`).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a publish handler",
        note = "a publish handler is an `async fn` taking `Session`, `Topic`, `State<T>`, \
                `PublishOptions`, `Args<T>` or `Kwargs<T>` and returning `()` or \
                `Result<(), RpcError>`"
    )]
    PublishHandler, IntoPublishOutcome, into_publish_outcome, ()
);

topic_handler_kind!(
    /// An async function told about every subscription that ends (the
    /// Python serverwamp library's `add_unsubscribe_handler`).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a subscription notification handler",
        note = "it is an `async fn` taking `Session`, `Topic` or `State<T>` and returning `()`"
    )]
    NotifyHandler, IntoNotifyOutcome, into_notify_outcome, ()
);

/// The erased start function of a topic handler.
type StartFn<O> = dyn Fn(&TopicContext) -> TopicFuture<O> + Send + Sync;

/// A topic handler with its type erased.
pub(crate) struct BoxedTopicHandler<O>(Arc<StartFn<O>>);

impl<O> Clone for BoxedTopicHandler<O> {
    fn clone(&self) -> Self {
        BoxedTopicHandler(self.0.clone())
    }
}

impl<O: 'static> BoxedTopicHandler<O> {
    pub(crate) fn from_fn(
        start: impl Fn(&TopicContext) -> TopicFuture<O> + Send + Sync + 'static,
    ) -> Self {
        BoxedTopicHandler(Arc::new(start))
    }

    /// Runs the handler; a panic while extracting or running it becomes
    /// `wamp.error.runtime_error` (logged).
    pub(crate) async fn run(&self, cx: &TopicContext) -> Result<O, RpcError> {
        use futures_util::FutureExt;
        let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.0)(cx)));
        let Ok(future) = started else {
            tracing::error!(topic = cx.topic.uri(), "a topic handler panicked");
            return Err(RpcError::runtime_error());
        };
        match std::panic::AssertUnwindSafe(future).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::error!(topic = cx.topic.uri(), "a topic handler panicked");
                Err(RpcError::runtime_error())
            }
        }
    }
}
