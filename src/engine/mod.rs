//! The engine: sessions served on connections. Its one door,
//! [`Engine::serve`], takes a connection's frames in and out, its codec and
//! what is known of it; every transport calls it, and none knows more of
//! the engine than that.

mod admission;
mod calls;
mod cluster;
mod connection;
mod stats;

use std::sync::Arc;

use serverwamp_protocol::Codec;

use crate::broker::Brokers;
use crate::link::{FrameReader, FrameWriter, TransportInfo};
use crate::realm::AppConfig;
use crate::session::Session;
use crate::session::registry::Registry;

pub(crate) use stats::Counters;
pub use stats::{ConnectionStats, OutboundQueues};

/// What serves the connections of an [`Application`](crate::Application):
/// its configuration, its live sessions and its brokers. Transports hold
/// one; make it with `Engine::from(app)` (or `app.clone().into()`), which
/// the transports' constructors do for you.
///
/// Clones share the live sessions. An engine made from an application
/// serves the configuration the application had then.
#[derive(Clone, Default)]
pub struct Engine {
    pub(crate) config: Arc<AppConfig>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) brokers: Arc<Brokers<Session>>,
    pub(crate) dealers: Arc<crate::dealer::Dealers>,
    pub(crate) stats: Arc<Counters>,
    pub(crate) admissions: Arc<admission::Admissions>,
    /// The realms the realm factory made that are in use.
    pub(crate) dynamic: Arc<crate::realm::DynamicRealms>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("sessions", &self.registry.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Who may open WebSocket sessions with ambient credentials.
    pub(crate) fn origin_policy(&self) -> &crate::link::OriginPolicy {
        &self.config.origin_policy
    }

    /// The realm a HELLO (or a bridge request) names, as
    /// [`RealmView::resolve_with`](crate::realm::RealmView::resolve_with)
    /// finds it.
    pub(crate) fn resolve_realm(&self, name: &str) -> Option<crate::realm::RealmView> {
        crate::realm::RealmView::resolve_with(&self.config, name, Some(&self.dynamic))
    }

    /// Serves WAMP on one established connection until either side closes
    /// it: frames come from `reader` in `codec`, everything for the client
    /// leaves through `writer`.
    ///
    /// Not an `async fn`: a wrapper future would keep a second copy of its
    /// arguments (the transport's reader and writer among them) in every
    /// idle connection.
    pub(crate) fn serve<R: FrameReader, W: FrameWriter>(
        &self,
        transport: TransportInfo,
        codec: Codec,
        reader: R,
        writer: W,
    ) -> impl std::future::Future<Output = ()> + Send + 'static + use<R, W> {
        self.join_cluster();
        connection::run(self.clone(), transport, codec, reader, writer)
    }
}
