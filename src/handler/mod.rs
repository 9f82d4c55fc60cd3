//! One model for every handler: procedures, topic handlers and session
//! handlers are plain async functions whose arguments the library fills in
//! ([`FromContext`] extractors, up to eight, in any order) and whose return
//! value becomes the outcome their kind needs ([`IntoOutcome`]).
//!
//! A handler's *kind* says what it handles and what it gets to look at:
//!
//! | kind | registered with | context | returns |
//! |---|---|---|---|
//! | [`OnCall`](crate::rpc::OnCall) | [`RpcRouteSet`](crate::rpc::RpcRouteSet), `set_rpc_handler` | [`CallContext`](crate::rpc::CallContext) | anything [`IntoCallResult`](crate::rpc::IntoCallResult) |
//! | [`OnSubscribe`](crate::pubsub::OnSubscribe) | [`TopicRouteSet::subscribe`](crate::pubsub::TopicRouteSet::subscribe), `add_subscribe_handler` | [`TopicContext`](crate::pubsub::TopicContext) | `()`, a [`Teardown`](crate::pubsub::Teardown), `Result` |
//! | [`OnPublish`](crate::pubsub::OnPublish) | [`TopicRouteSet::publish`](crate::pubsub::TopicRouteSet::publish) | [`TopicContext`](crate::pubsub::TopicContext) | `()` or `Result<(), E>` |
//! | [`OnUnsubscribe`](crate::pubsub::OnUnsubscribe) | `add_unsubscribe_handler` | [`TopicContext`](crate::pubsub::TopicContext) | `()` |
//! | [`OnSession`](crate::lifecycle::OnSession) | `add_session_open_handler`, `add_session_close_handler` | [`SessionContext`](crate::lifecycle::SessionContext) | `()` |
//!
//! [`Session`](crate::Session) and [`State<T>`] fill an argument of every
//! kind; the caller's or publisher's arguments ([`Params`],
//! [`Args`], [`Kwargs`]) those of
//! procedures and publish handlers; the rest belong to one context each. A
//! handler that panics, while its arguments are extracted or while it runs,
//! fails alone: a procedure answers `wamp.error.runtime_error`, a topic
//! handler refuses with it, a session handler is skipped (all logged).

mod arguments;
mod error;
mod params;
mod state;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::FutureExt;

pub use arguments::{Args, Kwargs, Params};
pub(crate) use arguments::{Arguments, argument_extractors, downcast};
pub use error::WampError;
pub use state::State;
pub(crate) use state::StateMap;

/// Implements the [`Session`](crate::Session) and [`State<T>`] extractors
/// for a context with `session` and `state` fields.
macro_rules! common_extractors {
    ($context:ty) => {
        impl $crate::handler::FromContext<$context> for $crate::Session {
            fn from_context(context: &mut $context) -> Result<Self, $crate::handler::WampError> {
                Ok(context.session.clone())
            }
        }

        impl<T: std::any::Any + Send + Sync + Clone> $crate::handler::FromContext<$context>
            for $crate::handler::State<T>
        {
            fn from_context(context: &mut $context) -> Result<Self, $crate::handler::WampError> {
                context.state.get::<T>().cloned().map($crate::handler::State).ok_or_else(|| {
                    tracing::error!(
                        state = std::any::type_name::<T>(),
                        "a handler asks for State<T> that was never set with Application::set_state"
                    );
                    $crate::handler::WampError::runtime_error()
                })
            }
        }
    };
}

pub(crate) use common_extractors;

/// What a kind of handler handles: the context its arguments come from and
/// the outcome it produces.
pub trait HandlerKind: Send + Sync + 'static {
    /// What the handler's arguments are extracted from.
    type Context: Send + 'static;
    /// What the library does with the handler's answer.
    type Outcome: Send + 'static;

    /// The outcome of a handler whose arguments could not be extracted.
    fn rejected(error: WampError) -> Self::Outcome;

    /// The outcome of a handler that panicked (logged by the caller).
    fn panicked() -> Self::Outcome {
        Self::rejected(WampError::runtime_error())
    }

    /// Prepares the context for a handler whose extractors read what
    /// `readers` says, or refuses it (a procedure that takes no arguments
    /// refuses a call that passes some).
    ///
    /// # Errors
    /// The error the handler is rejected with.
    fn prepare(context: &mut Self::Context, readers: ArgumentReaders) -> Result<(), WampError> {
        let _ = (context, readers);
        Ok(())
    }
}

