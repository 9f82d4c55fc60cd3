//! The session's reader and writer on an established RawSocket connection.
//!
//! # Who writes a PONG
//!
//! The spec has a peer answer each PING "immediately" with one PONG. The
//! session's writer task only writes when the session has something to
//! send, so a PONG handed to it could wait indefinitely on a quiet session.
//! The reader therefore writes the PONG itself, and both halves share the
//! connection's write side behind a `tokio::sync::Mutex`. The writer task
//! holds the lock only while it feeds or flushes, the reader only while it
//! writes a PONG, so the lock is almost never contended; a dedicated
//! writer task per connection would cost memory on every idle connection.
//!
//! Frames are encoded whole into the shared write buffer in one step, so
//! PONGs and WAMP messages never interleave inside a frame, and a read
//! cancelled half way through answering a PING (the session polls
//! `next_frame` in a `select!`) picks up where it stopped on the next call.

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::framing::{Frame, FrameCodec, FrameError, FrameType};
use crate::link::{FrameReader, FrameWriter, TransportError};

/// The read buffer of a connection, allocated when it opens and kept while
/// it is idle: enough for the usual WAMP message in one read. A larger
/// frame grows it; it shrinks back once that frame is read.
const READ_BUFFER_SIZE: usize = 2 * 1024;

/// How many bytes of outgoing frames gather before a feed writes them out
/// (a flush always writes everything).
const WRITE_BUFFER_SIZE: usize = 4 * 1024;

/// A write buffer that grew past this for a large message is released once
/// written, so idle connections do not keep it.
const RETAINED_WRITE_BUFFER: usize = 8 * 1024;

/// The write side, shared by the session's writer and the reader's PONGs.
type SharedSink<W> = Arc<Mutex<FramedWrite<W, FrameCodec>>>;

/// Builds the session's reader and writer on the two halves of a
/// connection whose handshake is done.
///
/// `max_receive` is the router's own limit (its handshake reply),
/// `max_send` the client's; `keepalive` makes the connection take part in
/// the application's keepalive (see `RawSocketSettings::keepalive_pings`).
pub(super) fn halves<R, W>(
    read: R,
    write: W,
    max_receive: usize,
    max_send: usize,
    keepalive: bool,
) -> (RawSocketReader<R, W>, RawSocketWriter<W>)
where
    R: AsyncRead,
    W: AsyncWrite,
{
    // No write buffer until there is something to write: most of an idle
    // connection's life it would sit empty.
    let mut sink = FramedWrite::with_capacity(write, FrameCodec::new(max_send), 0);
    sink.set_backpressure_boundary(WRITE_BUFFER_SIZE);
    let sink = Arc::new(Mutex::new(sink));
    let reader = RawSocketReader {
        frames: FramedRead::with_capacity(read, FrameCodec::new(max_receive), READ_BUFFER_SIZE),
        sink: Arc::clone(&sink),
        owed_pong: None,
        pong_unflushed: false,
        buffer_grown: false,
        heard: 0,
        keepalive,
        done: false,
    };
    let writer = RawSocketWriter {
        sink,
        max_send,
        keepalive,
    };
    (reader, writer)
}

fn write_error(error: &FrameError) -> TransportError {
    TransportError::io(format!("RawSocket: {error}"))
}

/// Releases a write buffer that a large message made large, once empty.
fn release_write_buffer<W>(sink: &mut FramedWrite<W, FrameCodec>) {
    let buffer = sink.write_buffer_mut();
    if buffer.is_empty() && buffer.capacity() > RETAINED_WRITE_BUFFER {
        *buffer = BytesMut::new();
    }
}

/// The receiving half: WAMP messages for the session; PINGs answered here,
/// PONGs noted as signs of life.
pub(super) struct RawSocketReader<R, W> {
    frames: FramedRead<R, FrameCodec>,
    sink: SharedSink<W>,
    /// The payload of a PING not answered yet.
    owed_pong: Option<Bytes>,
    /// A PONG is in the write buffer but not yet flushed.
    pong_unflushed: bool,
    /// The read buffer grew for a frame larger than its usual size.
    buffer_grown: bool,
    /// How many frames the peer has sent (PINGs and PONGs included).
    heard: u64,
    /// Whether liveness is tracked (`heard` is reported).
    keepalive: bool,
    /// Set once the connection ended or failed: nothing more is read.
    done: bool,
}

