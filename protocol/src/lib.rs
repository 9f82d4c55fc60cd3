//! The WAMP protocol for serverwamp: pure data, no I/O.
//!
//! This crate knows the Web Application Messaging Protocol as bytes and
//! values: every message a router sends or receives with its exact layout
//! ([`message`]), the dynamic [`Value`] that payloads are made of, the rules
//! for URIs ([`uri`]) and IDs ([`id`]), and the codecs that turn messages
//! into JSON, MsgPack or CBOR frames and back, batched or not ([`codec`]).
//! Everything a peer can get wrong is reported as a typed
//! [`ProtocolViolation`] that names the problem, so a session can answer
//! with `ABORT wamp.error.protocol_violation` and a useful message.
//!
//! It has no sockets, no tasks and no clocks; the `serverwamp` crate builds
//! sessions, routing and transports on top of it.

pub mod codec;
pub mod id;
pub mod message;
pub mod uri;
pub mod value;
pub mod well_known;

pub use codec::{Codec, DecodeError, EncodeError, Serialization};
pub use id::Id;
pub use message::{Message, MessageType, ProtocolViolation};
pub use uri::{MatchPolicy, UriRules};
pub use value::{Dict, List, Value};
