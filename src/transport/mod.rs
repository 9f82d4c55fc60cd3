//! Transports: they move frames between a peer and a WAMP session and know
//! nothing of routing.
//!
//! A transport hands each connection to the engine as a frame reader and
//! a frame writer plus the [`TransportInfo`] that authenticators and
//! handlers may read. The servers that accept connections themselves
//! ([`listener::Server`], [`rawsocket::RawSocketServer`]) take them from
//! any [`Listener`].

mod accept;
pub mod listener;
pub mod rawsocket;
#[cfg(feature = "tls")]
pub mod tls;
pub mod websocket;

pub use self::accept::Listener;
pub(crate) use self::accept::accept_loop;
pub use crate::link::{OriginPolicy, PeerAddress, TransportInfo, TransportKind};
