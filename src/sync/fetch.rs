//! GetUpdateData for a list of revisions: batches of at most the USS's
//! MaxNumberOfUpdatesPerRequest, a few in flight, documents parsed off the main loop and
//! staged batch by batch. Short answers are re-requested; a batch the USS faults on with
//! InternalServerError/InvalidParameters is split until the one bad revision is isolated and
//! skipped (wsusss.md §2.4: that is how real WSUS reports a revision that vanished).

use super::{Ctx, Error, ErrorKind, Phase};
use crate::model::{RevisionId, Sha1Digest, UpdateDoc};
use crate::store::{Document, Fetched};
use crate::upstream;
use std::collections::{HashSet, VecDeque};
use tokio::task::JoinSet;

pub(super) struct Outcome {
    pub staged: usize,
    pub skipped: Vec<RevisionId>,
}

/// A fetched batch on its way to the writer: what the store keeps of each update, and the
/// MUUrls of its files.
type Staging = (Vec<Staged>, Vec<(Sha1Digest, String)>);

/// One update as staged: the decoded document text is not kept once it is encoded.
struct Staged {
    doc: UpdateDoc,
    document: Document,
    compressed: bool,
}

/// Batches the writer may lag behind the downloads (bounds memory: ~100 documents each).
const WRITER_QUEUE: usize = 8;

impl Ctx<'_> {
    pub(super) async fn fetch(
        &self,
        phase: Phase,
        listed: &[RevisionId],
        batch_size: usize,
    ) -> Result<Outcome, Error> {
        let mut seen = HashSet::new();
        let unique: Vec<RevisionId> = listed.iter().copied().filter(|r| seen.insert(*r)).collect();
        let held = self.store.held(&unique).map_err(|e| Error::new(phase, e))?;
        let todo: Vec<RevisionId> = unique.into_iter().filter(|r| !held.contains(r)).collect();
        self.progress.start(phase, todo.len() as u64);

        // SQLite has one writer: it runs on its own thread, fed through a bounded queue, so
        // downloads and parsing never wait for a commit and commits never wait for the
        // network.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Staging>(WRITER_QUEUE);
        let store = self.store.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let mut staged = 0;
            while let Some(first) = rx.blocking_recv() {
                // Whatever queued up while the last commit ran goes into one transaction:
                // fewer commits, fewer rewrites of the same index pages.
                let mut group = vec![first];
                while let Ok(more) = rx.try_recv() {
                    group.push(more);
                }
                let fetched: Vec<Fetched<'_>> = group
                    .iter()
                    .flat_map(|(updates, _)| updates)
                    .map(|u| Fetched {
                        doc: &u.doc,
                        document: &u.document,
                        compressed: u.compressed,
                    })
                    .collect();
                let urls: Vec<_> = group
                    .iter()
                    .flat_map(|(_, urls)| urls.iter().cloned())
                    .collect();
                staged += store.stage(&fetched, &urls)?;
            }
            Ok::<usize, crate::store::Error>(staged)
        });
        let downloaded = self.download(phase, todo, batch_size, tx).await;
        // The writer drains what it was given (every batch is safe to stage) and stops.
        let staged = writer
            .await
            .map_err(|e| Error::new(phase, ErrorKind::Internal(format!("writer failed: {e}"))))?
            .map_err(|e| Error::new(phase, e));
        // A store error explains a download that stopped because the writer did.
        let staged = staged?;
        let skipped = downloaded?;
        Ok(Outcome { staged, skipped })
    }

    /// Download `todo` in batches, a few in flight, and hand every answer to the writer.
    /// Returns the revisions the USS could not deliver.
    async fn download(
        &self,
        phase: Phase,
        todo: Vec<RevisionId>,
        batch_size: usize,
        writer: tokio::sync::mpsc::Sender<Staging>,
    ) -> Result<Vec<RevisionId>, Error> {
        let mut queue: VecDeque<Vec<RevisionId>> =
            todo.chunks(batch_size.max(1)).map(<[_]>::to_vec).collect();
        let mut inflight: JoinSet<(Vec<RevisionId>, Result<Staging, upstream::Error>)> =
            JoinSet::new();
        let mut skipped = Vec::new();
        let writer_gone = || Error::new(phase, ErrorKind::Internal("the writer stopped".into()));
        loop {
            while inflight.len() < self.opts.fetch_concurrency.max(1) {
                let Some(batch) = queue.pop_front() else {
                    break;
                };
                let client = self.client.clone();
                inflight.spawn(async move {
                    let result = fetch_batch(&client, &batch).await;
                    (batch, result)
                });
            }
            // Dropping the JoinSet on return aborts whatever is still in flight.
            let joined = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Err(Error::new(phase, ErrorKind::Cancelled)),
                j = inflight.join_next() => j,
            };
            let Some(joined) = joined else { break };
            let (batch, result) = joined.map_err(|e| {
                Error::new(
                    phase,
                    ErrorKind::Internal(format!("fetch task failed: {e}")),
                )
            })?;
            match result {
                Ok((mut updates, urls)) => {
                    let wanted: HashSet<RevisionId> = batch.iter().copied().collect();
                    updates.retain(|u| wanted.contains(&u.doc.id));
                    let returned: HashSet<RevisionId> = updates.iter().map(|u| u.doc.id).collect();
                    self.progress.advance(returned.len() as u64);
                    if !updates.is_empty() {
                        writer
                            .send((updates, urls))
                            .await
                            .map_err(|_| writer_gone())?;
                    }
                    let missing: Vec<RevisionId> = batch
                        .iter()
                        .copied()
                        .filter(|r| !returned.contains(r))
                        .collect();
                    if missing.is_empty() {
                        continue;
                    }
                    // A short answer (the USS caps response size): ask again for the rest;
                    // an empty answer is treated like a fault so the batch shrinks.
                    if returned.is_empty() {
                        split_or_skip(phase, missing, &mut queue, &mut skipped, "empty answer");
                    } else {
                        tracing::debug!(%phase, missing = missing.len(), "short GetUpdateData answer");
                        queue.push_back(missing);
                    }
                }
                Err(e)
                    if matches!(
                        e.fault_code(),
                        Some("InternalServerError" | "InvalidParameters")
                    ) =>
                {
                    split_or_skip(phase, batch, &mut queue, &mut skipped, &e.to_string());
                }
                Err(e) => return Err(Error::new(phase, e)),
            }
        }
        Ok(skipped)
    }
}

