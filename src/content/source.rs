//! Opening a file for a client: verified bytes from the cache, or — on a miss — a tail of
//! the download in progress, started if need be. A tail never hands out the file's last byte
//! before the whole file verified, and ends in an error (the server then cuts the
//! connection) if it did not, so a client never completes a download of bad bytes.

use super::flight::{self, Progress, Recent};
use super::{cache, Content, Error, Stats};
use crate::model::{Sha1Digest, UpdateFile};
use crate::store::ContentState;
use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use sha1::{Digest as _, Sha1};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// Read size when streaming to a client: Delivery Optimization's piece size, so a piece is
/// one read.
const READ_CHUNK: usize = 1 << 20;
/// `last_served` is written at most this often per file.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A file ready to be sent.
pub struct Source {
    pub file: UpdateFile,
    /// When the cached copy was written; `None` while it is still downloading.
    pub modified: Option<SystemTime>,
    body: Body,
    _in_use: InUse,
}

enum Body {
    /// The open file and its stamp.
    Cached(Arc<File>, i64),
    Live {
        part: Arc<File>,
        rx: watch::Receiver<Progress>,
        content: Content,
    },
}

impl Source {
    /// True when the bytes come from a download in progress.
    pub fn is_live(&self) -> bool {
        matches!(self.body, Body::Live { .. })
    }

    /// The bytes `start..=end` (both within the file).
    pub fn stream(self, start: u64, end: u64) -> BoxStream<'static, std::io::Result<Bytes>> {
        let Source {
            file,
            body,
            _in_use,
            ..
        } = self;
        match body {
            Body::Cached(f, stamp) => {
                let whole = start == 0 && end + 1 == file.size;
                let known_good = _in_use.content.0.is_known_good(&file.sha1, stamp);
                CachedRead {
                    f,
                    pos: start,
                    left: end - start + 1,
                    sha1: (whole && !known_good).then(Sha1::new),
                    stamp,
                    held: None,
                    file,
                    in_use: _in_use,
                }
                .into_stream()
            }
            Body::Live { part, rx, content } => Tail {
                file,
                part,
                rx,
                content,
                pos: start,
                end,
                verified: false,
                recent: None,
                _in_use,
            }
            .into_stream(),
        }
    }
}