/// Which of the caller's (or publisher's) arguments an extractor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgumentUse {
    /// It reads the positional arguments.
    pub args: bool,
    /// It reads the keyword arguments.
    pub kwargs: bool,
}

impl ArgumentUse {
    /// Reads neither.
    pub const NONE: ArgumentUse = ArgumentUse {
        args: false,
        kwargs: false,
    };
    /// Reads both.
    pub const BOTH: ArgumentUse = ArgumentUse {
        args: true,
        kwargs: true,
    };
}

/// What all the extractors of one handler read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgumentReaders {
    /// What any of them reads.
    pub any: ArgumentUse,
    /// Whether exactly one of them reads the positional arguments (it may
    /// take them instead of copying them).
    pub sole_args: bool,
    /// Whether exactly one of them reads the keyword arguments.
    pub sole_kwargs: bool,
}

impl ArgumentReaders {
    /// What the extractors `each` read together.
    const fn of(each: &[ArgumentUse]) -> Self {
        let (mut args, mut kwargs) = (0, 0);
        let mut i = 0;
        while i < each.len() {
            args += each[i].args as usize;
            kwargs += each[i].kwargs as usize;
            i += 1;
        }
        ArgumentReaders {
            any: ArgumentUse {
                args: args > 0,
                kwargs: kwargs > 0,
            },
            sole_args: args == 1,
            sole_kwargs: kwargs == 1,
        }
    }
}

/// Fills one handler argument from the context `C` it runs in.
///
/// Implemented by the library's extractors for the contexts they fit; a
/// type of your own can implement it to be an argument too.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of a handler given `{C}`",
    label = "not an extractor for this kind of handler",
    note = "every handler takes `Session` and `State<T>`; procedures also `Params<T>`, `Args<T>`, \
            `Kwargs<T>`, `Request` and `Progress`; topic handlers `Topic`, `SubscribeOptions` and \
            `PublishOptions` (and the arguments of a publication)"
)]
pub trait FromContext<C>: Sized {
    /// Which of the caller's arguments this extractor reads. A procedure
    /// none of whose arguments read any takes no arguments: a call that
    /// passes some is answered `wamp.error.invalid_argument`. An extractor
    /// that is a handler's only reader of the positional (or keyword)
    /// arguments may take them instead of copying them.
    const READS: ArgumentUse = ArgumentUse::NONE;

    /// Extracts the argument, or rejects the handler with an error.
    ///
    /// # Errors
    /// The [`WampError`] the handler is rejected with, typically
    /// `wamp.error.invalid_argument` saying which argument and why.
    fn from_context(context: &mut C) -> Result<Self, WampError>;
}

/// Turns what a handler returns into the outcome of its kind `K`. `M` only
/// tells implementations apart; you never name it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by a handler of kind `{K}`",
    note = "procedures return anything `IntoCallResult`; subscribe handlers `()`, `Teardown`, \
            `Option<Teardown>` or `Result` of those; publish handlers `()` or `Result<(), E>`; \
            unsubscribe and session handlers `()`"
)]
pub trait IntoOutcome<K: HandlerKind, M> {
    /// Converts the return value.
    fn into_outcome(self) -> K::Outcome;
}

/// The marker of return types that convert themselves.
#[derive(Debug)]
pub enum Direct {}

/// The marker of `Serialize` return types, converted by what they
/// serialize to.
#[derive(Debug)]
pub enum Serialized {}

/// The marker of `Result<T, E>` return types, for `T`'s marker `M`.
#[derive(Debug)]
pub struct Fallible<M>(std::marker::PhantomData<M>, std::convert::Infallible);

