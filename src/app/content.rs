//! Wiring of the content cache: `upstream` plugged in as its `Origin`, the content phase of
//! a sync, and `outpost verify`.

use crate::config::{Config, ContentPolicy};
use crate::content::{self, Content, OriginBody, OriginError};
use crate::model::{Sha1Digest, UpdateFile};
use crate::store::{Store, Wanted};
use crate::sync::{Phase, Progress};
use crate::upstream::{self, ContentAnswer};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The USS as the content cache's origin.
struct UpstreamOrigin(upstream::Client);

impl content::Origin for UpstreamOrigin {
    fn get(
        &self,
        file: &UpdateFile,
        offset: u64,
    ) -> BoxFuture<'static, Result<OriginBody, OriginError>> {
        let (client, file) = (self.0.clone(), file.clone());
        Box::pin(async move {
            match client.get_content(&file, offset).await {
                Ok(ContentAnswer::NotFound) => Err(OriginError::NotFound),
                Ok(ContentAnswer::Body { start, stream }) => Ok(OriginBody {
                    start,
                    stream: stream.map(|r| r.map_err(origin_error)).boxed(),
                }),
                Err(e) => Err(origin_error(e)),
            }
        })
    }

    fn request(&self, files: Vec<Sha1Digest>) -> BoxFuture<'static, Result<(), OriginError>> {
        let client = self.0.clone();
        Box::pin(async move {
            for batch in files.chunks(100) {
                client.download_files(batch).await.map_err(origin_error)?;
            }
            Ok(())
        })
    }
}

fn origin_error(e: upstream::Error) -> OriginError {
    match e.fault() {
        Some(f) if f.error_code.as_deref() == Some("FileDigestsMissing") => {
            OriginError::Gone(f.message.clone().unwrap_or_default())
        }
        _ => OriginError::Failed {
            retryable: e.is_retryable(),
            message: e.to_string(),
        },
    }
}

pub fn options(config: &Config) -> content::Options {
    content::Options {
        data_dir: config.storage.data_dir.clone(),
        max_cache_size: config.content.max_cache_size,
        download_concurrency: config.content.download_concurrency,
        bandwidth_limit: config.content.bandwidth_limit,
        retry: content::Retry::default(),
    }
}

/// The content cache on its own store connection, fetching through `client`.
pub fn open(config: &Config, client: upstream::Client) -> anyhow::Result<Content> {
    let store = Store::open(&config.storage.data_dir)?;
    Ok(Content::new(
        store,
        Arc::new(UpstreamOrigin(client)),
        options(config),
    ))
}

/// The content phase of a sync: prefetch what `content.policy` wants. `Ok(None)` when the
/// policy fetches nothing ahead.
pub async fn prefetch(
    config: &Config,
    content: &Content,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<content::PrefetchReport>> {
    let wanted = match config.content.policy {
        ContentPolicy::Approved => Wanted::Approved,
        ContentPolicy::All => Wanted::All,
        ContentPolicy::OnDemand => return Ok(None),
    };
    let report = content
        .prefetch(wanted, &PhaseProgress(progress), cancel)
        .await?;
    progress.finish(
        Phase::Content,
        &format!(
            "content: {} of {} wanted files fetched ({} bytes), {} failed, {} left out by max_cache_size, {} being fetched by another process",
            report.fetched,
            report.wanted,
            report.bytes,
            report.failed.len(),
            report.over_budget,
            report.elsewhere
        ),
    );
    if let Some((file, e)) = report.failed.first() {
        anyhow::bail!(
            "{} of {} files not cached (first: {} {}: {e})",
            report.failed.len(),
            report.wanted,
            file.name,
            file.sha1.to_hex_upper()
        );
    }
    Ok(Some(report))
}

/// The content phase on the sync's progress display, in bytes.
struct PhaseProgress<'a>(&'a dyn Progress);

impl content::PrefetchProgress for PhaseProgress<'_> {
    fn planned(&self, _files: usize, bytes: u64) {
        self.0.start(Phase::Content, bytes);
    }

    fn done(&self, file: &UpdateFile) {
        self.0.advance(file.size);
    }
}

/// `outpost verify [--repair]`.
pub async fn verify_command(config: Config, repair: bool) -> anyhow::Result<()> {
    let cancel = super::shutdown_token();
    let content = open(&config, super::upstream_client(&config)?)?;
    let report = content.verify(repair, &cancel).await?;
    println!(
        "checked {} cached files: {} good, {} bad (quarantined), {} gone from disk{}",
        report.checked,
        report.good,
        report.bad,
        report.gone,
        if repair {
            format!(", {} repaired", report.repaired)
        } else {
            String::new()
        }
    );
    if report.remaining > 0 {
        anyhow::bail!(
            "{} bad or lost files remain{}",
            report.remaining,
            if repair {
                " (repair failed; see the log)"
            } else {
                "; run `outpost verify --repair`"
            }
        );
    }
    Ok(())
}
