//! Whole-cache work: prefetch per policy, verify (and repair), quarantine, and eviction down
//! to `max_cache_size`.

use super::{cache, Content, Error, Stats, COUNTER_EVICTIONS};
use crate::model::UpdateFile;
use crate::store::{ContentState, Wanted};
use futures_util::stream::{self, StreamExt};
use tokio_util::sync::CancellationToken;

/// What a prefetch did.
#[derive(Debug, Default)]
pub struct PrefetchReport {
    /// Files the policy wanted that were not cached when it started.
    pub wanted: usize,
    pub fetched: usize,
    pub bytes: u64,
    /// Files left out because all wanted files together exceed `max_cache_size`.
    pub over_budget: usize,
    /// Files another Outpost process (`serve` beside `sync`) was downloading at the time.
    pub elsewhere: usize,
    /// Files that could not be fetched, with the reason.
    pub failed: Vec<(UpdateFile, Error)>,
}

/// What a verify pass found and did.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub checked: usize,
    pub good: usize,
    /// Files whose bytes did not match (now quarantined).
    pub bad: usize,
    /// Files recorded as cached but gone from disk (now missing).
    pub gone: usize,
    /// Files fetched again and verified (`--repair`).
    pub repaired: usize,
    /// Bad, gone or earlier quarantined files that are still not repaired.
    pub remaining: usize,
}

/// Told how a prefetch advances (`app` draws a bar).
pub trait PrefetchProgress: Send + Sync {
    /// The files about to be fetched and their total size.
    fn planned(&self, files: usize, bytes: u64);
    /// One of them is done (cached, or failed).
    fn done(&self, file: &UpdateFile);
}

