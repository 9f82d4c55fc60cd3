#![doc = include_str!("../docs/quickstart.md")]

mod application;
pub mod auth;
mod broker;
pub mod lifecycle;
mod link;
mod outbound;
pub mod pubsub;
mod routing;
pub mod rpc;
mod session;
pub mod transport;

pub use application::{Application, Realm};
pub use serverwamp_protocol as protocol;
pub use session::{AuthDetails, Session};
