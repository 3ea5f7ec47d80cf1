//! One sync pass against the USS as four atomic phases (wsusss.md §0, §2): config, the
//! categories list, the updates list (with bundle members), and — for a replica — target
//! groups and approvals. Each phase stages what it fetches and makes it visible together with
//! its anchor in one store transaction, so a failed, killed or cancelled pass leaves the last
//! good state and the next pass resumes from the staged rows.

mod fetch;

use crate::model::RevisionId;
use crate::store::{self, Anchor, DeploymentChanges, LanguageRow, Store};
use crate::upstream::{self, Client, RevisionFilter};
use std::fmt;
use tokio_util::sync::CancellationToken;

/// What a pass needs to know, narrowed from the config by `app`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Also sync target groups and approvals (replica DSS).
    pub replica: bool,
    /// Short language names (`en`, `de`); `all` means every language the USS has.
    pub languages: Vec<String>,
    /// GetUpdateData calls in flight at once (the upstream rate limit still applies).
    pub fetch_concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            replica: true,
            languages: vec!["en".into()],
            fetch_concurrency: 4,
        }
    }
}

/// The phases of a pass, in order. The same words appear in logs, errors and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Config,
    Categories,
    Updates,
    Deployments,
    /// The content phase `app` runs after the metadata phases (progress counts bytes).
    Content,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Categories => "categories",
            Self::Updates => "updates",
            Self::Deployments => "deployments",
            Self::Content => "content",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Receives progress; `app` draws bars on a TTY, tests ignore it.
pub trait Progress: Send + Sync {
    fn start(&self, phase: Phase, total: u64);
    fn advance(&self, n: u64);
    fn finish(&self, phase: Phase, summary: &str);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: Phase, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self, _: Phase, _: &str) {}
}

/// What one pass did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub categories_listed: usize,
    pub categories_fetched: usize,
    pub updates_listed: usize,
    pub updates_fetched: usize,
    pub bundle_members_fetched: usize,
    /// Revisions the USS would not deliver even alone (vanished between list and fetch).
    pub skipped: Vec<String>,
    pub deployments_received: usize,
    pub dead_deployments: usize,
    pub groups: usize,
    /// The USS changed identity and the pass restarted from empty anchors.
    pub server_changed: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("sync failed in phase {phase}: {kind}")]
pub struct Error {
    pub phase: Phase,
    #[source]
    pub kind: ErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("{0}")]
    Upstream(#[from] upstream::Error),
    #[error("{0}")]
    Store(#[from] store::Error),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Internal(String),
}

impl Error {
    fn new(phase: Phase, kind: impl Into<ErrorKind>) -> Self {
        Self {
            phase,
            kind: kind.into(),
        }
    }

    fn fault_code(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Upstream(e) => e.fault_code(),
            _ => None,
        }
    }
}

/// `Languages` of a GetRevisionIdList filter: (LCID, Delta) items, `None` for all languages.
type LanguageFilter = Option<Vec<(i32, bool)>>;

/// Everything a phase needs.
struct Ctx<'a> {
    client: &'a Client,
    store: &'a Store,
    opts: &'a Options,
    progress: &'a dyn Progress,
    cancel: &'a CancellationToken,
}

