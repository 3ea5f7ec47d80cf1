//! GetUpdateData for a list of revisions: batches of at most the USS's
//! MaxNumberOfUpdatesPerRequest, a few in flight, documents parsed off the main loop and
//! staged batch by batch. Short answers are re-requested; a batch the USS faults on with
//! InternalServerError/InvalidParameters is split until the one bad revision is isolated and
//! skipped (wsusss.md §2.4: that is how real WSUS reports a revision that vanished).

use super::{Ctx, Error, ErrorKind, Phase};
use crate::model::{RevisionId, UpdateDoc};
use crate::store::Fetched;
use crate::upstream::{self, UpdateData};
use std::collections::{HashSet, VecDeque};
use tokio::task::JoinSet;

pub(super) struct Outcome {
    pub staged: usize,
    pub skipped: Vec<RevisionId>,
}

type Decoded = (
    Vec<(UpdateData, UpdateDoc)>,
    Vec<(crate::model::Sha1Digest, String)>,
);

enum BatchError {
    Upstream(upstream::Error),
    Document { id: RevisionId, message: String },
}

impl Ctx<'_> {
    pub(super) async fn fetch(
        &self,
        phase: Phase,
        listed: &[RevisionId],
    ) -> Result<Outcome, Error> {
        let mut seen = HashSet::new();
        let unique: Vec<RevisionId> = listed.iter().copied().filter(|r| seen.insert(*r)).collect();
        let held = self.store.held(&unique).map_err(|e| Error::new(phase, e))?;
        let todo: Vec<RevisionId> = unique.into_iter().filter(|r| !held.contains(r)).collect();
        self.progress.start(phase, todo.len() as u64);

        let max = self.max_per_request().max(1);
        let mut queue: VecDeque<Vec<RevisionId>> = todo.chunks(max).map(<[_]>::to_vec).collect();
        let mut inflight: JoinSet<(Vec<RevisionId>, Result<Decoded, BatchError>)> = JoinSet::new();
        let mut outcome = Outcome {
            staged: 0,
            skipped: Vec::new(),
        };
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
                Ok((updates, urls)) => {
                    let wanted: HashSet<RevisionId> = batch.iter().copied().collect();
                    let got: Vec<&(UpdateData, UpdateDoc)> = updates
                        .iter()
                        .filter(|(u, _)| wanted.contains(&u.id))
                        .collect();
                    let fetched: Vec<Fetched<'_>> = got
                        .iter()
                        .map(|(u, d)| Fetched {
                            doc: d,
                            xml: &u.xml,
                            compressed: u.compressed,
                        })
                        .collect();
                    let n = self
                        .store
                        .stage(&fetched, &urls)
                        .map_err(|e| Error::new(phase, e))?;
                    outcome.staged += n;
                    self.progress.advance(got.len() as u64);
                    let returned: HashSet<RevisionId> = got.iter().map(|(u, _)| u.id).collect();
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
                        split_or_skip(
                            phase,
                            missing,
                            &mut queue,
                            &mut outcome.skipped,
                            "empty answer",
                        );
                    } else {
                        tracing::debug!(%phase, missing = missing.len(), "short GetUpdateData answer");
                        queue.push_back(missing);
                    }
                }
                Err(BatchError::Upstream(e))
                    if matches!(
                        e.fault_code(),
                        Some("InternalServerError" | "InvalidParameters")
                    ) =>
                {
                    split_or_skip(
                        phase,
                        batch,
                        &mut queue,
                        &mut outcome.skipped,
                        &e.to_string(),
                    );
                }
                Err(BatchError::Upstream(e)) => return Err(Error::new(phase, e)),
                Err(BatchError::Document { id, message }) => {
                    return Err(Error::new(phase, ErrorKind::Document { id, message }))
                }
            }
        }
        Ok(outcome)
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

/// One GetUpdateData call; documents are parsed here, on a runtime worker, so parsing
/// overlaps the next download.
async fn fetch_batch(
    client: &upstream::Client,
    batch: &[RevisionId],
) -> Result<Decoded, BatchError> {
    let answer = client
        .get_update_data(batch)
        .await
        .map_err(BatchError::Upstream)?;
    let mut out = Vec::with_capacity(answer.updates.len());
    for u in answer.updates {
        let doc = crate::xml::update::parse(&u.xml).map_err(|e| BatchError::Document {
            id: u.id,
            message: e.to_string(),
        })?;
        if doc.id != u.id {
            return Err(BatchError::Document {
                id: u.id,
                message: format!("document says it is {}", doc.id),
            });
        }
        out.push((u, doc));
    }
    let urls = answer
        .file_urls
        .into_iter()
        .filter_map(|f| f.mu_url.map(|u| (f.digest, u)))
        .collect();
    Ok((out, urls))
}
