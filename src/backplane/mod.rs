//! Backplanes: what lets several serverwamp nodes behind one load balancer
//! serve as one application.
//!
//! A session lives on one node, but an event published on any node must
//! reach the subscribers of every node. A *backplane* is the distributed
//! message engine the nodes share for that: [`NatsBackplane`] (feature
//! `nats`) and [`RedisBackplane`] (feature `redis`) come with serverwamp,
//! and the [`Backplane`] trait admits others. Give every node the same
//! backplane with [`Application::set_backplane`](crate::Application::set_backplane):
//!
//! ```no_run
//! # #[cfg(feature = "nats")]
//! # async fn node() -> Result<(), serverwamp::backplane::BackplaneError> {
//! use serverwamp::Application;
//! use serverwamp::backplane::NatsBackplane;
//!
//! let mut app = Application::new();
//! app.set_backplane(NatsBackplane::connect("nats://127.0.0.1:4222").await?);
//! # Ok(()) }
//! ```
//!
//! # What crosses the backplane
//!
//! Every publication made to a realm — [`Application::publish`](crate::Application::publish),
//! [`Session::publish`](crate::Session::publish), and clients' publications
//! in open-broker realms — is delivered to the node's own subscribers first,
//! then handed to the backplane, encoded once (MsgPack) with its publication
//! ID, its topic, the publisher's details and the client's black- and
//! whitelists. Every other node that has subscribers for the topic turns it
//! into EVENTs for them, encoding once per serializer as it does for its own
//! publications. [`Session::send_event`](crate::Session::send_event) stays
//! on its node (it names one session).
//!
//! - **Order.** Publications from one publisher (one session, or one task
//!   calling `Application::publish`) reach every node in the order they
//!   were made.
//! - **IDs.** A publication has one ID on every node: a random ID in the
//!   global scope (spec, "IDs"), so IDs of different nodes do not collide in
//!   practice.
//! - **Interest.** A node listens only for the topics its sessions
//!   subscribe to, and it answers a SUBSCRIBE once the backplane has taken
//!   the new interest (when the backplane is connected), so an event
//!   published anywhere after SUBSCRIBED reaches the subscriber.
//! - **Bursts.** A publication the backplane cannot take right away waits
//!   in a bounded queue (65,536 publications). When that is full, the
//!   non-waiting publishers (`publish`) do not wait: the publication
//!   reaches only this node's subscribers (counted, and logged); the
//!   waiting ones (`publish_wait`) wait for room, up to the slow-subscriber
//!   timeout, so a burst crosses whole.
//! - **Overload.** Core NATS and Redis pub/sub deliver at most once, with
//!   no flow control between nodes: a node that receives publications
//!   faster than it can deliver them for longer than its buffers last
//!   (262,144 waiting messages per subscription in the client, then, with
//!   Redis, the server's `client-output-buffer-limit pubsub`) loses some,
//!   and logs it. Publishers that need more pace themselves.
//! - **The backplane down.** Each node goes on delivering its own
//!   publications to its own subscribers, logs that the backplane is gone,
//!   and the backplane clients reconnect by themselves; cross-node delivery
//!   resumes when they have.
//!
//! # Subjects
//!
//! Backplanes carry messages on *subjects* written as NATS writes them:
//! tokens joined by `.`, where a filter may use `*` for one token and a
//! final `>` for one or more. serverwamp maps WAMP URIs onto subjects so:
//!
//! | what | subject |
//! |---|---|
//! | a publication to `topic` in `realm` | `<prefix>.pub.<realm>.<topic's components>` |
//! | an exact subscription to `topic` | the same subject |
//! | a prefix subscription to `a.b` | `<prefix>.pub.<realm>.a.b` and `<prefix>.pub.<realm>.a.b.>` (prefixes match whole components, see [`MatchPolicy`](crate::protocol::MatchPolicy)) |
//! | a wildcard subscription to `a..c` | `<prefix>.pub.<realm>.a.*.c` |
//! | node presence (cluster-wide counts, shared procedures) | `<prefix>.nodes` |
//! | calls to a node, their cancels and answers | `<prefix>.node.<node ID>` |
//!
//! `prefix` is `serverwamp` unless set with [`Application::set_backplane_prefix`](crate::Application::set_backplane_prefix)
//! (one per cluster sharing a NATS or Redis server). The realm is one token,
//! and every token keeps ASCII letters, digits, `_` and `-` and writes any
//! other byte as `%` and two hex digits (so `com.example` as a realm is
//! `com%2Eexample`, and a topic component `a*b` is `a%2Ab`); an empty
//! component is `%`. See [`subject`].
//!
//! # Cluster-wide counts
//!
//! Every node announces its open sessions per realm on the presence subject
//! once a second; [`Application::cluster_session_count`](crate::Application::cluster_session_count)
//! adds those of every node heard from in the last 3 seconds to its own. The
//! count is eventually consistent: a session opened on another node counts
//! there within about a second, and a node that stops (or loses the
//! backplane) stops counting after 3 seconds.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "redis")]
mod redis;
pub mod subject;

#[cfg(feature = "nats")]
pub use nats::NatsBackplane;
#[cfg(feature = "redis")]
pub use redis::RedisBackplane;

/// The ERROR of a call sent to another node of the cluster (see
/// [`Application::share_procedure`](crate::Application::share_procedure))
/// that left before it answered, or that the backplane could not take.
pub const NODE_UNAVAILABLE: &str = "serverwamp.error.node_unavailable";

/// A future a backplane returns.
pub type BackplaneFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, BackplaneError>> + Send + 'a>>;

/// The messages a backplane delivers for one subscription.
pub type Messages = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// A distributed message engine that serverwamp nodes share: publish on a
/// subject, subscribe to a filter.
///
/// Subjects and filters are written as NATS writes them (see the
/// [module](self)); an implementation may deliver more than a filter asks
/// (serverwamp checks every message again), never less. Messages from one
/// node on one subject must arrive in the order published. An
/// implementation reconnects by itself after losing its server, and
/// restores its subscriptions when it does.
pub trait Backplane: Send + Sync + 'static {
    /// Publishes each `(subject, payload)` pair, in order.
    fn publish(&self, messages: Vec<(String, Bytes)>) -> BackplaneFuture<'_, ()>;

    /// Subscribes to `filter`. Returns once the backplane has taken the
    /// subscription, so that anything published after this returns is
    /// delivered; dropping the stream unsubscribes.
    fn subscribe(&self, filter: String) -> BackplaneFuture<'_, Messages>;

    /// Whether the backplane is connected to its server now.
    fn is_connected(&self) -> bool;
}

/// What went wrong with a backplane: it could not connect, publish or
/// subscribe.
#[derive(Debug)]
pub struct BackplaneError {
    what: &'static str,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl BackplaneError {
    /// An error of `what` the backplane was doing (`"connect"`, `"publish"`,
    /// `"subscribe"`), caused by `source`.
    pub fn new(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        BackplaneError {
            what,
            source: source.into(),
        }
    }

    /// What the backplane was doing: `"connect"`, `"publish"`, `"subscribe"`.
    pub fn operation(&self) -> &'static str {
        self.what
    }
}

impl fmt::Display for BackplaneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the backplane could not {}: {}", self.what, self.source)
    }
}

impl std::error::Error for BackplaneError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
