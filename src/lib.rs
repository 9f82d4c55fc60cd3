//! serverwamp: serve WAMP clients from your own Rust web server.
//!
//! Your server answers the calls of WAMP (Web Application Messaging
//! Protocol) clients with plain async Rust functions, pushes events to the
//! sessions that subscribed and authenticates them, with no separate WAMP
//! router. This release holds the protocol layer; sessions, routing and
//! transports build on it.

pub use serverwamp_protocol as protocol;