impl Content {
    /// Open the file with this SHA-1 for serving. `Ok(None)`: the synced metadata does not
    /// name it. A miss starts (or joins) its download and tails it.
    pub async fn open(&self, sha1: &Sha1Digest) -> Result<Option<Source>, Error> {
        for _ in 0..4 {
            let Some(entry) = self.lookup(sha1)? else {
                return Ok(None);
            };
            if entry.state == ContentState::Verified {
                if let Some(source) = self.open_cached(&entry.file, entry.stamp).await? {
                    return Ok(Some(source));
                }
            }
            let mut rx = self.start(&entry.file);
            // Wait for the leader to have the partial file open (or to be done).
            loop {
                let progress = rx.borrow_and_update().clone();
                match progress {
                    Progress::Running { .. } => {
                        let path = self.0.partial.join(entry.file.sha1.to_hex_upper());
                        match File::open(&path) {
                            Ok(part) => {
                                let part = Arc::new(part);
                                let in_use = InUse::new(self, entry.file.sha1);
                                return Ok(Some(Source {
                                    file: entry.file,
                                    modified: None,
                                    body: Body::Live {
                                        part,
                                        rx,
                                        content: self.clone(),
                                    },
                                    _in_use: in_use,
                                }));
                            }
                            // Published and removed just now: look again.
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                            Err(e) => return Err(e.into()),
                        }
                    }
                    Progress::Done(Ok(())) | Progress::Abandoned => break,
                    Progress::Done(Err(e)) => return Err(e),
                    Progress::Starting => {
                        if rx.changed().await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        Err(Error::Io(format!(
            "{} kept changing while being opened",
            sha1.to_hex_upper()
        )))
    }

    /// Start fetching `file` in the background unless a flight is already on; returns that
    /// flight's progress. The download belongs to no client: one going away does not stop it.
    pub fn start(&self, file: &UpdateFile) -> watch::Receiver<Progress> {
        match self.0.flights.join(file.sha1) {
            flight::Role::Follower(rx) => rx,
            flight::Role::Leader(leader) => {
                let rx = leader.subscribe();
                let content = self.clone();
                let file = file.clone();
                tokio::spawn(async move {
                    let outcome = content.lead(&file, &leader).await;
                    if let Err(e) = &outcome {
                        tracing::warn!(sha1 = file.sha1.to_hex_upper(), cause = %e, "on-demand fetch failed");
                    }
                    let again = super::is_resumed_mismatch(&outcome);
                    leader.finish(outcome);
                    // Its readers have failed; fetch afresh for the next ones.
                    if again {
                        content.start(&file);
                    }
                });
                rx
            }
        }
    }

    /// The verified cached copy, unless it is gone or was changed behind our back — then it
    /// is quarantined (changed) or marked missing (gone) and `None` is returned.
    async fn open_cached(
        &self,
        file: &UpdateFile,
        stamp: Option<i64>,
    ) -> Result<Option<Source>, Error> {
        let inner = &self.0;
        let in_use = InUse::new(self, file.sha1);
        let f = match File::open(cache::path(&inner.root, &file.sha1)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                inner.store.content_removed(&file.sha1)?;
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let meta = f.metadata()?;
        if meta.len() != file.size || stamp != Some(cache::stamp(&meta)) {
            tracing::error!(
                sha1 = file.sha1.to_hex_upper(),
                "cached file changed on disk since it was verified; quarantined, fetching again"
            );
            self.quarantine(file, "changed on disk after verification")
                .await?;
            return Ok(None);
        }
        self.touch(&file.sha1);
        Ok(Some(Source {
            file: file.clone(),
            modified: meta.modified().ok(),
            body: Body::Cached(Arc::new(f), cache::stamp(&meta)),
            _in_use: in_use,
        }))
    }

    /// Note that a file was served (throttled write of `last_served`).
    fn touch(&self, sha1: &Sha1Digest) {
        let now = Instant::now();
        {
            let mut touched = self.0.touched.lock().unwrap_or_else(|e| e.into_inner());
            match touched.get(sha1) {
                Some(t) if now.duration_since(*t) < TOUCH_EVERY => return,
                _ => touched.insert(*sha1, now),
            };
        }
        // Off the request path: a write waits for SQLite's lock.
        let (store, sha1) = (self.0.store.clone(), *sha1);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.content_touch(&[sha1]) {
                tracing::warn!(cause = %e, "recording last_served failed");
            }
        });
    }
}

/// Registers a file as being served until dropped.
struct InUse {
    content: Content,
    sha1: Sha1Digest,
}

impl InUse {
    fn new(content: &Content, sha1: Sha1Digest) -> Self {
        *content.0.in_use().entry(sha1).or_default() += 1;
        Self {
            content: content.clone(),
            sha1,
        }
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        let mut map = self.content.0.in_use();
        if let Some(n) = map.get_mut(&self.sha1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.sha1);
            }
        }
    }
}

/// A reader that yields a body chunk by chunk; a stream of it ends after its first error.
trait Chunks: Sized + Send + 'static {
    fn next_chunk(
        &mut self,
    ) -> impl std::future::Future<Output = std::io::Result<Option<Bytes>>> + Send;

