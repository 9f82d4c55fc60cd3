//! Entry points for the fuzz targets in `fuzz/` and the instruction-count
//! guard (`examples/instructions.rs`), feature `harness`: not part of the
//! API, and not covered by semver.

use std::collections::VecDeque;

use bytes::Bytes;
use serverwamp_protocol::Codec;

use crate::Application;
use crate::engine::Engine;
use crate::link::{
    FrameReader, FrameWriter, PeerAddress, TransportError, TransportInfo, TransportKind,
};

/// Frames handed to the engine one by one, then the end of the connection.
struct Script(VecDeque<Bytes>);

impl FrameReader for Script {
    async fn next_frame(&mut self) -> Option<Result<Bytes, TransportError>> {
        // Let running calls and timers make progress between frames.
        tokio::task::yield_now().await;
        self.0.pop_front().map(Ok)
    }
}

/// Collects what the engine writes.
struct Collect(std::sync::Arc<std::sync::Mutex<Vec<Bytes>>>);

impl FrameWriter for Collect {
    async fn feed(&mut self, frame: Bytes) -> Result<(), TransportError> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(frame);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        Ok(())
    }

    async fn close(&mut self) {}
}

/// Serves one connection of `app` speaking `subprotocol` (a WAMP WebSocket
/// subprotocol such as `wamp.2.json`) that receives `frames` and then
/// closes; returns every frame the engine wrote, in order. Run it on a
/// runtime with paused time, so deadlines pass at once.
///
/// # Panics
/// When `subprotocol` is not a WAMP subprotocol.
pub async fn serve_frames(
    app: &Application,
    subprotocol: &str,
    frames: Vec<Vec<u8>>,
) -> Vec<Bytes> {
    let codec = Codec::from_subprotocol(subprotocol).expect("a WAMP subprotocol");
    let written = std::sync::Arc::default();
    let info = TransportInfo::new(TransportKind::WebSocket, PeerAddress::Unknown);
    let reader = Script(frames.into_iter().map(Bytes::from).collect());
    Engine::from(app)
        .serve(
            info,
            codec,
            reader,
            Collect(std::sync::Arc::clone(&written)),
        )
        .await;
    std::mem::take(
        &mut *written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}
