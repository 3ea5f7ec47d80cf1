//! A leader's work: download a file into its partial file (resuming with `Range` after a cut
//! connection or a restart), within the shared download slots and bandwidth budget, then
//! verify and publish it (`cache::ingest`), recording the outcome in the store.
//!
//! Writes to the partial file (at most 256 KiB) are made inline on the download's task: they
//! land in the page cache faster than a hop to the blocking pool and back.

use super::cache::{self, Refused};
use super::flight::Leader;
use super::{backoff, Content, Error, OriginError, Stats, COUNTER_MISMATCHES};
use crate::model::UpdateFile;
use crate::store::ContentState;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::num::NonZeroU32;
use std::path::PathBuf;

/// Most bytes gathered before a write to the partial file (and a progress report); less is
/// written whenever the upstream pauses.
const WRITE_CHUNK: usize = 256 << 10;

impl Content {
    /// Do the work of a flight we lead.
    pub(super) async fn lead(&self, file: &UpdateFile, leader: &Leader) -> Result<(), Error> {
        let inner = &self.0;
        // A flight that just ended may have published the file between our check and our
        // election.
        if inner.is_cached(file)? {
            return Ok(());
        }
        std::fs::create_dir_all(&inner.partial)?;
        let part_path = inner.partial.join(file.sha1.to_hex_upper());
        let part = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part_path)?;
        // Another process (`sync` beside `serve`) may be downloading the same file.
        match part.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(Error::Busy(file.sha1.to_hex_upper())),
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        // Recorded while the download runs, not before it starts: a SQLite write is not on
        // the way to a waiting client's first byte. It lands before any later state.
        let marking = {
            let (store, sha1) = (inner.store.clone(), file.sha1);
            tokio::task::spawn_blocking(move || {
                store.content_set_state(&sha1, ContentState::Fetching)
            })
        };
        // Dropped mid-way (cancelled), the file is missing again; the partial file stays for
        // the next leader to resume.
        let mut state = StateGuard {
            content: self,
            file,
            armed: true,
        };
        let outcome = self
            .fetch_and_publish(file, part, part_path.clone(), leader, Some(marking))
            .await;
        state.armed = false;
        match &outcome {
            Ok(()) => {}
            Err(Error::Busy(_) | Error::Cancelled) => inner
                .store
                .content_set_state(&file.sha1, ContentState::Missing)?,
            Err(e) => inner.store.content_failed(&file.sha1, &e.to_string())?,
        }
        if outcome.is_err() && std::fs::metadata(&part_path).is_ok_and(|m| m.len() == 0) {
            // Nothing to resume: leave no empty partial file behind.
            cache::remove_file(&part_path)?;
        }
        if outcome.is_ok() {
            self.evict_if_needed().await?;
        }
        outcome
    }

    async fn fetch_and_publish(
        &self,
        file: &UpdateFile,
        mut part: File,
        part_path: PathBuf,
        leader: &Leader,
        mut marking: Option<Marking>,
    ) -> Result<(), Error> {
        let inner = &self.0;
        let sha1 = file.sha1.to_hex_upper();
        let resumed = part.metadata()?.len() > 0;
        let downloaded = self.download(file, &mut part, leader).await;
        // The `fetching` mark must land before any later state.
        if let Some(m) = marking.take() {
            finish_marking(m).await?;
        }
        downloaded?;
        let (root, path, meta) = (inner.root.clone(), part_path.clone(), file.clone());
        let ingested = tokio::task::spawn_blocking(move || cache::ingest(&root, &path, &meta))
            .await
            .map_err(|e| Error::Io(e.to_string()))?;
        match ingested {
            Ok(stamp) => {
                inner.store.content_verified(&file.sha1, file.size, stamp)?;
                inner.known_good(file.sha1, stamp);
                Stats::add(&inner.stats.published, 1);
                // Readers tailing the partial file keep their open handle.
                cache::remove_file(&part_path)?;
                tracing::info!(sha1, size = file.size, name = file.name, "content cached");
                Ok(())
            }
            Err(Refused::Io(e)) => Err(e.into()),
            Err(Refused::Mismatch(check)) => {
                Stats::add(&inner.stats.digest_mismatches, 1);
                inner.store.bump_counter(COUNTER_MISMATCHES, 1)?;
                // Never rewritten in place: readers tailing this flight must see it fail,
                // not carry on into other bytes. A fresh attempt is a new flight.
                cache::remove_file(&part_path)?;
                tracing::warn!(
                    sha1,
                    check,
                    resumed,
                    "downloaded bytes do not match the metadata; discarded"
                );
                Err(Error::DigestMismatch {
                    sha1,
                    check,
                    resumed,
                })
            }
        }
    }

    /// Fill the partial file up to the file's size.
    async fn download(
        &self,
        file: &UpdateFile,
        part: &mut File,
        leader: &Leader,
    ) -> Result<(), Error> {
        let inner = &self.0;
        let sha1 = file.sha1.to_hex_upper();
        let mut offset = part.metadata()?.len();
        if offset > file.size {
            part.set_len(0)?;
            offset = 0;
        }
        leader.progress(offset);
        if offset == file.size {
            return Ok(());
        }
        let _slot = inner
            .downloads
            .acquire()
            .await
            .map_err(|_| Error::Cancelled)?;
        let mut failures = 0;
        loop {
            let before = offset;
            let cause = match inner.origin.get(file, offset).await {
                Ok(body) => match self.receive(file, part, body, &mut offset, leader).await {
                    // Past the size too: ingest refuses it by size.
                    Ok(()) if offset >= file.size => return Ok(()),
                    Ok(()) => OriginError::Failed {
                        message: format!("answer ended after {offset} of {} bytes", file.size),
                        retryable: true,
                    },
                    Err(e) => e,
                },
                Err(e) => e,
            };
            match cause {
                OriginError::NotFound => {
                    // A lazy upstream fetches content only when asked (wsusss.md §2.7); the
                    // next attempt (next pass, next client) finds it there.
                    if let Err(e) = inner.origin.request(vec![file.sha1]).await {
                        tracing::warn!(sha1, cause = %e, "DownloadFiles failed");
                    }
                    return Err(Error::NotOnUpstream(sha1));
                }
                OriginError::Gone(message) => return Err(Error::Gone { sha1, message }),
                OriginError::Failed { message, retryable } => {
                    if offset > before {
                        failures = 0;
                    }
                    failures += 1;
                    if !retryable || failures >= inner.opts.retry.attempts {
                        return Err(Error::Download { sha1, message });
                    }
                    let delay = backoff(&inner.opts.retry, failures - 1);
                    tracing::warn!(
                        sha1,
                        offset,
                        cause = message,
                        delay_ms = delay.as_millis() as u64,
                        "download interrupted; resuming"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Append one answer's body to the partial file.
    async fn receive(
        &self,
        file: &UpdateFile,
        part: &mut File,
        body: super::OriginBody,
        offset: &mut u64,
        leader: &Leader,
    ) -> Result<(), OriginError> {
        let local = |e: std::io::Error| OriginError::Failed {
            message: format!("writing the partial file: {e}"),
            retryable: false,
        };
        if body.start > *offset {
            return Err(OriginError::Failed {
                message: format!("asked for bytes from {offset}, got from {}", body.start),
                retryable: true,
            });
        }
        // An origin that ignored the range resends bytes we have: skip them rather than
        // rewrite the file under readers that may already have sent them.
        let mut skip = *offset - body.start;
        part.seek(SeekFrom::Start(*offset)).map_err(local)?;
        let mut stream = body.stream;
        let mut pending: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
        let mut result = Ok(());
        loop {
            let next = match stream.next().now_or_never() {
                Some(next) => next,
                None => {
                    // Nothing more has arrived: hand readers what we have before waiting,
                    // so a client tailing the download gets its first bytes at once.
                    write(part, &mut pending, offset, leader).map_err(local)?;
                    stream.next().await
                }
            };
            let Some(chunk) = next else { break };
            let mut chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            if skip > 0 {
                let n = skip.min(chunk.len() as u64);
                skip -= n;
                self.throttle(n as usize).await;
                Stats::add(&self.0.stats.fetched_bytes, n);
                chunk = chunk.slice(n as usize..);
                if chunk.is_empty() {
                    continue;
                }
            }
            if *offset + (pending.len() + chunk.len()) as u64 > file.size {
                // Longer than the metadata says: not the file. Ingest refuses it by size.
                pending.extend_from_slice(&chunk);
                break;
            }
            self.throttle(chunk.len()).await;
            Stats::add(&self.0.stats.fetched_bytes, chunk.len() as u64);
            pending.extend_from_slice(&chunk);
            if pending.len() >= WRITE_CHUNK {
                write(part, &mut pending, offset, leader).map_err(local)?;
            }
        }
        write(part, &mut pending, offset, leader).map_err(local)?;
        result
    }

    /// Wait for the shared bandwidth budget to allow `n` more bytes.
    async fn throttle(&self, n: usize) {
        let Some(limiter) = &self.0.bandwidth else {
            return;
        };
        // The budget's burst is one second's worth; ask in pieces no larger than that.
        let burst = self.0.opts.bandwidth_limit.clamp(1, u64::from(u32::MAX)) as usize;
        let mut left = n;
        while left > 0 {
            let piece = left.min(burst);
            if let Some(cells) = u32::try_from(piece).ok().and_then(NonZeroU32::new) {
                let _ = limiter.until_n_ready(cells).await;
            }
            left -= piece;
        }
    }
}

/// Append `pending` at `offset` and hand the bytes to followers.
fn write(
    part: &mut File,
    pending: &mut Vec<u8>,
    offset: &mut u64,
    leader: &Leader,
) -> std::io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    part.write_all(pending)?;
    let start = *offset;
    *offset += pending.len() as u64;
    let bytes = std::mem::replace(pending, Vec::with_capacity(WRITE_CHUNK));
    leader.wrote(start, Bytes::from(bytes));
    Ok(())
}

/// The background write of a file's `fetching` state.
type Marking = tokio::task::JoinHandle<crate::store::Result<()>>;

async fn finish_marking(marking: Marking) -> Result<(), Error> {
    marking.await.map_err(|e| Error::Io(e.to_string()))??;
    Ok(())
}

/// Puts a file whose download was abandoned back to `missing`.
struct StateGuard<'a> {
    content: &'a Content,
    file: &'a UpdateFile,
    armed: bool,
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self
                .content
                .0
                .store
                .content_set_state(&self.file.sha1, ContentState::Missing);
        }
    }
}
