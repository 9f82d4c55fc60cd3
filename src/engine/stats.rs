//! Counts of what connections ran into: deadlines missed, limits hit.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the connections of an application have run into since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Connections closed because no HELLO came in time
    /// ([`Limits::hello_timeout`](crate::Limits::hello_timeout)).
    pub hello_timeouts: u64,
    /// Sessions aborted because authentication did not finish in time.
    pub auth_timeouts: u64,
    /// Sessions closed for being idle ([`Limits::idle_timeout`](crate::Limits::idle_timeout)).
    pub idle_timeouts: u64,
    /// Connections closed because the peer stopped answering pings.
    pub keepalive_timeouts: u64,
    /// Connections refused by [`Limits::max_sessions`](crate::Limits::max_sessions)
    /// or [`Limits::max_sessions_per_peer`](crate::Limits::max_sessions_per_peer).
    pub refused: u64,
    /// CALLs refused by [`Limits::max_calls_in_flight`](crate::Limits::max_calls_in_flight).
    pub calls_refused: u64,
    /// SUBSCRIBEs refused by [`Limits::max_subscriptions`](crate::Limits::max_subscriptions).
    pub subscriptions_refused: u64,
}

/// How many bytes wait in the sessions' outbound queues now, from
/// [`Application::outbound_queues`](crate::Application::outbound_queues).
///
/// Each session's queue is bounded by
/// [`Application::set_outbound_queue_limit`](crate::Application::set_outbound_queue_limit);
/// a session whose client reads slowly holds up to that limit. Records
/// being written into the transport still count.
///
/// ```
/// let app = serverwamp::Application::new();
/// let queues = app.outbound_queues();
/// assert_eq!((queues.total_bytes, queues.max_bytes, queues.sessions), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboundQueues {
    /// Bytes waiting across every open session.
    pub total_bytes: u64,
    /// Bytes waiting in the fullest session's queue.
    pub max_bytes: u64,
    /// The open sessions counted.
    pub sessions: u64,
}

/// The live counters behind [`ConnectionStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hello_timeouts: AtomicU64,
    pub(crate) auth_timeouts: AtomicU64,
    pub(crate) idle_timeouts: AtomicU64,
    pub(crate) keepalive_timeouts: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) calls_refused: AtomicU64,
    pub(crate) subscriptions_refused: AtomicU64,
}

impl Counters {
    /// Counts one.
    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ConnectionStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConnectionStats {
            hello_timeouts: get(&self.hello_timeouts),
            auth_timeouts: get(&self.auth_timeouts),
            idle_timeouts: get(&self.idle_timeouts),
            keepalive_timeouts: get(&self.keepalive_timeouts),
            refused: get(&self.refused),
            calls_refused: get(&self.calls_refused),
            subscriptions_refused: get(&self.subscriptions_refused),
        }
    }
}