fn split_or_skip(
    phase: Phase,
    batch: Vec<RevisionId>,
    queue: &mut VecDeque<Vec<RevisionId>>,
    skipped: &mut Vec<RevisionId>,
    cause: &str,
) {
    if batch.len() > 1 {
        let (a, b) = batch.split_at(batch.len() / 2);
        queue.push_back(a.to_vec());
        queue.push_back(b.to_vec());
    } else if let Some(id) = batch.first() {
        tracing::warn!(%phase, revision = %id, cause, "upstream cannot deliver this revision; skipped");
        skipped.push(*id);
    }
}

/// One GetUpdateData call. The client decodes and parses the documents and this task encodes
/// them for the store, off the writer, so that work overlaps the other downloads in flight.
/// A document's own identity is the `Id` it was sent under (the client checks it).
async fn fetch_batch(
    client: &upstream::Client,
    batch: &[RevisionId],
) -> Result<Staging, upstream::Error> {
    let answer = client.get_update_data(batch).await?;
    let urls = answer
        .file_urls
        .into_iter()
        .filter_map(|f| f.mu_url.map(|u| (f.digest, u)))
        .collect();
    let updates = answer
        .updates
        .into_iter()
        .map(|u| Staged {
            document: Document::encode(&u.xml),
            doc: u.doc,
            compressed: u.compressed,
        })
        .collect();
    Ok((updates, urls))
}