impl<R, W> RawSocketReader<R, W>
where
    W: AsyncWrite + Unpin,
{
    /// Writes and flushes the PONG owed, if any. Cancel-safe: the state
    /// says what is left to do.
    async fn answer_ping(&mut self) -> Result<(), TransportError> {
        if self.owed_pong.is_none() && !self.pong_unflushed {
            return Ok(());
        }
        let mut sink = self.sink.lock().await;
        if let Some(payload) = &self.owed_pong {
            if payload.len() > sink.encoder().max_length() {
                // Only a peer that sends more than it accepts itself can
                // ask for this: an echo would break its limit in turn.
                tracing::debug!(
                    length = payload.len(),
                    "not answering a RawSocket PING longer than the peer accepts"
                );
            } else {
                // `feed` encodes the frame into the buffer in the same poll
                // that completes it: once it returns, the PONG is queued.
                sink.feed(Frame::new(FrameType::Pong, payload.clone()))
                    .await
                    .map_err(|e| write_error(&e))?;
                self.pong_unflushed = true;
            }
            self.owed_pong = None;
        }
        sink.flush().await.map_err(|e| write_error(&e))?;
        self.pong_unflushed = false;
        release_write_buffer(&mut sink);
        Ok(())
    }

    /// Replaces a read buffer that grew for a large frame once it is empty,
    /// so an idle connection does not keep the large allocation.
    fn release_read_buffer(&mut self, frame_length: usize) {
        if frame_length > READ_BUFFER_SIZE {
            self.buffer_grown = true;
        }
        let buffer = self.frames.read_buffer_mut();
        if self.buffer_grown && buffer.is_empty() {
            *buffer = BytesMut::with_capacity(READ_BUFFER_SIZE);
            self.buffer_grown = false;
        }
    }
}

impl<R, W> FrameReader for RawSocketReader<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    async fn next_frame(&mut self) -> Option<Result<Bytes, TransportError>> {
        while !self.done {
            if let Err(error) = self.answer_ping().await {
                self.done = true;
                return Some(Err(error));
            }
            let frame = match self.frames.next().await {
                Some(Ok(frame)) => frame,
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(FrameError::Io(error)))
                    if matches!(
                        error.kind(),
                        io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::BrokenPipe
                    ) =>
                {
                    // A peer that vanished has closed the connection all
                    // the same.
                    tracing::debug!(%error, "RawSocket peer went away");
                    self.done = true;
                    return None;
                }
                // A frame over the limit, reserved bits or types: the spec
                // has the peer fail the connection.
                Some(Err(error)) => {
                    self.done = true;
                    let detail = format!("RawSocket: {error}");
                    return Some(Err(if matches!(error, FrameError::TooLong { .. }) {
                        TransportError::too_large(detail)
                    } else {
                        TransportError::protocol(detail)
                    }));
                }
            };
            self.heard = self.heard.wrapping_add(1);
            self.release_read_buffer(frame.payload.len());
            match frame.kind {
                FrameType::Message => return Some(Ok(frame.payload)),
                FrameType::Ping => self.owed_pong = Some(frame.payload),
                // Being heard from is all a PONG means.
                FrameType::Pong => {}
            }
        }
        None
    }

    fn frames_heard(&self) -> Option<u64> {
        // Without pings of our own, a quiet client is not a dead one.
        self.keepalive.then_some(self.heard)
    }
}

/// The sending half, driven by the session's writer task.
pub(super) struct RawSocketWriter<W> {
    sink: SharedSink<W>,
    /// The longest message the client accepts.
    max_send: usize,
    /// Whether keepalive pings are sent.
    keepalive: bool,
}

