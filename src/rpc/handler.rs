//! Plain async functions as procedure handlers.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use super::extract::{CallContext, FromCall};
use super::result::{CallOutcome, IntoCallResult};

/// The future a handler returns, boxed.
pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = CallOutcome> + Send>>;

/// An async function that can answer calls.
///
/// Implemented for every `async fn` (or closure returning a future) whose
/// arguments all implement [`FromCall`], up to eight of them, in any order,
/// and whose output implements [`IntoCallResult`]. `T` only tells the
/// implementations apart; you never name it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a WAMP procedure handler",
    label = "not a handler",
    note = "a handler is an `async fn` whose arguments are extractors (`Params<T>`, `Args<T>`, \
            `Kwargs<T>`, `Session`, `Request`, `State<T>`, `Progress`) and whose return type \
            implements `IntoCallResult`"
)]
pub trait Handler<T>: Clone + Send + Sync + Sized + 'static {
    /// Extracts the arguments and starts the handler.
    fn call(&self, call: CallContext) -> impl Future<Output = CallOutcome> + Send + 'static;
}

macro_rules! impl_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case, unused_variables, clippy::redundant_closure_call)]
        impl<F, Fut, R, M, $($ty,)*> Handler<(M, $($ty,)*)> for F
        where
            F: Fn($($ty),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoCallResult<M>,
            $($ty: FromCall + Send + 'static,)*
        {
            fn call(&self, mut call: CallContext) -> impl Future<Output = CallOutcome> + Send + 'static {
                // Arguments are extracted before the handler starts, so a bad
                // argument is answered without running any user code.
                let started = (|| -> Result<Fut, super::RpcError> {
                    let args_readers = 0usize $(+ usize::from($ty::READS.args))*;
                    let kwargs_readers = 0usize $(+ usize::from($ty::READS.kwargs))*;
                    if args_readers + kwargs_readers == 0
                        && (!call.args().is_empty() || !call.kwargs().is_empty())
                    {
                        return Err(super::RpcError::invalid_argument("this procedure takes no arguments"));
                    }
                    call.sole_args_reader = args_readers == 1;
                    call.sole_kwargs_reader = kwargs_readers == 1;
                    $(let $ty = $ty::from_call(&mut call)?;)*
                    Ok(self($($ty),*))
                })();
                async move {
                    match started {
                        Ok(fut) => fut.await.into_call_result(),
                        Err(e) => CallOutcome::Done(Err(e)),
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

/// A handler with its type erased, shared by the routes that use it.
#[derive(Clone)]
pub(crate) struct BoxedHandler(Arc<dyn ErasedHandler>);

impl BoxedHandler {
    pub(crate) fn new<H: Handler<T>, T: 'static>(handler: H) -> Self {
        BoxedHandler(Arc::new(Erased {
            handler,
            _args: PhantomData,
        }))
    }

    pub(crate) fn call(&self, call: CallContext) -> HandlerFuture {
        self.0.call(call)
    }
}

trait ErasedHandler: Send + Sync {
    fn call(&self, call: CallContext) -> HandlerFuture;
}

struct Erased<H, T> {
    handler: H,
    _args: PhantomData<fn() -> T>,
}

impl<H: Handler<T>, T: 'static> ErasedHandler for Erased<H, T> {
    fn call(&self, call: CallContext) -> HandlerFuture {
        Box::pin(self.handler.call(call))
    }
}
