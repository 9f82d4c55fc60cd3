//! Write coalescing for a stack that writes each frame straight to its
//! socket (fastwebsockets): a 4 KiB write buffer under the WebSocket that
//! is flushed when a read finds nothing waiting, which is serverwamp's rule
//! ("flush once no received frame is waiting") moved down to the I/O.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
pub struct CoalescingIo<T> {
    io: T,
    /// Bytes written but not yet sent; allocated on first use.
    buffer: Vec<u8>,
    /// How much of `buffer` has been sent.
    sent: usize,
    capacity: usize,
}

impl<T: AsyncWrite + Unpin> CoalescingIo<T> {
    pub fn new(io: T, capacity: usize) -> Self {
        CoalescingIo {
            io,
            buffer: Vec::new(),
            sent: 0,
            capacity,
        }
    }

    /// Sends what the buffer holds.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.buffer.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.buffer[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.buffer.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for CoalescingIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => {
                // Nothing more to read: send what was answered so far.
                if this.sent < this.buffer.len()
                    && let Poll::Ready(Err(e)) = this.poll_drain(cx)
                {
                    return Poll::Ready(Err(e));
                }
                Poll::Pending
            }
            ready => ready,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CoalescingIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.buffer.len() + data.len() > this.capacity {
            ready!(this.poll_drain(cx))?;
        }
        if data.len() >= this.capacity {
            return Pin::new(&mut this.io).poll_write(cx, data);
        }
        this.buffer.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    /// A header and a large payload (fastwebsockets' `writev` path) go
    /// out in one vectored write once the buffer is drained; small ones
    /// are gathered like any write.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if this.buffer.len() + total > this.capacity {
            ready!(this.poll_drain(cx))?;
        }
        if total >= this.capacity {
            return Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        }
        for buf in bufs {
            this.buffer.extend_from_slice(buf);
        }
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