impl<W> FrameWriter for RawSocketWriter<W>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    async fn feed(&mut self, frame: Bytes) -> Result<(), TransportError> {
        // Spec, "Serialization": a message longer than the peer accepts
        // cannot be sent, and what to do is left to the implementation. It
        // is dropped, which keeps the session (the spec's own suggestion
        // for events); failing the connection would end it for one message.
        if frame.len() > self.max_send {
            tracing::warn!(
                length = frame.len(),
                max = self.max_send,
                "dropping a message longer than the RawSocket client accepts"
            );
            return Ok(());
        }
        let mut sink = self.sink.lock().await;
        sink.feed(Frame::new(FrameType::Message, frame))
            .await
            .map_err(|e| write_error(&e))
    }

    fn max_message_len(&self) -> Option<usize> {
        Some(self.max_send)
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        let mut sink = self.sink.lock().await;
        sink.flush().await.map_err(|e| write_error(&e))?;
        release_write_buffer(&mut sink);
        Ok(())
    }

    async fn close(&mut self) {
        let mut sink = self.sink.lock().await;
        // Flushes, then shuts the write side down (a TCP FIN). An error
        // means the connection is already gone, which closing wants.
        if let Err(error) = SinkExt::<Frame>::close(&mut *sink).await {
            tracing::trace!(%error, "RawSocket connection already closed");
        }
    }

    async fn ping(&mut self) -> Result<(), TransportError> {
        if !self.keepalive {
            return Ok(());
        }
        let mut sink = self.sink.lock().await;
        sink.feed(Frame::new(FrameType::Ping, Bytes::new()))
            .await
            .map_err(|e| write_error(&e))?;
        sink.flush().await.map_err(|e| write_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

    use super::*;

    type Reader = RawSocketReader<ReadHalf<DuplexStream>, WriteHalf<DuplexStream>>;
    type Writer = RawSocketWriter<WriteHalf<DuplexStream>>;

    /// A server reader and writer, and the client's end of the pipe.
    fn pair(
        max_receive: usize,
        max_send: usize,
        keepalive: bool,
    ) -> (Reader, Writer, DuplexStream) {
        let (server, client) = tokio::io::duplex(64 * 1024);
        let (read, write) = tokio::io::split(server);
        let (reader, writer) = halves(read, write, max_receive, max_send, keepalive);
        (reader, writer, client)
    }

    async fn read_exactly(client: &mut DuplexStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut buf))
            .await
            .expect("the bytes arrive in time")
            .expect("the bytes are read");
        buf
    }

    #[tokio::test]
    async fn messages_are_read_and_pings_answered_on_the_way() {
        let (mut reader, _writer, mut client) = pair(1024, 1024, false);
        client
            .write_all(b"\x01\x00\x00\x04ping\x00\x00\x00\x03[1]")
            .await
            .unwrap();
        assert_eq!(reader.next_frame().await.unwrap().unwrap(), &b"[1]"[..]);
        assert_eq!(read_exactly(&mut client, 8).await, b"\x02\x00\x00\x04ping");
    }

    #[tokio::test]
    async fn a_ping_is_answered_while_the_session_sends_nothing() {
        let (mut reader, _writer, mut client) = pair(1024, 1024, false);
        let reading = tokio::spawn(async move { reader.next_frame().await.map(Result::unwrap) });
        client.write_all(b"\x01\x00\x00\x00").await.unwrap();
        assert_eq!(read_exactly(&mut client, 4).await, b"\x02\x00\x00\x00");
        client.write_all(b"\x01\x00\x00\x02ab").await.unwrap();
        assert_eq!(read_exactly(&mut client, 6).await, b"\x02\x00\x00\x02ab");
        // PONGs are only signs of life.
        client
            .write_all(b"\x02\x00\x00\x01z\x00\x00\x00\x03[4]")
            .await
            .unwrap();
        assert_eq!(reading.await.unwrap().unwrap(), &b"[4]"[..]);
    }

    #[tokio::test]
    async fn a_cancelled_read_still_answers_its_ping() {
        let (mut reader, mut writer, mut client) = pair(1024, 1024, false);
        // Hold the write side so the PONG cannot be written, and cancel the
        // read that owes it.
        let guard = Arc::clone(&writer.sink);
        let held = guard.lock().await;
        client.write_all(b"\x01\x00\x00\x02hi").await.unwrap();
        let cancelled = tokio::time::timeout(Duration::from_millis(50), reader.next_frame()).await;
        assert!(cancelled.is_err(), "the read waits for the write side");
        drop(held);
        writer.feed(Bytes::from_static(b"[9]")).await.unwrap();
        writer.flush().await.unwrap();
        client.write_all(b"\x00\x00\x00\x03[5]").await.unwrap();
        assert_eq!(reader.next_frame().await.unwrap().unwrap(), &b"[5]"[..]);
        // The message, then exactly one PONG, each whole.
        assert_eq!(
            read_exactly(&mut client, 13).await,
            b"\x00\x00\x00\x03[9]\x02\x00\x00\x02hi"
        );
    }

    #[tokio::test]
    async fn the_writer_frames_messages_and_drops_ones_too_long() {
        let (_reader, mut writer, mut client) = pair(1024, 4, false);
        writer.feed(Bytes::from_static(b"[1]")).await.unwrap();
        writer.feed(Bytes::from_static(b"[1000]")).await.unwrap();
        writer.feed(Bytes::from_static(b"[2]")).await.unwrap();
        writer.flush().await.unwrap();
        assert_eq!(
            read_exactly(&mut client, 14).await,
            b"\x00\x00\x00\x03[1]\x00\x00\x00\x03[2]"
        );
    }

    #[tokio::test]
    async fn pings_and_liveness_only_with_keepalive() {
        let (reader, mut writer, mut client) = pair(1024, 1024, true);
        assert!(reader.frames_heard().is_some());
        writer.ping().await.unwrap();
        assert_eq!(read_exactly(&mut client, 4).await, b"\x01\x00\x00\x00");

        let (reader, mut writer, mut client) = pair(1024, 1024, false);
        assert!(reader.frames_heard().is_none());
        writer.ping().await.unwrap();
        writer.close().await;
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "no ping sent: {rest:?}");
    }

    #[tokio::test]
    async fn a_bad_frame_fails_once_then_ends() {
        for bad in [
            &b"\x00\x00\x04\x01"[..],
            b"\x10\x00\x00\x00",
            b"\x03\x00\x00\x00",
        ] {
            let (mut reader, _writer, mut client) = pair(1024, 1024, false);
            client.write_all(bad).await.unwrap();
            assert!(reader.next_frame().await.unwrap().is_err(), "{bad:?}");
            assert!(reader.next_frame().await.is_none());
            assert!(reader.next_frame().await.is_none());
        }
    }

    #[tokio::test]
    async fn a_closed_peer_ends_the_reader() {
        let (mut reader, _writer, client) = pair(1024, 1024, false);
        drop(client);
        assert!(reader.next_frame().await.is_none());
    }

    #[tokio::test]
    async fn large_frames_do_not_leave_large_buffers() {
        let (mut reader, mut writer, client) = pair(1 << 20, 1 << 20, false);
        let mut frame = vec![0x00, 0x01, 0x00, 0x00];
        frame.extend(vec![b'x'; 1 << 16]);
        // More than the pipe holds: written while the reader reads.
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let writing = tokio::spawn(async move { client_write.write_all(&frame).await.unwrap() });
        assert_eq!(reader.next_frame().await.unwrap().unwrap().len(), 1 << 16);
        writing.await.unwrap();
        assert!(reader.frames.read_buffer().capacity() <= READ_BUFFER_SIZE);

        writer.feed(Bytes::from(vec![b'y'; 1 << 16])).await.unwrap();
        let draining = tokio::spawn(async move {
            let mut buf = vec![0; 4 + (1 << 16)];
            client_read.read_exact(&mut buf).await.unwrap();
        });
        writer.flush().await.unwrap();
        draining.await.unwrap();
        assert!(writer.sink.lock().await.write_buffer().capacity() <= RETAINED_WRITE_BUFFER);
    }
}
