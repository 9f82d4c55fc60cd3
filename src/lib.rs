//! serverwamp: serve WAMP clients from your own Rust web server.
//!
//! Your server answers the calls of WAMP (Web Application Messaging
//! Protocol) clients with plain async Rust functions, pushes events to the
//! sessions that subscribed and authenticates them, with no separate WAMP
//! router.

mod application;
pub mod lifecycle;
pub mod rpc;
mod session;
pub mod transport;

pub use application::{Application, Realm};
pub use serverwamp_protocol as protocol;
pub use session::{Identity, Session};