/// Run one pass. On `ServerChanged` the anchors are dropped and the pass starts over once.
pub async fn run(
    client: &Client,
    store: &Store,
    opts: &Options,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> Result<Report, Error> {
    let ctx = Ctx {
        client,
        store,
        opts,
        progress,
        cancel,
    };
    let mut report = Report::default();
    match ctx.pass(&mut report).await {
        Err(e) if e.fault_code() == Some("ServerChanged") => {
            tracing::warn!(phase = %e.phase, "upstream changed identity: full resync");
            store
                .clear_anchors(&Anchor::ALL)
                .map_err(|s| Error::new(e.phase, s))?;
            client.forget_session();
            report = Report {
                server_changed: true,
                ..Report::default()
            };
            ctx.pass(&mut report).await?;
        }
        other => other?,
    }
    Ok(report)
}

impl Ctx<'_> {
    async fn pass(&self, report: &mut Report) -> Result<(), Error> {
        let batch_size = self.config().await?;
        self.categories(batch_size, report).await?;
        let sync_anchor = self.updates(batch_size, report).await?;
        if self.opts.replica {
            self.deployments(&sync_anchor, report).await?;
        }
        Ok(())
    }

    fn check_cancel(&self, phase: Phase) -> Result<(), Error> {
        if self.cancel.is_cancelled() {
            return Err(Error::new(phase, ErrorKind::Cancelled));
        }
        Ok(())
    }

    /// Await an upstream call, giving up at once when the pass is cancelled.
    async fn call<T>(
        &self,
        phase: Phase,
        fut: impl std::future::Future<Output = Result<T, upstream::Error>>,
    ) -> Result<T, Error> {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Error::new(phase, ErrorKind::Cancelled)),
            r = fut => r.map_err(|e| Error::new(phase, e)),
        }
    }

    /// Authorization happens inside the client on this first call. Returns the USS's
    /// MaxNumberOfUpdatesPerRequest, the GetUpdateData batch size for this pass.
    async fn config(&self) -> Result<usize, Error> {
        let phase = Phase::Config;
        self.progress.start(phase, 1);
        let anchor = self
            .store
            .anchor(Anchor::Config)
            .map_err(|e| Error::new(phase, e))?;
        let config = self
            .call(phase, self.client.get_config_data(anchor.as_deref()))
            .await?;
        let languages: Vec<LanguageRow> = config
            .languages
            .iter()
            .map(|l| LanguageRow {
                id: l.id,
                short: l.short.clone(),
                long: l.long.clone(),
                enabled: l.enabled,
            })
            .collect();
        let uss = serde_json::json!({
            "catalog_only_sync": config.catalog_only_sync,
            "lazy_sync": config.lazy_sync,
            "server_hosts_psf_files": config.server_hosts_psf_files,
            "max_updates_per_request": config.max_updates_per_request,
            "protocol_version": config.protocol_version,
        });
        self.check_cancel(phase)?;
        self.store
            .commit_config(
                &languages,
                &uss.to_string(),
                config.new_config_anchor.as_deref(),
            )
            .map_err(|e| Error::new(phase, e))?;
        self.progress.advance(1);
        self.progress.finish(
            phase,
            &format!(
                "{} languages, {} updates per request",
                languages.len(),
                config.max_updates_per_request
            ),
        );
        Ok((config.max_updates_per_request as usize).max(1))
    }

    /// List revisions; an anchor the USS calls unusable (InvalidParameters) is dropped and
    /// the list requested again without it, once (wsusss.md §2.5).
    async fn list(
        &self,
        phase: Phase,
        anchor_key: Anchor,
        mut filter: RevisionFilter,
    ) -> Result<upstream::RevisionList, Error> {
        match self
            .call(phase, self.client.get_revision_id_list(&filter))
            .await
        {
            Err(e) if filter.anchor.is_some() && e.fault_code() == Some("InvalidParameters") => {
                tracing::warn!(%phase, "upstream refused our anchor: listing everything");
                self.store
                    .clear_anchors(&[anchor_key])
                    .map_err(|s| Error::new(phase, s))?;
                filter.anchor = None;
                if let Some(langs) = filter.languages.as_mut() {
                    langs.iter_mut().for_each(|l| l.1 = false);
                }
                self.call(phase, self.client.get_revision_id_list(&filter))
                    .await
            }
            other => other,
        }
    }

    async fn categories(&self, batch_size: usize, report: &mut Report) -> Result<(), Error> {
        let phase = Phase::Categories;
        let anchor = self
            .store
            .anchor(Anchor::CategoryList)
            .map_err(|e| Error::new(phase, e))?;
        let filter = RevisionFilter {
            anchor,
            get_config: true,
            ..RevisionFilter::default()
        };
        let list = self.list(phase, Anchor::CategoryList, filter).await?;
        report.categories_listed = list.revisions.len();
        let wanted = self.with_skipped_before(phase, &list.revisions)?;
        let outcome = self.fetch(phase, &wanted, batch_size).await?;
        report.categories_fetched = outcome.staged;
        self.check_cancel(phase)?;
        self.store
            .commit_phase(Anchor::CategoryList, &list.anchor)
            .map_err(|e| Error::new(phase, e))?;
        self.remember_skipped(phase, &outcome.skipped, report)?;
        self.progress.finish(
            phase,
            &format!("{} listed, {} new", list.revisions.len(), outcome.staged),
        );
        Ok(())
    }

    /// Returns the new update-list anchor (GetDeployments needs it as `syncAnchor`).
    async fn updates(&self, batch_size: usize, report: &mut Report) -> Result<String, Error> {
        let phase = Phase::Updates;
        let anchor = self
            .store
            .anchor(Anchor::UpdateList)
            .map_err(|e| Error::new(phase, e))?;
        let (languages, subscribed) = self.language_filter(anchor.is_some())?;
        let filter = RevisionFilter {
            anchor,
            get_config: false,
            languages,
            ..RevisionFilter::default()
        };
        let list = self.list(phase, Anchor::UpdateList, filter).await?;
        report.updates_listed = list.revisions.len();
        let wanted = self.with_skipped_before(phase, &list.revisions)?;
        let outcome = self.fetch(phase, &wanted, batch_size).await?;
        report.updates_fetched = outcome.staged;
        let mut skipped = outcome.skipped;

        // Bundle members carry the files; real bundles nest, so repeat until none is new.
        // The bound only guards against a USS that invents members forever.
        for _ in 0..16 {
            self.check_cancel(phase)?;
            let missing = self
                .store
                .missing_bundle_members()
                .map_err(|e| Error::new(phase, e))?;
            let missing: Vec<_> = missing
                .into_iter()
                .filter(|m| !skipped.contains(m))
                .collect();
            if missing.is_empty() {
                break;
            }
            let more = self.fetch(phase, &missing, batch_size).await?;
            report.bundle_members_fetched += more.staged;
            skipped.extend(more.skipped);
            if more.staged == 0 {
                break;
            }
        }
        self.check_cancel(phase)?;
        self.store
            .commit_phase(Anchor::UpdateList, &list.anchor)
            .and_then(|_| self.store.set_meta("subscribed_languages", &subscribed))
            .map_err(|e| Error::new(phase, e))?;
        self.remember_skipped(phase, &skipped, report)?;
        self.progress.finish(
            phase,
            &format!(
                "{} listed, {} new, {} bundle members",
                list.revisions.len(),
                outcome.staged,
                report.bundle_members_fetched
            ),
        );
        Ok(list.anchor)
    }

    /// The listed revisions plus those the USS could not deliver last time: the anchor has
    /// moved past them, so they would never be listed again.
    fn with_skipped_before(
        &self,
        phase: Phase,
        listed: &[RevisionId],
    ) -> Result<Vec<RevisionId>, Error> {
        let key = format!("skipped.{phase}");
        let before = self.store.meta(&key).map_err(|e| Error::new(phase, e))?;
        let mut wanted = listed.to_vec();
        wanted.extend(before.unwrap_or_default().split(',').filter_map(|item| {
            let (id, rev) = item.split_once('/')?;
            Some(RevisionId::new(id.parse().ok()?, rev.parse().ok()?))
        }));
        Ok(wanted)
    }

    fn remember_skipped(
        &self,
        phase: Phase,
        skipped: &[RevisionId],
        report: &mut Report,
    ) -> Result<(), Error> {
        let list: Vec<String> = skipped.iter().map(ToString::to_string).collect();
        self.store
            .set_meta(&format!("skipped.{phase}"), &list.join(","))
            .map_err(|e| Error::new(phase, e))?;
        report.skipped.extend(list);
        Ok(())
    }

    /// Map `sync.languages` to the USS's LCIDs. `Delta` is true only for a language that was
    /// already subscribed in the last successful pass, so a newly added one gets its back
    /// catalogue. Returns the filter and the subscription to remember.
    fn language_filter(&self, have_anchor: bool) -> Result<(LanguageFilter, String), Error> {
        let phase = Phase::Updates;
        if self
            .opts
            .languages
            .iter()
            .any(|l| l.eq_ignore_ascii_case("all"))
        {
            return Ok((None, "all".into()));
        }
        let known = self.store.languages().map_err(|e| Error::new(phase, e))?;
        let previous = self
            .store
            .meta("subscribed_languages")
            .map_err(|e| Error::new(phase, e))?
            .unwrap_or_default();
        let previous: Vec<&str> = previous.split(',').collect();
        let mut ids = Vec::new();
        for wanted in &self.opts.languages {
            match known
                .iter()
                .find(|l| l.short.eq_ignore_ascii_case(wanted) && l.enabled)
            {
                Some(l) => {
                    let delta = have_anchor && previous.contains(&l.id.to_string().as_str());
                    ids.push((l.id, delta));
                }
                None => tracing::warn!(
                    language = %wanted,
                    "the upstream does not sync this language; it is left out"
                ),
            }
        }
        if ids.is_empty() {
            // Asking for no language would get nothing; get what the USS has instead.
            return Ok((None, "all".into()));
        }
        let subscribed = ids
            .iter()
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
            .join(",");
        Ok((Some(ids), subscribed))
    }

    async fn deployments(&self, sync_anchor: &str, report: &mut Report) -> Result<(), Error> {
        let phase = Phase::Deployments;
        self.progress.start(phase, 1);
        let anchor = self
            .store
            .anchor(Anchor::Deployment)
            .map_err(|e| Error::new(phase, e))?;
        let delta = self
            .call(
                phase,
                self.client.get_deployments(anchor.as_deref(), sync_anchor),
            )
            .await?;
        self.check_cancel(phase)?;
        self.store
            .apply_deployments(
                &DeploymentChanges {
                    groups: &delta.groups,
                    deployments: &delta.deployments,
                    dead: &delta.dead,
                    hidden: &delta.hidden,
                    accepted_eulas: &delta.accepted_eulas,
                },
                &delta.anchor,
            )
            .map_err(|e| Error::new(phase, e))?;
        report.deployments_received = delta.deployments.len();
        report.dead_deployments = delta.dead.len();
        report.groups = delta.groups.len();
        self.progress.advance(1);
        self.progress.finish(
            phase,
            &format!(
                "{} groups, {} approvals changed, {} revoked",
                delta.groups.len(),
                delta.deployments.len(),
                delta.dead.len()
            ),
        );
        Ok(())
    }
}
