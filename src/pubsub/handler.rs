//! Topic handlers: their kinds, their context, and the extractors only
//! they have ([`Topic`], [`SubscribeOptions`], [`PublishOptions`]).

use std::sync::Arc;

use serverwamp_protocol::MatchPolicy;
use serverwamp_protocol::message::{PublishOptions, SubscribeOptions};

use super::Teardown;
use crate::handler::{
    ArgumentReaders, Arguments, Direct, Fallible, FromContext, HandlerKind, IntoOutcome, StateMap,
    WampError, argument_extractors, common_extractors,
};
use crate::session::Session;

/// Everything known about one subscription or publication, from which
/// topic handler arguments are extracted.
#[derive(Clone)]
pub struct TopicContext {
    pub(crate) session: Session,
    pub(crate) topic: Topic,
    pub(crate) state: Arc<StateMap>,
    pub(crate) subscribe_options: Option<Arc<SubscribeOptions>>,
    pub(crate) publish_options: Option<Arc<PublishOptions>>,
    /// A client publication's arguments, else none.
    pub(crate) arguments: Arguments,
}

impl TopicContext {
    /// The session that subscribed or published.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The topic.
    pub fn topic(&self) -> &Topic {
        &self.topic
    }
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

common_extractors!(TopicContext);
argument_extractors!(TopicContext);

impl FromContext<TopicContext> for Topic {
    fn from_context(context: &mut TopicContext) -> Result<Self, WampError> {
        Ok(context.topic.clone())
    }
}

/// A subscription's options (empty for a publication).
impl FromContext<TopicContext> for SubscribeOptions {
    fn from_context(context: &mut TopicContext) -> Result<Self, WampError> {
        Ok(context
            .subscribe_options
            .as_deref()
            .cloned()
            .unwrap_or_default())
    }
}

/// A publication's options (empty for a subscription).
impl FromContext<TopicContext> for PublishOptions {
    fn from_context(context: &mut TopicContext) -> Result<Self, WampError> {
        Ok(context
            .publish_options
            .as_deref()
            .cloned()
            .unwrap_or_default())
    }
}

/// Topic handlers may read a publication's arguments; they need not.
fn let_read(context: &mut TopicContext, readers: ArgumentReaders) {
    context.arguments.sole_args_reader = readers.sole_args;
    context.arguments.sole_kwargs_reader = readers.sole_kwargs;
}

/// The kind of handler run when a client subscribes (a topic route's, or
/// the application's): it admits (`()`), admits with a [`Teardown`] run
/// when the subscription ends (a `Teardown` or an `Option<Teardown>`), or
/// refuses (`Err(WampError)`, e.g. `wamp.error.not_authorized`).
#[derive(Debug)]
pub enum OnSubscribe {}

impl HandlerKind for OnSubscribe {
    type Context = TopicContext;
    type Outcome = Result<Option<Teardown>, WampError>;

    fn rejected(error: WampError) -> Self::Outcome {
        Err(error)
    }

    fn prepare(context: &mut TopicContext, readers: ArgumentReaders) -> Result<(), WampError> {
        let_read(context, readers);
        Ok(())
    }
}

/// The kind of handler run when a client publishes to a topic route: it
/// accepts (`()`) or refuses (`Err(WampError)`).
#[derive(Debug)]
pub enum OnPublish {}

impl HandlerKind for OnPublish {
    type Context = TopicContext;
    type Outcome = Result<(), WampError>;

    fn rejected(error: WampError) -> Self::Outcome {
        Err(error)
    }

    fn prepare(context: &mut TopicContext, readers: ArgumentReaders) -> Result<(), WampError> {
        let_read(context, readers);
        Ok(())
    }
}

/// The kind of handler told about every subscription that ends (the Python
/// serverwamp library's `add_unsubscribe_handler`); it returns `()`.
#[derive(Debug)]
pub enum OnUnsubscribe {}

impl HandlerKind for OnUnsubscribe {
    type Context = TopicContext;
    type Outcome = ();

    fn rejected(error: WampError) {
        tracing::error!(%error, "an unsubscribe handler could not get its arguments");
    }
}

impl IntoOutcome<OnSubscribe, Direct> for () {
    fn into_outcome(self) -> Result<Option<Teardown>, WampError> {
        Ok(None)
    }
}

impl IntoOutcome<OnSubscribe, Direct> for Teardown {
    fn into_outcome(self) -> Result<Option<Teardown>, WampError> {
        Ok(Some(self))
    }
}

impl IntoOutcome<OnSubscribe, Direct> for Option<Teardown> {
    fn into_outcome(self) -> Result<Option<Teardown>, WampError> {
        Ok(self)
    }
}

impl<T: IntoOutcome<OnSubscribe, M>, E: Into<WampError>, M> IntoOutcome<OnSubscribe, Fallible<M>>
    for Result<T, E>
{
    fn into_outcome(self) -> Result<Option<Teardown>, WampError> {
        self.map_err(Into::into)?.into_outcome()
    }
}

impl IntoOutcome<OnPublish, Direct> for () {
    fn into_outcome(self) -> Result<(), WampError> {
        Ok(())
    }
}

impl<E: Into<WampError>> IntoOutcome<OnPublish, Fallible<Direct>> for Result<(), E> {
    fn into_outcome(self) -> Result<(), WampError> {
        self.map_err(Into::into)
    }
}

impl IntoOutcome<OnUnsubscribe, Direct> for () {
    fn into_outcome(self) {}
}
