//! Calls the application makes itself ([`Application::call`],
//! [`Session::call`]): routed like a client's CALL, to a local route or a
//! client callee, and awaited to their final result.
//!
//! [`Application::call`]: crate::Application::call
//! [`Session::call`]: crate::Session::call

use std::sync::Arc;

use serverwamp_protocol::id::random_id;
use serverwamp_protocol::message::CallOptions;
use serverwamp_protocol::{Dict, List};

use super::RealmView;
use crate::WampError;
use crate::dealer::{Caller, Dealer};
use crate::handler::Arguments;
use crate::rpc::{CallContext, CallOutcome, Progress, Request, RpcResult};
use crate::session::Session;

/// Calls `procedure` in `realm`: a client registration when the realm's
/// rules pick it, else the local route; `session` (made only for a local
/// route) is the handler's [`Session`].
pub(crate) async fn call(
    realm: &RealmView,
    dealer: Option<&Arc<Dealer>>,
    caller: Option<&Caller<'_>>,
    session: impl FnOnce() -> Session,
    procedure: &str,
    args: List,
    kwargs: Dict,
) -> Result<RpcResult, WampError> {
    let local = realm.procedure(procedure).cloned();
    let dealer = dealer
        .filter(|d| d.has_registrations() && (local.is_none() || realm.client_callees_first()));
    let (args, kwargs) = match dealer {
        Some(dealer) => {
            match dealer.invoke(procedure, caller, &CallOptions::default(), args, kwargs) {
                Ok((answers, _)) => return CallOutcome::Progressive(answers).final_result().await,
                Err(payload) => payload,
            }
        }
        None => (args, kwargs),
    };
    let Some(handler) = local else {
        return Err(WampError::no_such_procedure(procedure));
    };
    let config = realm.config();
    let context = CallContext {
        session: session(),
        request: Request {
            id: random_id(),
            procedure: procedure.to_owned(),
            options: CallOptions::default(),
        },
        arguments: Arguments::new(args, kwargs, config.snake_case_kwargs),
        state: config.state.clone(),
        progress: Progress::new(None),
    };
    handler
        .call(context, "procedure")
        .await
        .final_result()
        .await
}
