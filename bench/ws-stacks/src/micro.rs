//! The WebSocket layer alone: each stack's echo loop over an in-memory
//! connection that always has the next client frame ready and takes every
//! write at once, on a current-thread runtime. No kernel, no scheduler, no
//! other process: run under `valgrind --tool=cachegrind` it gives
//! instruction counts per echoed message that do not depend on the load of
//! a shared machine.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Stack;

/// One masked client frame, as a browser would send it.
fn client_frame(payload: &[u8], opcode: u8) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A connection whose peer has sent `count` copies of `frame` then a close
/// frame; reads return up to 64 KiB (a socket read's worth), writes are
/// counted and dropped.
struct MemIo {
    frame: Vec<u8>,
    close: Vec<u8>,
    count: usize,
    /// Position in the virtual input: whole frames sent and offset in the
    /// current one.
    sent: usize,
    offset: usize,
    written: Arc<AtomicU64>,
}

impl AsyncRead for MemIo {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut budget = 64 * 1024;
        while budget > 0 && buf.remaining() > 0 && this.sent <= this.count {
            let current = if this.sent < this.count {
                &this.frame
            } else {
                &this.close
            };
            let take = (current.len() - this.offset)
                .min(buf.remaining())
                .min(budget);
            buf.put_slice(&current[this.offset..this.offset + take]);
            budget -= take;
            this.offset += take;
            if this.offset == current.len() {
                this.offset = 0;
                this.sent += 1;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.fetch_add(data.len() as u64, Ordering::Relaxed);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n: usize = bufs.iter().map(|b| b.len()).sum();
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

pub fn micro(
    stack: Stack,
    messages: usize,
    size: usize,
    text: bool,
    repeat: usize,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let payload = vec![b'x'; size];
    let frame = client_frame(&payload, if text { 1 } else { 2 });
    let close = {
        let mut close = client_frame(&1000u16.to_be_bytes(), 8);
        close.shrink_to_fit();
        close
    };
    let mut best = f64::INFINITY;
    let mut written = 0;
    for _ in 0..repeat.max(1) {
        let counter = Arc::new(AtomicU64::new(0));
        let io = MemIo {
            frame: frame.clone(),
            close: close.clone(),
            count: messages,
            sent: 0,
            offset: 0,
            written: Arc::clone(&counter),
        };
        let start = Instant::now();
        runtime.block_on(async move {
            match stack {
                Stack::Tungstenite => crate::server::tungstenite_echo(io).await,
                Stack::TokioWebsockets => crate::server::tokio_websockets_echo(io).await,
                Stack::Fastwebsockets => crate::server::fastwebsockets_echo(io).await,
            }
        });
        let elapsed = start.elapsed().as_secs_f64();
        best = best.min(elapsed);
        written = counter.load(Ordering::Relaxed);
    }
    // Every message must have come back: header (2 or 4 bytes) + payload.
    let header = if size < 126 {
        2
    } else if size < 65536 {
        4
    } else {
        10
    };
    let expected = (messages * (size + header)) as u64;
    if written < expected {
        return Err(format!("only {written} of {expected} bytes echoed"));
    }
    println!(
        "RESULT messages={messages} ns_per_msg={:.1} written={written}",
        best * 1e9 / messages.max(1) as f64
    );
    Ok(())
}