/// The boxed future a handler runs as.
pub(crate) type HandlerFuture<O> = Pin<Box<dyn Future<Output = O> + Send>>;

/// An async function that handles events of kind `K`: implemented for every
/// `async fn` (or closure returning a future) whose arguments, up to eight,
/// all implement [`FromContext`] for `K`'s context and whose output
/// implements [`IntoOutcome`] for `K`. `T` only tells the implementations
/// apart; you never name it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler of kind `{K}`",
    label = "not a handler",
    note = "a handler is an `async fn` whose arguments are extractors (`Session`, `State<T>`, \
            `Params<T>`, …) and whose return type fits its kind (see `serverwamp::handler`)"
)]
pub trait Handler<K: HandlerKind, T>: Clone + Send + Sync + Sized + 'static {
    /// Extracts the arguments and starts the handler.
    fn call(&self, context: K::Context) -> impl Future<Output = K::Outcome> + Send + 'static;
}

macro_rules! impl_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case, unused_variables, unused_mut)]
        impl<K, F, Fut, R, M, $($ty,)*> Handler<K, (M, $($ty,)*)> for F
        where
            K: HandlerKind,
            F: Fn($($ty),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoOutcome<K, M>,
            $($ty: FromContext<K::Context> + Send + 'static,)*
        {
            fn call(&self, mut context: K::Context) -> impl Future<Output = K::Outcome> + Send + 'static {
                // Arguments are extracted before the handler starts, so a bad
                // argument is answered without running any of its code.
                let readers = const { ArgumentReaders::of(&[$($ty::READS),*]) };
                let started = K::prepare(&mut context, readers)
                    .and_then(|()| {
                        $(let $ty = $ty::from_context(&mut context)?;)*
                        Ok(self($($ty),*))
                    });
                async move {
                    match started {
                        Ok(fut) => fut.await.into_outcome(),
                        Err(e) => K::rejected(e),
                    }
                }
            }
        }
    };
}

impl_handler!();
impl_handler!(T1);
impl_handler!(T1, T2);
impl_handler!(T1, T2, T3);
impl_handler!(T1, T2, T3, T4);
impl_handler!(T1, T2, T3, T4, T5);
impl_handler!(T1, T2, T3, T4, T5, T6);
impl_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_handler!(T1, T2, T3, T4, T5, T6, T7, T8);

/// The erased start function of a handler.
type StartFn<K> =
    dyn Fn(<K as HandlerKind>::Context) -> HandlerFuture<<K as HandlerKind>::Outcome> + Send + Sync;

/// A handler of kind `K` with its type erased, shared by the routes that
/// use it.
pub(crate) struct BoxedHandler<K: HandlerKind>(Arc<StartFn<K>>);

impl<K: HandlerKind> Clone for BoxedHandler<K> {
    fn clone(&self) -> Self {
        BoxedHandler(self.0.clone())
    }
}

impl<K: HandlerKind> BoxedHandler<K> {
    pub(crate) fn new<H: Handler<K, T>, T: 'static>(handler: H) -> Self {
        BoxedHandler(Arc::new(move |context| {
            let running = AssertUnwindSafe(handler.call(context)).catch_unwind();
            // One allocation per run: the guard lives in the same box.
            Box::pin(running.map(|outcome| {
                outcome.unwrap_or_else(|_| {
                    tracing::error!(kind = std::any::type_name::<K>(), "a handler panicked");
                    K::panicked()
                })
            }))
        }))
    }

    /// Starts the handler: extracts its arguments and returns its future.
    /// A panic, while extracting or while running, becomes
    /// [`HandlerKind::panicked`] (logged with `what`).
    pub(crate) fn call(
        &self,
        context: K::Context,
        what: &'static str,
    ) -> HandlerFuture<K::Outcome> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| (self.0)(context))) {
            Ok(future) => future,
            Err(_) => {
                tracing::error!(handler = what, "a handler panicked before it started");
                Box::pin(std::future::ready(K::panicked()))
            }
        }
    }
}
