//! Transports: they move frames between a peer and a WAMP session and know
//! nothing of routing.
//!
//! A transport hands each connection to the session layer as a
//! `FrameReader` and a `FrameWriter` plus the [`TransportInfo`] that
//! authenticators and handlers may read.

mod info;
pub mod listener;
pub mod rawsocket;
#[cfg(feature = "tls")]
pub mod tls;
pub mod websocket;

use std::future::Future;

use bytes::Bytes;

pub use info::{PeerAddress, TransportInfo, TransportKind};

/// Why a transport stopped moving frames.
#[derive(Debug, thiserror::Error)]
#[error("transport error: {0}")]
pub struct TransportError(pub(crate) String);

/// The receiving half of a connection: whole WAMP frames, one at a time.
pub(crate) trait FrameReader: Send + 'static {
    /// The next data frame; `None` once the peer has closed the connection.
    /// Transport-level control frames (pings, pongs) are handled inside.
    fn next_frame(&mut self) -> impl Future<Output = Option<Result<Bytes, TransportError>>> + Send;

    /// When anything (data, a pong) last arrived, for liveness checks;
    /// `None` if this transport cannot tell.
    fn last_heard(&self) -> Option<std::time::Instant> {
        None
    }
}

/// The sending half of a connection, driven by the session's one writer task.
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

/// How long an accept loop waits after an error that may pass (out of file
/// descriptors, say) before accepting again.
const ACCEPT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// What an accept loop does with an accept error: errors about one
/// connection are skipped, an unusable listener ends the loop (`Err`), and
/// anything else is logged and retried after [`ACCEPT_RETRY_DELAY`].
pub(crate) async fn on_accept_error(error: std::io::Error) -> std::io::Result<()> {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionAborted
        | ErrorKind::ConnectionRefused
        | ErrorKind::ConnectionReset
        | ErrorKind::Interrupted
        | ErrorKind::WouldBlock => Ok(()),
        // The listener itself is unusable: retrying cannot help.
        ErrorKind::InvalidInput => Err(error),
        _ => {
            tracing::error!(%error, "accept failed; retrying in {ACCEPT_RETRY_DELAY:?}");
            tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
            Ok(())
        }
    }
}
