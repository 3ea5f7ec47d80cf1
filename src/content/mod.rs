//! The content cache: the only code that touches update file bytes. Files are fetched from
//! the upstream through the `Origin` trait (`app` plugs `upstream` in), downloaded into a
//! partial file (resumable with `Range`), verified against the metadata's SHA-1 and SHA-256
//! and size while being copied into cacache, and recorded as `verified` in the store — the
//! only index. Nothing else is ever served.
//!
//! `Content::ensure` is one flight per digest (see `flight`): prefetch, repair and client
//! misses all go through it, so a file crosses the WAN once however many ask at once.
//! `Content::open` serves a verified file, or tails a download in progress so a client gets
//! bytes while they arrive (the last byte is held back until the whole file verified).

mod cache;
mod fetch;
mod flight;
mod maintain;
mod source;

pub use maintain::{PrefetchProgress, PrefetchReport, VerifyReport};
pub use source::Source;

use crate::model::{Sha1Digest, UpdateFile};
use crate::store::{self, Store};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// cacache's root under `storage.data_dir`.
pub const CACHE_DIR: &str = "content";
/// Downloads in progress, one file per digest, kept across restarts for resuming.
const PARTIAL_DIR: &str = "content-partial";
/// Cached files that failed verification, moved out of the servable set.
const QUARANTINE_DIR: &str = "content-quarantine";

/// What `app` narrows the config into.
#[derive(Debug, Clone)]
pub struct Options {
    pub data_dir: PathBuf,
    /// Bytes; eviction keeps verified content at or under this.
    pub max_cache_size: u64,
    /// Upstream downloads at once.
    pub download_concurrency: usize,
    /// Bytes per second across all downloads; 0 = unlimited.
    pub bandwidth_limit: u64,
    pub retry: Retry,
}

/// Retries of one download (transport errors, 5xx, connections cut mid-body). A retry
/// resumes where the partial file ends; an attempt that made progress does not count.
#[derive(Debug, Clone)]
pub struct Retry {
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 5,
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

/// Where files come from: the upstream's `/Content` and its DownloadFiles.
pub trait Origin: Send + Sync + 'static {
    /// GET the file from byte `offset` on.
    fn get(
        &self,
        file: &UpdateFile,
        offset: u64,
    ) -> BoxFuture<'static, Result<OriginBody, OriginError>>;
    /// Ask the origin to obtain files it does not have yet (wsusss.md §2.7).
    fn request(&self, files: Vec<Sha1Digest>) -> BoxFuture<'static, Result<(), OriginError>>;
}

/// An origin's answer: the body and the offset it starts at (0 when the origin ignored the
/// range and sent the whole file).
pub struct OriginBody {
    pub start: u64,
    pub stream: BoxStream<'static, Result<Bytes, OriginError>>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum OriginError {
    #[error("not found on the upstream")]
    NotFound,
    /// The upstream no longer knows the file (FileDigestsMissing).
    #[error("the upstream no longer knows the file: {0}")]
    Gone(String),
    #[error("{message}")]
    Failed { message: String, retryable: bool },
}

/// Why a file could not be made available. Cloneable: one flight's outcome goes to every
/// caller that waited on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("the upstream does not have {0} yet; asked it to download the file (DownloadFiles)")]
    NotOnUpstream(String),
    #[error("{sha1}: {message}")]
    Gone { sha1: String, message: String },
    #[error("downloaded bytes of {sha1} do not match the metadata ({check}); discarded")]
    DigestMismatch {
        sha1: String,
        check: &'static str,
        /// The download had resumed a partial file (whose older bytes may be the bad ones).
        resumed: bool,
    },
    #[error("downloading {sha1}: {message}")]
    Download { sha1: String, message: String },
    #[error("{0} is being downloaded by another Outpost process")]
    Busy(String),
    #[error("content cache: {0}")]
    Io(String),
    #[error("content index: {0}")]
    Store(String),
    #[error("cancelled")]
    Cancelled,
}

impl From<store::Error> for Error {
    fn from(e: store::Error) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e.to_string())
    }
}

/// Counters of this process's content work (the persistent ones live in the store).
#[derive(Debug, Default)]
struct Stats {
    fetched_bytes: AtomicU64,
    published: AtomicU64,
    served_bytes: AtomicU64,
    digest_mismatches: AtomicU64,
    evictions: AtomicU64,
}

impl Stats {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What this process's cache has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Body bytes received from the origin.
    pub fetched_bytes: u64,
    /// Files verified and published.
    pub published: u64,
    /// Body bytes sent to clients.
    pub served_bytes: u64,
    pub digest_mismatches: u64,
    pub evictions: u64,
}

/// Names of the persistent counters (`Store::counter`).
pub const COUNTER_MISMATCHES: &str = "content.digest_mismatches";
pub const COUNTER_EVICTIONS: &str = "content.evictions";

/// The content cache. Cheap to clone.
#[derive(Clone)]
pub struct Content(Arc<Inner>);

