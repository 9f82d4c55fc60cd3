//! Remote procedure calls: routes from URIs to async functions, the
//! arguments the library fills in, and what handlers may return.

mod extract;
mod result;

use serverwamp_protocol::MatchPolicy;

use crate::routing::UriTable;

pub use extract::{CallContext, OnCall, Progress, Request};
pub(crate) use extract::{CallState, ProgressTarget};

pub use crate::handler::{Args, Kwargs, Params, State, WampError};
use crate::handler::{BoxedHandler, Handler};
pub(crate) use result::ItemStream;
pub use result::{CallOutcome, IntoCallResult, Progressive, ProgressiveItem, RpcResult};

/// A set of procedures, each a URI (or URI pattern) and a handler.
///
/// ```
/// use serverwamp::rpc::RpcRouteSet;
///
/// async fn ingredients() -> Vec<&'static str> {
///     vec!["Peanut Butter", "Jelly", "Bread"]
/// }
///
/// let mut routes = RpcRouteSet::new();
/// routes.route("sandwich.ingredients", ingredients);
/// ```
#[derive(Clone, Default)]
pub struct RpcRouteSet {
    routes: Vec<(String, MatchPolicy, BoxedHandler<OnCall>)>,
}

impl RpcRouteSet {
    /// An empty route set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes calls to exactly `uri` to `handler`.
    pub fn route<H: Handler<OnCall, T>, T: 'static>(
        &mut self,
        uri: impl Into<String>,
        handler: H,
    ) -> &mut Self {
        self.add(uri, MatchPolicy::Exact, handler)
    }

    /// Routes calls to `uri` and every URI below it (component-aware:
    /// `a.b` covers `a.b` and `a.b.c`, not `a.bc`).
    pub fn route_prefix<H: Handler<OnCall, T>, T: 'static>(
        &mut self,
        uri: impl Into<String>,
        handler: H,
    ) -> &mut Self {
        self.add(uri, MatchPolicy::Prefix, handler)
    }

    /// Routes calls matching a wildcard pattern, where empty components
    /// match any one component (`a..c` covers `a.b.c`).
    pub fn route_wildcard<H: Handler<OnCall, T>, T: 'static>(
        &mut self,
        pattern: impl Into<String>,
        handler: H,
    ) -> &mut Self {
        self.add(pattern, MatchPolicy::Wildcard, handler)
    }

    fn add<H: Handler<OnCall, T>, T: 'static>(
        &mut self,
        uri: impl Into<String>,
        policy: MatchPolicy,
        handler: H,
    ) -> &mut Self {
        self.routes
            .push((uri.into(), policy, BoxedHandler::new(handler)));
        self
    }
}

/// The procedures of a realm or application, compiled for lookup.
pub(crate) type RouteTable = UriTable<BoxedHandler<OnCall>>;

impl RouteTable {
    /// Adds a route set; a later route for the same URI and policy replaces
    /// an earlier one.
    pub(crate) fn add(&mut self, set: RpcRouteSet) {
        for (uri, policy, handler) in set.routes {
            self.insert(uri, policy, handler);
        }
    }
}
