//! Limits and deadlines: what one client may hold of the server, and how
//! long it may take.

use std::time::Duration;

/// Limits on what one client may hold, and deadlines for what it must do.
/// Each has a safe default; each has a documented outcome when hit.
///
/// ```
/// use std::time::Duration;
/// use serverwamp::{Application, Limits};
///
/// let mut app = Application::new();
/// app.set_limits(
///     Limits::new()
///         .hello_timeout(Duration::from_secs(5))
///         .max_calls_in_flight(64)
///         .max_subscriptions(100)
///         .idle_timeout(Some(Duration::from_secs(600))),
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub(crate) hello_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_calls_in_flight: usize,
    pub(crate) max_subscriptions: usize,
    pub(crate) max_registrations: usize,
    pub(crate) max_sessions: Option<usize>,
    pub(crate) max_sessions_per_peer: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hello_timeout: Duration::from_secs(10),
            idle_timeout: None,
            max_calls_in_flight: 1_000,
            max_subscriptions: 1_000,
            max_registrations: 1_000,
            max_sessions: None,
            max_sessions_per_peer: None,
        }
    }
}

impl Limits {
    /// The ERROR URI of a CALL over [`Limits::max_calls_in_flight`].
    pub const TOO_MANY_CALLS: &'static str = "serverwamp.error.too_many_calls";

    /// The ERROR URI of a SUBSCRIBE over [`Limits::max_subscriptions`].
    pub const TOO_MANY_SUBSCRIPTIONS: &'static str = "serverwamp.error.too_many_subscriptions";

    /// The ERROR URI of a REGISTER over [`Limits::max_registrations`].
    pub const TOO_MANY_REGISTRATIONS: &'static str = "serverwamp.error.too_many_registrations";

    /// The defaults: HELLO within 10 s of the connection (and of a
    /// GOODBYE), no idle deadline, 1,000 calls in flight, 1,000
    /// subscriptions and 1,000 registrations per session, no limit on
    /// sessions.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a connection may stay without a session: from the
    /// WebSocket upgrade or RawSocket handshake (and from the end of a
    /// session on the same connection) to its HELLO (default 10 s). A
    /// connection that says nothing in time is closed, without a message,
    /// and counted in [`ConnectionStats::hello_timeouts`](crate::ConnectionStats::hello_timeouts).
    #[must_use]
    pub fn hello_timeout(mut self, timeout: Duration) -> Self {
        self.hello_timeout = timeout;
        self
    }

    /// How long an open session may send nothing while none of its calls
    /// runs (default: no limit; liveness of the peer itself is the
    /// keepalive's job, see `Application::set_keepalive`). The session is
    /// checked once per `timeout`, so it is closed between one and two
    /// timeouts after it fell silent. An idle session
    /// gets GOODBYE `wamp.close.killed` with a message saying so, its
    /// connection closes, and it is counted in
    /// [`ConnectionStats::idle_timeouts`](crate::ConnectionStats::idle_timeouts).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How many calls one session may have running at once (default
    /// 1,000). A CALL over the limit is answered ERROR
    /// [`Limits::TOO_MANY_CALLS`] (`serverwamp.error.too_many_calls`) at once; the
    /// session goes on.
    #[must_use]
    pub fn max_calls_in_flight(mut self, calls: usize) -> Self {
        self.max_calls_in_flight = calls;
        self
    }

    /// How many subscriptions one session may hold (default 1,000). A
    /// SUBSCRIBE over the limit is answered ERROR
    /// [`Limits::TOO_MANY_SUBSCRIPTIONS`] (`serverwamp.error.too_many_subscriptions`);
    /// the session goes on.
    #[must_use]
    pub fn max_subscriptions(mut self, subscriptions: usize) -> Self {
        self.max_subscriptions = subscriptions;
        self
    }

    /// How many procedures one session may register, in a realm that lets
    /// clients register ([`Realm::set_client_callees`](crate::Realm::set_client_callees));
    /// default 1,000. A REGISTER over the limit is answered ERROR
    /// [`Limits::TOO_MANY_REGISTRATIONS`] (`serverwamp.error.too_many_registrations`);
    /// the session goes on.
    ///
    /// ```
    /// let limits = serverwamp::Limits::new().max_registrations(10);
    /// # let _ = limits;
    /// ```
    #[must_use]
    pub fn max_registrations(mut self, registrations: usize) -> Self {
        self.max_registrations = registrations;
        self
    }

    /// How many connections the application serves at once (default: no
    /// limit). One over the limit is refused before its upgrade: HTTP `503
    /// Service Unavailable` for WebSocket, the RawSocket handshake error
    /// "maximum connection count reached" for RawSocket; it is counted in
    /// [`ConnectionStats::refused`](crate::ConnectionStats::refused).
    #[must_use]
    pub fn max_sessions(mut self, sessions: Option<usize>) -> Self {
        self.max_sessions = sessions;
        self
    }

    /// How many connections one peer IP address may hold at once (default:
    /// no limit), refused as [`Limits::max_sessions`] says. Peers whose
    /// address is unknown share no count.
    #[must_use]
    pub fn max_sessions_per_peer(mut self, sessions: Option<usize>) -> Self {
        self.max_sessions_per_peer = sessions;
        self
    }
}
