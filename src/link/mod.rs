//! What the engine needs of a transport, below every transport: whole WAMP
//! frames in and out ([`FrameReader`], [`FrameWriter`]), why moving them
//! stopped ([`TransportError`]), and what a session may know of its
//! connection ([`TransportInfo`]).

mod info;
mod origin;

use std::fmt;
use std::future::Future;

use bytes::Bytes;

pub use info::{PeerAddress, TransportInfo, TransportKind};
pub use origin::OriginPolicy;

/// Why a transport stopped moving frames. Opaque, so it can grow; ask it
/// what kind of failure it was.
#[derive(Debug)]
pub(crate) struct TransportError {
    kind: ErrorKind,
    detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    /// The peer sent a message larger than the transport accepts.
    TooLarge,
    /// The peer broke the transport's framing rules.
    Protocol,
    /// A frame could not be written as the transport requires (a JSON
    /// frame that is not UTF-8 on a WebSocket text channel).
    Unwritable,
    /// The connection failed underneath.
    Io,
}

impl TransportError {
    fn new(kind: ErrorKind, detail: impl fmt::Display) -> Self {
        TransportError {
            kind,
            detail: detail.to_string(),
        }
    }

    /// The peer sent a message larger than the transport accepts.
    pub(crate) fn too_large(detail: impl fmt::Display) -> Self {
        Self::new(ErrorKind::TooLarge, detail)
    }

    /// The peer broke the transport's framing rules.
    pub(crate) fn protocol(detail: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Protocol, detail)
    }

    /// A frame could not be written as the transport requires.
    pub(crate) fn unwritable(detail: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Unwritable, detail)
    }

    /// The connection failed underneath.
    pub(crate) fn io(detail: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Io, detail)
    }

    /// Whether the peer sent a message larger than the transport accepts.
    #[allow(dead_code)]
    pub(crate) fn is_too_large(&self) -> bool {
        self.kind == ErrorKind::TooLarge
    }

    /// Whether the peer broke the transport's framing rules.
    #[allow(dead_code)]
    pub(crate) fn is_protocol(&self) -> bool {
        self.kind == ErrorKind::Protocol
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::TooLarge => "message too large",
            ErrorKind::Protocol => "transport protocol error",
            ErrorKind::Unwritable => "frame cannot be written",
            ErrorKind::Io => "connection failed",
        };
        write!(f, "{what}: {}", self.detail)
    }
}

impl std::error::Error for TransportError {}

/// The receiving half of a connection: whole WAMP frames, one at a time.
pub(crate) trait FrameReader: Send + 'static {
    /// The next data frame; `None` once the peer has closed the connection.
    /// Transport-level control frames (pings, pongs) are handled inside.
    fn next_frame(&mut self) -> impl Future<Output = Option<Result<Bytes, TransportError>>> + Send;

    /// How many frames of any kind (data, pings, pongs) have arrived so
    /// far, for liveness checks: a count that has not moved since the last
    /// check means the peer said nothing in between. `None` if this
    /// transport cannot tell. (A count, not a time: reading the clock for
    /// every frame would cost more than the check it serves.)
    fn frames_heard(&self) -> Option<u64> {
        None
    }
}

/// The sending half of a connection, driven by the session's one writer.
pub(crate) trait FrameWriter: Send + 'static {
    /// Queues a frame in the transport without flushing it.
    fn feed(&mut self, frame: Bytes) -> impl Future<Output = Result<(), TransportError>> + Send;
    /// Writes out everything fed so far.
    fn flush(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send;
    /// Closes the connection cleanly (a WebSocket close frame, a TCP FIN).
    fn close(&mut self) -> impl Future<Output = ()> + Send;

    /// The longest message the peer accepts, if the transport knows one
    /// (a RawSocket client announces it in its handshake).
    fn max_message_len(&self) -> Option<usize> {
        None
    }

    /// Sends a transport-level ping and flushes it; the peer's pong counts
    /// as being heard from. Transports without pings do nothing.
    fn ping(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send {
        std::future::ready(Ok(()))
    }
}