struct Inner {
    store: Store,
    origin: Arc<dyn Origin>,
    opts: Options,
    root: PathBuf,
    partial: PathBuf,
    quarantine: PathBuf,
    flights: Arc<flight::Flights>,
    downloads: Semaphore,
    bandwidth: Option<DefaultDirectRateLimiter>,
    /// Files being served right now (eviction leaves them alone), with their reader count.
    in_use: Mutex<HashMap<Sha1Digest, usize>>,
    /// When each file's `last_served` was last written (written at most once a minute).
    touched: Mutex<HashMap<Sha1Digest, Instant>>,
    /// One eviction pass at a time.
    evicting: tokio::sync::Mutex<()>,
    /// Files (by digest and stamp) whose bytes this process hashed and found good.
    known_good: Mutex<HashSet<(Sha1Digest, i64)>>,
    stats: Stats,
}

impl Content {
    /// `store` should be a connection of its own: content lookups then never queue behind
    /// a sync's writes.
    pub fn new(store: Store, origin: Arc<dyn Origin>, opts: Options) -> Self {
        let bandwidth = u32::try_from(opts.bandwidth_limit.min(u64::from(u32::MAX)))
            .ok()
            .and_then(NonZeroU32::new)
            // Burst = one second's budget: the limit is an average, not a per-read cap.
            .map(|rate| RateLimiter::direct(Quota::per_second(rate)));
        let data_dir = &opts.data_dir;
        Self(Arc::new(Inner {
            root: data_dir.join(CACHE_DIR),
            partial: data_dir.join(PARTIAL_DIR),
            quarantine: data_dir.join(QUARANTINE_DIR),
            flights: Arc::default(),
            downloads: Semaphore::new(opts.download_concurrency.max(1)),
            bandwidth,
            in_use: Mutex::default(),
            touched: Mutex::default(),
            evicting: tokio::sync::Mutex::new(()),
            known_good: Mutex::default(),
            stats: Stats::default(),
            store,
            origin,
            opts,
        }))
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.0.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            fetched_bytes: get(&s.fetched_bytes),
            published: get(&s.published),
            served_bytes: get(&s.served_bytes),
            digest_mismatches: get(&s.digest_mismatches),
            evictions: get(&s.evictions),
        }
    }

    /// Downloads in progress in this process.
    pub fn downloads_in_progress(&self) -> usize {
        self.0.flights.len()
    }

    /// The file with this SHA-1 and its cache state, if the synced metadata names it.
    pub fn lookup(&self, sha1: &Sha1Digest) -> Result<Option<store::ContentEntry>, Error> {
        Ok(self.0.store.content_entry(sha1)?)
    }

    /// Make sure `file` is cached and verified, fetching it if needed. Concurrent calls for
    /// one digest share one download.
    pub async fn ensure(&self, file: &UpdateFile) -> Result<(), Error> {
        let mut fresh_retry = true;
        loop {
            // The leader checks the cache first (`lead`): a cached file costs one lookup.
            match self.0.flights.join(file.sha1) {
                flight::Role::Leader(leader) => {
                    let outcome = self.lead(file, &leader).await;
                    leader.finish(outcome.clone());
                    // A resumed download may have joined bytes of two different answers:
                    // one fresh attempt (its partial file is gone) before giving up.
                    if fresh_retry && is_resumed_mismatch(&outcome) {
                        fresh_retry = false;
                        continue;
                    }
                    return outcome;
                }
                flight::Role::Follower(mut rx) => {
                    if let Some(outcome) = flight::outcome(&mut rx).await {
                        return outcome;
                    }
                }
            }
        }
    }
}

impl Inner {
    /// Verified in the index and present on disk.
    fn is_cached(&self, file: &UpdateFile) -> Result<bool, Error> {
        let verified = self
            .store
            .content_entry(&file.sha1)?
            .is_some_and(|e| e.state == store::ContentState::Verified);
        Ok(verified && cache::path(&self.root, &file.sha1).exists())
    }

    fn known_good(&self, sha1: Sha1Digest, stamp: i64) {
        self.known_good
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((sha1, stamp));
    }

    fn is_known_good(&self, sha1: &Sha1Digest, stamp: i64) -> bool {
        self.known_good
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&(*sha1, stamp))
    }

    fn in_use(&self) -> MutexGuard<'_, HashMap<Sha1Digest, usize>> {
        self.in_use.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn is_resumed_mismatch(outcome: &Result<(), Error>) -> bool {
    matches!(outcome, Err(Error::DigestMismatch { resumed: true, .. }))
}

/// Backoff before retry `n` (0-based): exponential from `base`, capped, with full jitter.
fn backoff(retry: &Retry, n: u32) -> Duration {
    use rand::Rng;
    let cap = retry
        .base
        .saturating_mul(1u32.checked_shl(n.min(16)).unwrap_or(u32::MAX))
        .min(retry.max);
    cap.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
}

#[cfg(test)]
mod tests;