impl Content {
    /// Fetch what `wanted` names and is not cached, `download_concurrency` at a time.
    /// Cancelling stops at once; partial files stay for the next pass to resume.
    pub async fn prefetch(
        &self,
        wanted: Wanted,
        progress: &dyn PrefetchProgress,
        cancel: &CancellationToken,
    ) -> Result<PrefetchReport, Error> {
        let mut files = self.0.store.content_wanted(wanted)?;
        let mut report = PrefetchReport {
            wanted: files.len(),
            ..PrefetchReport::default()
        };
        // Never prefetch more than the cache can hold, or eviction would throw out what
        // this pass just fetched. Smallest first, so the most files fit.
        let cached = self.0.store.content_cached_bytes()?;
        let mut budget = self.0.opts.max_cache_size.saturating_sub(cached);
        let before = files.len();
        files.retain(|f| match budget.checked_sub(f.size) {
            Some(left) => {
                budget = left;
                true
            }
            None => false,
        });
        report.over_budget = before - files.len();
        if report.over_budget > 0 {
            tracing::warn!(
                files = report.over_budget,
                max_cache_size = self.0.opts.max_cache_size,
                "content.max_cache_size is smaller than the content the policy wants; some files are left to on-demand"
            );
        }
        progress.planned(files.len(), files.iter().map(|f| f.size).sum());
        let width = self.0.opts.download_concurrency.max(1);
        let mut results = stream::iter(files)
            .map(|file| async move {
                let outcome = self.ensure(&file).await;
                (file, outcome)
            })
            .buffer_unordered(width);
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return Err(Error::Cancelled),
                next = results.next() => next,
            };
            let Some((file, outcome)) = next else { break };
            progress.done(&file);
            match outcome {
                Ok(()) => {
                    report.fetched += 1;
                    report.bytes += file.size;
                }
                Err(Error::Busy(_)) => report.elsewhere += 1,
                Err(e) => report.failed.push((file, e)),
            }
        }
        Ok(report)
    }

    /// Re-hash every cached file against its metadata; quarantine bad ones. With `repair`,
    /// fetch every quarantined or lost file again.
    pub async fn verify(
        &self,
        repair: bool,
        cancel: &CancellationToken,
    ) -> Result<VerifyReport, Error> {
        let inner = &self.0;
        let mut report = VerifyReport::default();
        // Files gone from disk.
        let mut to_repair = Vec::new();
        for entry in inner.store.content_in_state(ContentState::Verified)? {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let (root, file) = (inner.root.clone(), entry.file.clone());
            let checked = tokio::task::spawn_blocking(move || cache::check(&root, &file))
                .await
                .map_err(|e| Error::Io(e.to_string()))??;
            report.checked += 1;
            let sha1 = entry.file.sha1.to_hex_upper();
            match checked {
                cache::Check::Good { stamp } => {
                    report.good += 1;
                    inner.known_good(entry.file.sha1, stamp);
                    if entry.stamp != Some(stamp) {
                        // Same bytes, new mtime (restored from a backup, say).
                        inner
                            .store
                            .content_verified(&entry.file.sha1, entry.file.size, stamp)?;
                    }
                }
                cache::Check::Bad(check) => {
                    tracing::error!(
                        sha1,
                        check,
                        "cached file does not match its metadata; quarantined"
                    );
                    report.bad += 1;
                    self.quarantine(&entry.file, &format!("{check} mismatch found by verify"))
                        .await?;
                }
                cache::Check::Gone => {
                    tracing::error!(sha1, "cached file is gone from disk");
                    report.gone += 1;
                    inner.store.content_removed(&entry.file.sha1)?;
                    to_repair.push(entry.file);
                }
            }
        }
        // Lost files, plus everything quarantined: by this pass or an earlier one.
        let quarantined = inner.store.content_in_state(ContentState::Quarantined)?;
        to_repair.extend(quarantined.into_iter().map(|e| e.file));
        if repair {
            for file in &to_repair {
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                match self.ensure(file).await {
                    Ok(()) => {
                        cache::remove_file(&inner.quarantine.join(file.sha1.to_hex_upper()))?;
                        report.repaired += 1;
                    }
                    Err(e) => {
                        tracing::error!(sha1 = file.sha1.to_hex_upper(), cause = %e, "repair failed")
                    }
                }
            }
        }
        report.remaining = to_repair.len() - report.repaired;
        Ok(report)
    }

    /// Move a cached file out of the servable set (the index first, so it is never served
    /// from here on, then the bytes).
    pub(super) async fn quarantine(&self, file: &UpdateFile, reason: &str) -> Result<(), Error> {
        let inner = &self.0;
        inner.store.content_quarantined(&file.sha1, reason)?;
        let (root, dir, sha1) = (inner.root.clone(), inner.quarantine.clone(), file.sha1);
        tokio::task::spawn_blocking(move || cache::quarantine(&root, &dir, &sha1))
            .await
            .map_err(|e| Error::Io(e.to_string()))??;
        Ok(())
    }

    /// Evict verified files until the cache is within `max_cache_size`: files no approval
    /// needs first, least recently served first; never a file being served.
    pub async fn evict_if_needed(&self) -> Result<(), Error> {
        let inner = &self.0;
        let _one = inner.evicting.lock().await;
        let mut bytes = inner.store.content_cached_bytes()?;
        if bytes <= inner.opts.max_cache_size {
            return Ok(());
        }
        for victim in inner.store.content_eviction_order()? {
            if bytes <= inner.opts.max_cache_size {
                break;
            }
            if inner.in_use().contains_key(&victim.sha1) {
                continue;
            }
            // Index first: from this moment the file is a miss, never a read of a vanishing file.
            inner.store.content_removed(&victim.sha1)?;
            cache::remove(&inner.root, &victim.sha1)?;
            inner.store.bump_counter(COUNTER_EVICTIONS, 1)?;
            Stats::add(&inner.stats.evictions, 1);
            bytes = bytes.saturating_sub(victim.size);
            tracing::info!(
                sha1 = victim.sha1.to_hex_upper(),
                size = victim.size,
                approved = victim.approved,
                "evicted from the content cache"
            );
        }
        Ok(())
    }
}
