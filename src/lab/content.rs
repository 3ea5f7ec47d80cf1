//! The content side of the lab: where a file's bytes come from (a regenerated catalog file, or
//! a file of a chosen size generated block by block), and the body that streams a range of
//! them with constant memory, applying the injected content faults and the rate limit and
//! counting what it actually hands to the connection.

use super::catalog::BLOCK;
use super::Lab;
use crate::model::Sha1Digest;
use axum::body::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::future::Future as _;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Unthrottled bodies go out in pieces of this size (one generator block when aligned).
const CHUNK: u64 = BLOCK as u64;
/// A throttled body sends about this many pieces per second (smaller ones at low rates, so a
/// slow download advances smoothly enough to be observed and cancelled mid-way).
const PACED_PIECES_PER_SEC: u64 = 16;
/// How long a truncated body waits before failing. The failure makes hyper drop the
/// connection together with whatever it has not flushed yet; the pause lets it flush, so the
/// client really receives the promised bytes before the abort.
const ABORT_GRACE: Duration = Duration::from_millis(50);

/// Where the bytes of one content file come from.
pub(super) enum FileSource {
    /// A catalog file (at most 64 KiB), regenerated whole once per request.
    Small(Bytes),
    /// A file of a chosen size, generated block by block (never held whole).
    Sized { key: u64, size: u64 },
}

impl FileSource {
    pub(super) fn len(&self) -> u64 {
        match self {
            Self::Small(bytes) => bytes.len() as u64,
            Self::Sized { size, .. } => *size,
        }
    }

    /// Fill `buf` with the bytes at `offset` (the caller keeps within `len`).
    pub(super) fn read(&self, lab: &Lab, offset: u64, buf: &mut [u8]) {
        match self {
            Self::Small(bytes) => {
                let start = offset as usize;
                buf.copy_from_slice(&bytes[start..start + buf.len()]);
            }
            Self::Sized { key, size } => lab.base().sized_file_read(*key, *size, offset, buf),
        }
    }
}

/// The response body of one `GET /Content/…`: bytes `[start, end)` of a file.
pub(super) struct ContentBody {
    lab: Lab,
    source: FileSource,
    sha1: Sha1Digest,
    pos: u64,
    end: u64,
    /// File offset of the byte to flip (CorruptContent), when inside the range.
    flip: Option<u64>,
    /// File offset at which the body fails instead of going on (TruncateContent); always
    /// below `end`.
    abort_at: Option<u64>,
    /// When the last paced piece was due; the next one is due a piece-time later.
    due: Option<Instant>,
    /// The pause before the next paced piece, with that piece's size.
    wait: Option<(Pin<Box<Sleep>>, usize)>,
    grace: Option<Pin<Box<Sleep>>>,
}

impl ContentBody {
    /// Bytes `[start, end)` of `source`; `flip` and `abort_after` come from the injected
    /// switches (`abort_after` counts body bytes, at or beyond the body length it is a no-op).
    pub(super) fn new(
        lab: Lab,
        source: FileSource,
        sha1: Sha1Digest,
        (start, end): (u64, u64),
        flip: Option<u64>,
        abort_after: Option<u64>,
    ) -> Self {
        Self {
            lab,
            source,
            sha1,
            pos: start,
            end,
            flip: flip.filter(|at| (start..end).contains(at)),
            abort_at: abort_after
                .and_then(|n| start.checked_add(n))
                .filter(|at| *at < end),
            due: None,
            wait: None,
            grace: None,
        }
    }

    /// Size of the next piece, or Pending while the rate limit holds it back.
    fn next_piece(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        if let Some((sleep, n)) = &mut self.wait {
            ready!(sleep.as_mut().poll(cx));
            let n = *n;
            self.wait = None;
            return Poll::Ready(n);
        }
        let room = self.abort_at.unwrap_or(self.end) - self.pos;
        let Some(rate) = self.lab.content_rate() else {
            self.due = None;
            return Poll::Ready(room.min(CHUNK) as usize);
        };
        let n = room.min((rate / PACED_PIECES_PER_SEC).clamp(1, CHUNK)) as usize;
        // A piece goes out only once the time to send it at `rate` has passed, so the stream
        // stays under the rate; time lost to a slow reader is not made up in a burst.
        let now = Instant::now();
        let due =
            self.due.map_or(now, |d| d.max(now)) + Duration::from_secs_f64(n as f64 / rate as f64);
        self.due = Some(due);
        let mut sleep = Box::pin(tokio::time::sleep_until(due));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(n);
        }
        self.wait = Some((sleep, n));
        Poll::Pending
    }
}

impl Body for ContentBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.abort_at.is_some_and(|at| this.pos >= at) {
            let grace = this
                .grace
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(ABORT_GRACE)));
            ready!(grace.as_mut().poll(cx));
            return Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "content body cut short by the lab (TruncateContent)",
            ))));
        }
        if this.pos >= this.end {
            return Poll::Ready(None);
        }
        let n = ready!(this.next_piece(cx));
        let mut buf = vec![0u8; n];
        this.source.read(&this.lab, this.pos, &mut buf);
        if let Some(at) = this.flip {
            if let Some(byte) = at
                .checked_sub(this.pos)
                .and_then(|i| buf.get_mut(i as usize))
            {
                *byte ^= 0xff;
            }
        }
        this.pos += n as u64;
        // Counted as handed to hyper: a client that goes away stops the polling, so the
        // unsent rest is never counted.
        this.lab.count_content_bytes(&this.sha1, n as u64);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.end && self.abort_at.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.end - self.pos)
    }
}
