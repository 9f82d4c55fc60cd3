#![doc = include_str!("../docs/quickstart.md")]

mod application;
pub mod auth;
pub mod backplane;
#[cfg(feature = "axum")]
pub mod bridge;
mod broker;
mod dealer;
mod engine;
pub mod guide;
pub mod handler;
#[cfg(feature = "harness")]
#[doc(hidden)]
pub mod harness;
pub mod lifecycle;
mod link;
mod observe;
mod outbound;
pub mod pubsub;
mod realm;
mod routing;
pub mod rpc;
mod session;
pub mod transport;

pub use application::Application;
pub use engine::{ConnectionStats, Engine, OutboundQueues};
pub use handler::WampError;
pub use realm::{Limits, Realm};
pub use serverwamp_protocol as protocol;
pub use session::{AuthDetails, Session};
