//! The serverwamp guide: how to build a WAMP application server with this
//! crate, one chapter per topic. Every Rust example in it is compiled by
//! `cargo test`, and those that serve run against a real server; the
//! Python and JavaScript examples are client code for autobahn-python and
//! autobahn-js 26, checked against the repository's demo app.
//!
//! 1. [Getting started](getting_started): a server, two clients, and what goes over the wire.
//! 2. [Procedures and arguments](procedures): routes, and the arguments the library fills in.
//! 3. [Results and errors](results_and_errors): what a handler returns, and what the caller gets.
//! 4. [Progressive results](progressive_results): reports before the final result.
//! 5. [Canceling and timeouts](canceling_and_timeouts): calls that end early.
//! 6. [Events and topic routes](events): subscriptions, publishing, slow subscribers.
//! 7. [Sessions](sessions): per-session data, open and close handlers, the connection.
//! 8. [Realms and the default realm](realms): what a realm inherits, realms made on demand.
//! 9. [Authentication](authentication): transport, ticket, WAMP-CRA, WAMP-SCRAM, cryptosign, custom; with client code.
//! 10. [Authorization](authorization): who may call, subscribe and publish what.
//! 11. [Serving](serving): axum, hyper, RawSocket, TLS, one port.
//! 12. [The HTTP bridge](http_bridge): calls and publications over plain HTTP POST, with the same handlers and authentication.
//! 13. [Limits and deadlines](limits): what one client may hold, and for how long.
//! 14. [Observability](observability): log events, spans, metrics, counters, sessions.
//! 15. [Benchmarks](benchmarks): how serverwamp is measured, and how to run it.
//! 16. [Coming from Python serverwamp](from_python): each feature of the Python library beside ours.
//! 17. [Scale-out](scale_out): many nodes behind one load balancer, on NATS or Redis.
//! 18. [The meta API](meta_api): sessions, subscriptions and registrations asked about, testaments, retained events.
//! 19. [Client callees](client_callees): procedures clients register, called by clients and the application.

#[doc = include_str!("../docs/guide/getting-started.md")]
pub mod getting_started {}

#[doc = include_str!("../docs/guide/procedures.md")]
pub mod procedures {}

#[doc = include_str!("../docs/guide/results-and-errors.md")]
pub mod results_and_errors {}

#[doc = include_str!("../docs/guide/progressive-results.md")]
pub mod progressive_results {}

#[doc = include_str!("../docs/guide/canceling-and-timeouts.md")]
pub mod canceling_and_timeouts {}

#[doc = include_str!("../docs/guide/events.md")]
pub mod events {}

#[doc = include_str!("../docs/guide/sessions.md")]
pub mod sessions {}

#[doc = include_str!("../docs/guide/realms.md")]
pub mod realms {}

#[doc = include_str!("../docs/guide/authentication.md")]
pub mod authentication {}

#[doc = include_str!("../docs/guide/authorization.md")]
pub mod authorization {}

#[doc = include_str!("../docs/guide/serving.md")]
pub mod serving {}

#[doc = include_str!("../docs/guide/http-bridge.md")]
#[cfg(feature = "axum")]
pub mod http_bridge {}

#[doc = include_str!("../docs/guide/limits.md")]
pub mod limits {}

#[doc = include_str!("../docs/guide/observability.md")]
pub mod observability {}

#[doc = include_str!("../docs/guide/benchmarks.md")]
pub mod benchmarks {}

#[doc = include_str!("../docs/guide/from-python.md")]
pub mod from_python {}

#[doc = include_str!("../docs/guide/scale-out.md")]
pub mod scale_out {}

#[doc = include_str!("../docs/guide/meta-api.md")]
pub mod meta_api {}

#[doc = include_str!("../docs/guide/client-callees.md")]
pub mod client_callees {}
