//! What a peer can get wrong in a message, named precisely.

use thiserror::Error;

use super::MessageType;
use crate::uri::UriError;

/// A message that breaks the WAMP protocol.
///
/// A router answers any of these with `ABORT` and the reason
/// `wamp.error.protocol_violation` (spec, "Protocol Errors"); the `Display`
/// text is meant to go into that ABORT's `message` detail, so it names the
/// message, the element and what was wrong, and never echoes a whole payload.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// The message is not a list.
    #[error("a WAMP message must be a list, found {found}")]
    NotAList {
        /// The kind of value found instead.
        found: &'static str,
    },
    /// The message is an empty list.
    #[error("a WAMP message must not be empty: it starts with its type code")]
    Empty,
    /// The first element is not a non-negative integer.
    #[error("a WAMP message must start with an integer type code, found {found}")]
    InvalidTypeCode {
        /// The kind of value found instead.
        found: &'static str,
    },
    /// The type code is not one this implementation knows.
    #[error("unknown WAMP message type {code}")]
    UnknownType {
        /// The type code received.
        code: u64,
    },
    /// The message has a number of elements its type does not allow.
    #[error("{message} must have {expected} elements, found {found}")]
    WrongLength {
        /// The message type.
        message: MessageType,
        /// The allowed element counts, e.g. `"4 to 6"`.
        expected: &'static str,
        /// The element count received.
        found: usize,
    },
    /// An element has the wrong type.
    #[error("{message}.{element} must be {expected}, found {found}")]
    WrongElementType {
        /// The message type.
        message: MessageType,
        /// The element's name in the spec, e.g. `"Request"`.
        element: &'static str,
        /// What the spec requires.
        expected: &'static str,
        /// The kind of value found.
        found: &'static str,
    },
    /// An ID outside [1, 2^53].
    #[error("{message}.{element} must be an ID in [1, 2^53], found {value}")]
    IdOutOfRange {
        /// The message type.
        message: MessageType,
        /// The element's name in the spec.
        element: &'static str,
        /// The value received.
        value: u64,
    },
    /// A URI element that breaks the URI rules in force.
    ///
    /// Spec, "URI Reference": a peer answers an incorrect URI with ERROR
    /// `wamp.error.invalid_uri`, so for requests the request ID is kept
    /// for that answer ([`ProtocolViolation::answerable_request`]).
    #[error("{message}.{element}: {source}")]
    InvalidUri {
        /// The message type.
        message: MessageType,
        /// The element's name in the spec.
        element: &'static str,
        /// The request's ID, when the message is a request (read before
        /// its URI).
        request: Option<crate::id::Id>,
        /// What is wrong with the URI.
        source: UriError,
    },
    /// A known Options/Details key with a value of the wrong type or range.
    #[error("{message}.{element}.{key} must be {expected}, found {found}")]
    InvalidOption {
        /// The message type.
        message: MessageType,
        /// `"Options"`, `"Details"` or `"Extra"`.
        element: &'static str,
        /// The key.
        key: &'static str,
        /// What the spec requires.
        expected: &'static str,
        /// What was found (a kind, or the offending value for enumerations).
        found: String,
    },
    /// An ERROR message answering a message type that has no request.
    #[error("ERROR.REQUEST.Type {code} is not a request message type")]
    InvalidErrorRequestType {
        /// The type code received.
        code: u64,
    },
}

impl ProtocolViolation {
    /// The WAMP URI a router answers this error with:
    /// `wamp.error.invalid_uri` for an incorrect URI (spec, "URI
    /// Reference"), else `wamp.error.protocol_violation`.
    pub fn uri(&self) -> &'static str {
        match self {
            ProtocolViolation::InvalidUri { .. } => crate::well_known::error::INVALID_URI,
            _ => crate::well_known::error::PROTOCOL_VIOLATION,
        }
    }

    /// The request an ERROR can answer instead of ending the session: the
    /// message type and request ID of a request whose only fault is an
    /// incorrect URI.
    pub fn answerable_request(&self) -> Option<(MessageType, crate::id::Id)> {
        match self {
            ProtocolViolation::InvalidUri {
                message,
                request: Some(request),
                ..
            } => Some((*message, *request)),
            _ => None,
        }
    }
}
