//! Session open and close handlers.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use crate::rpc::{State, StateMap};
use crate::session::Session;

/// What a session open or close handler may ask for.
pub struct SessionContext {
    pub(crate) session: Session,
    pub(crate) state: Arc<StateMap>,
}

/// Fills an argument of a session open/close handler: [`Session`] or
/// [`State<T>`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of a session handler",
    note = "session open/close handlers take `Session` and `State<T>` arguments"
)]
pub trait FromSession: Sized {
    /// Extracts the argument; `None` skips the handler (logged).
    fn from_session(cx: &SessionContext) -> Option<Self>;
}

impl FromSession for Session {
    fn from_session(cx: &SessionContext) -> Option<Self> {
        Some(cx.session.clone())
    }
}

impl<T: std::any::Any + Send + Sync + Clone> FromSession for State<T> {
    fn from_session(cx: &SessionContext) -> Option<Self> {
        let value = cx.state.get::<T>().cloned();
        if value.is_none() {
            tracing::error!(
                state = std::any::type_name::<T>(),
                "a session handler asks for State<T> that was never set"
            );
        }
        value.map(State)
    }
}

/// An async function run when a session opens or closes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a session handler",
    note = "a session handler is an `async fn` taking `Session` and/or `State<T>` and returning `()`"
)]
pub trait SessionHandler<T>: Clone + Send + Sync + 'static {
    /// Runs the handler.
    fn run(&self, cx: &SessionContext) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

macro_rules! impl_session_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case, unused_variables)]
        impl<F, Fut, $($ty,)*> SessionHandler<($($ty,)*)> for F
        where
            F: Fn($($ty),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = ()> + Send + 'static,
            $($ty: FromSession + Send + 'static,)*
        {
            fn run(&self, cx: &SessionContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
                $(let Some($ty) = $ty::from_session(cx) else { return Box::pin(async {}) };)*
                Box::pin(self($($ty),*))
            }
        }
    };
}

impl_session_handler!();
impl_session_handler!(T1);
impl_session_handler!(T1, T2);
impl_session_handler!(T1, T2, T3);
impl_session_handler!(T1, T2, T3, T4);

/// A session handler with its type erased.
#[derive(Clone)]
pub(crate) struct BoxedSessionHandler(Arc<dyn ErasedSessionHandler>);

impl BoxedSessionHandler {
    pub(crate) fn new<H: SessionHandler<T>, T: 'static>(handler: H) -> Self {
        BoxedSessionHandler(Arc::new(Erased {
            handler,
            _args: PhantomData,
        }))
    }

    pub(crate) fn run(&self, cx: &SessionContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.0.run(cx)
    }
}

trait ErasedSessionHandler: Send + Sync {
    fn run(&self, cx: &SessionContext) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

struct Erased<H, T> {
    handler: H,
    _args: PhantomData<fn() -> T>,
}

impl<H: SessionHandler<T>, T: 'static> ErasedSessionHandler for Erased<H, T> {
    fn run(&self, cx: &SessionContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.handler.run(cx)
    }
}