    fn into_stream(self) -> BoxStream<'static, std::io::Result<Bytes>> {
        stream::unfold(Some(self), |reader| async move {
            let mut reader = reader?;
            match reader.next_chunk().await {
                Ok(Some(bytes)) => Some((Ok(bytes), Some(reader))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
        .boxed()
    }
}

/// Reads a cached file. The first whole-file read of a file in this process (one this
/// process did not publish itself) is hashed as it goes, its last chunk held back until the
/// SHA-1 matched: bytes changed on disk in a way the stamp check misses — rot since the last
/// start, an edit that kept the mtime — end the response in an error (the client's own check
/// fails safe), quarantine the file and start fetching it again. Later reads of the same
/// bytes (same stamp), and partial reads (Delivery Optimization's 1 MiB pieces), rely on
/// that, the stamp check and `outpost verify`: hashing every read would halve throughput.
struct CachedRead {
    f: Arc<File>,
    pos: u64,
    left: u64,
    sha1: Option<Sha1>,
    stamp: i64,
    held: Option<Bytes>,
    file: UpdateFile,
    in_use: InUse,
}

impl Chunks for CachedRead {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            if self.left == 0 {
                let matches = self
                    .sha1
                    .take()
                    .is_none_or(|h| h.finalize()[..] == self.file.sha1.0[..]);
                if !matches {
                    self.corrupt().await;
                    return Err(std::io::Error::other("cached file failed verification"));
                }
                if self.held.is_some() {
                    self.in_use.content.0.known_good(self.file.sha1, self.stamp);
                }
                return Ok(self.held.take());
            }
            let want = self.left.min(READ_CHUNK as u64) as usize;
            let chunk = read_at(&self.f, self.pos, want).await?;
            if chunk.is_empty() {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.pos += chunk.len() as u64;
            self.left -= chunk.len() as u64;
            Stats::add(
                &self.in_use.content.0.stats.served_bytes,
                chunk.len() as u64,
            );
            match &mut self.sha1 {
                None => return Ok(Some(chunk)),
                Some(h) => {
                    h.update(&chunk);
                    if let Some(previous) = self.held.replace(chunk) {
                        return Ok(Some(previous));
                    }
                }
            }
        }
    }
}

impl CachedRead {
    async fn corrupt(&self) {
        let content = &self.in_use.content;
        tracing::error!(
            sha1 = self.file.sha1.to_hex_upper(),
            "cached file failed verification while being served; quarantined, fetching again"
        );
        if let Err(e) = content
            .quarantine(&self.file, "SHA-1 mismatch found while serving")
            .await
        {
            tracing::error!(cause = %e, "quarantine failed");
        }
        content.start(&self.file);
    }
}

/// Reads a partial file as its download proceeds.
struct Tail {
    file: UpdateFile,
    part: Arc<File>,
    rx: watch::Receiver<Progress>,
    content: Content,
    pos: u64,
    end: u64,
    verified: bool,
    /// The leader's latest write, served from memory while this reader keeps up.
    recent: Option<Recent>,
    _in_use: InUse,
}

impl Chunks for Tail {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        if self.pos > self.end {
            return Ok(None);
        }
        loop {
            // Bytes we may hand out now: what was written, minus the last byte of the file
            // until the download verified.
            let state = self.rx.borrow_and_update().clone();
            let readable = match state {
                Progress::Done(Ok(())) => {
                    self.verified = true;
                    self.file.size
                }
                Progress::Done(Err(e)) => return Err(std::io::Error::other(e.to_string())),
                Progress::Running { written, recent } if !self.verified => {
                    if recent.is_some() {
                        self.recent = recent;
                    }
                    written.min(self.file.size.saturating_sub(1))
                }
                _ if self.verified => self.file.size,
                Progress::Running { .. } | Progress::Starting => 0,
                Progress::Abandoned => {
                    // The download lost its leader; start it again (it resumes the same
                    // partial file) and keep reading.
                    self.rx = self.content.start(&self.file);
                    continue;
                }
            };
            let limit = readable.min(self.end + 1);
            if self.pos < limit {
                if let Some(chunk) = self.recent_bytes(limit) {
                    self.pos += chunk.len() as u64;
                    Stats::add(&self.content.0.stats.served_bytes, chunk.len() as u64);
                    return Ok(Some(chunk));
                }
                let want = (limit - self.pos).min(READ_CHUNK as u64) as usize;
                let chunk = read_at(&self.part, self.pos, want).await?;
                if !chunk.is_empty() {
                    self.pos += chunk.len() as u64;
                    Stats::add(&self.content.0.stats.served_bytes, chunk.len() as u64);
                    return Ok(Some(chunk));
                }
                if self.verified {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                // The leader started the file over (its origin ignored a range): wait.
            }
            if self.verified && self.pos > self.end {
                return Ok(None);
            }
            if self.rx.changed().await.is_err() {
                // The flight is over; its last value says how.
                if !matches!(&*self.rx.borrow(), Progress::Done(_)) {
                    self.rx = self.content.start(&self.file);
                }
            }
        }
    }
}

impl Tail {
    /// The bytes from `pos` up to `limit` that the leader's latest write still holds.
    fn recent_bytes(&self, limit: u64) -> Option<Bytes> {
        let recent = self.recent.as_ref()?;
        let end = recent.start + recent.bytes.len() as u64;
        if !(recent.start..end).contains(&self.pos) {
            return None;
        }
        let from = (self.pos - recent.start) as usize;
        let to = (limit.min(end) - recent.start) as usize;
        Some(recent.bytes.slice(from..to))
    }
}

/// Up to `len` bytes at `pos`, read on the blocking pool straight into the buffer handed to
/// the connection: no second copy through tokio's `File` buffer, and no zeroing first
/// (`read_to_end` fills spare capacity). Each reader has its own file handle, so moving its
/// cursor is safe.
async fn read_at(f: &Arc<File>, pos: u64, len: usize) -> std::io::Result<Bytes> {
    let f = f.clone();
    tokio::task::spawn_blocking(move || {
        let mut file = &*f;
        file.seek(SeekFrom::Start(pos))?;
        let mut buf = Vec::with_capacity(len);
        file.take(len as u64).read_to_end(&mut buf)?;
        Ok(Bytes::from(buf))
    })
    .await
    .map_err(std::io::Error::other)?
}
