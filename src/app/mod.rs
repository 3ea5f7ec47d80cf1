//! Composition root: the only module that knows everything. It narrows the `Config` into each
//! subsystem's options, opens the store, builds the upstream client, runs one-shot commands
//! (`sync`, `status`, `verify`), `serve` and the demo, and turns SIGINT/SIGTERM into a cancellation token.

mod content;
pub mod demo;
mod progress;

pub use content::verify_command;

pub use progress::BarProgress;

use crate::config::Config;
use crate::serve;
use crate::status::{ContentStatus, LastSync, Status};
use crate::store::Store;
use crate::sync::{self, Progress};
use crate::upstream;
use anyhow::Context as _;
use std::fs::{self, File};
use std::path::Path;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// File in `storage.data_dir` holding this replica's GUID, generated once.
const SERVER_ID_FILE: &str = "server-id";
/// Held exclusively by a running sync pass.
const SYNC_LOCK_FILE: &str = "sync.lock";

/// This replica's GUID: read from the data dir, or generated and written there once. The new
/// id is written to a private temp file and hard-linked into place, so a crash never leaves a
/// half-written id and two processes starting together agree on one.
pub fn server_id(data_dir: &Path) -> anyhow::Result<Uuid> {
    let path = data_dir.join(SERVER_ID_FILE);
    let read = |path: &Path| -> anyhow::Result<Uuid> {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Uuid::parse_str(text.trim())
            .with_context(|| format!("{} does not hold a GUID", path.display()))
    };
    if path.exists() {
        return read(&path);
    }
    fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let id = Uuid::new_v4();
    let tmp = data_dir.join(format!("{SERVER_ID_FILE}.{id}.tmp"));
    let written = fs::write(&tmp, format!("{id}\n"))
        .and_then(|()| File::open(&tmp)?.sync_all())
        .and_then(|()| fs::hard_link(&tmp, &path));
    let _ = fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(id),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
        Err(e) => Err(e).with_context(|| format!("writing {}", path.display())),
    }
}

/// Open the data dir's store, creating the directory if needed.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    let dir = &config.storage.data_dir;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(Store::open(dir)?)
}

/// The name we give the USS in GetAuthorizationCookie: this host's name when it is a valid
/// DNS name, else a safe default.
pub fn account_name() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if valid {
        host
    } else {
        "outpost.local".into()
    }
}

pub fn upstream_options(config: &Config, server_id: Uuid) -> upstream::Options {
    upstream::Options {
        url: config.upstream.url.clone(),
        content_url: Some(config.upstream.effective_content_url()),
        timeout: config.upstream.timeout,
        max_requests_per_second: config.upstream.max_requests_per_second,
        ca_file: config.upstream.ca_file.clone(),
        server_id,
        account_name: account_name(),
        protocol_version: "1.20".into(),
        retry: upstream::RetryPolicy::default(),
    }
}

/// The USS client of this replica (its id from the data dir).
pub fn upstream_client(config: &Config) -> anyhow::Result<upstream::Client> {
    let id = server_id(&config.storage.data_dir)?;
    Ok(upstream::Client::new(upstream_options(config, id))?)
}

pub fn sync_options(config: &Config) -> sync::Options {
    sync::Options {
        replica: config.sync.replica,
        languages: config.sync.languages.clone(),
        fetch_concurrency: 4,
    }
}

/// What one recorded sync pass did.
#[derive(Debug)]
pub struct SyncOutcome {
    pub metadata: sync::Report,
    /// `None` when the content phase did not run (`--no-content`, or policy on-demand).
    pub content: Option<crate::content::PrefetchReport>,
    /// Content bytes received from the upstream by this pass.
    pub content_bytes: u64,
}

/// One recorded sync pass: takes the sync lock, runs the metadata phases and then, unless
/// `with_content` is false, the content phase; records the run (start, end, ok, phase,
/// error).
pub async fn sync_once(
    config: &Config,
    progress: &dyn Progress,
    cancel: &CancellationToken,
    with_content: bool,
) -> anyhow::Result<SyncOutcome> {
    let store = open_store(config)?;
    let _lock = lock_sync(&config.storage.data_dir)?;
    let client = upstream_client(config)?;
    let run = store.begin_run()?;
    let result = sync::run(&client, &store, &sync_options(config), progress, cancel).await;
    let metadata = match result {
        Ok(report) => report,
        Err(e) => {
            store.finish_run(
                run,
                false,
                Some(e.phase.as_str()),
                Some(&e.kind.to_string()),
            )?;
            log_pass(&client);
            return Err(e.into());
        }
    };
    let mut outcome = SyncOutcome {
        metadata,
        content: None,
        content_bytes: 0,
    };
    if with_content {
        let content = content::open(config, client.clone())?;
        match content::prefetch(config, &content, progress, cancel).await {
            Ok(report) => outcome.content = report,
            Err(e) => {
                let reason = format!("{e:#}");
                store.finish_run(run, false, Some("content"), Some(&reason))?;
                log_pass(&client);
                anyhow::bail!("sync failed in phase content: {reason}");
            }
        }
        outcome.content_bytes = content.stats().fetched_bytes;
    }
    store.finish_run(run, true, None, None)?;
    log_pass(&client);
    Ok(outcome)
}

fn log_pass(client: &upstream::Client) {
    let stats = client.stats();
    tracing::info!(
        requests = stats.requests,
        bytes_received = stats.bytes_received,
        retries = stats.retries,
        reauths = stats.reauths,
        peak_rss_kib = crate::telemetry::peak_rss_kib().unwrap_or(0),
        "sync pass ended"
    );
}

fn lock_sync(data_dir: &Path) -> anyhow::Result<File> {
    let path = data_dir.join(SYNC_LOCK_FILE);
    let file = File::create(&path).with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another sync is running on {} (while `outpost serve` runs, use POST /sync on its admin port)",
            data_dir.display()
        ),
        Err(fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// `outpost sync`: one pass with progress on a TTY; SIGINT/SIGTERM stop it at a safe point.
pub async fn sync_command(config: Config, no_content: bool) -> anyhow::Result<()> {
    let cancel = shutdown_token();
    let progress = BarProgress::new();
    let outcome = sync_once(&config, &progress, &cancel, !no_content).await?;
    let report = &outcome.metadata;
    tracing::info!(
        categories = report.categories_fetched,
        updates = report.updates_fetched,
        bundle_members = report.bundle_members_fetched,
        skipped = report.skipped.len(),
        content_files = outcome.content.as_ref().map_or(0, |c| c.fetched),
        content_bytes = outcome.content_bytes,
        "sync ok"
    );
    Ok(())
}

/// `outpost serve`: serve `/Content` on `server.listen` until SIGTERM/SIGINT.
pub async fn serve_command(config: Config) -> anyhow::Result<()> {
    let cancel = shutdown_token();
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("listening on {} (server.listen)", config.server.listen))?;
    if config.server.tls_listen.is_none() {
        tracing::warn!("client-facing service is plain HTTP only (server.tls_listen is not set)");
    }
    serve_on(&config, listener, cancel).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Serve on a bound listener until `cancel` (callers bind, so tests and the demo can use
/// port 0).
pub async fn serve_on(
    config: &Config,
    listener: tokio::net::TcpListener,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let client = upstream_client(config)?;
    let content = content::open(config, client)?;
    // The cap may have been lowered since the last run.
    content.evict_if_needed().await?;
    tracing::info!(
        listen = %listener.local_addr()?,
        policy = config.content.policy.as_str(),
        "serving /Content"
    );
    serve::run(listener, serve::Served { content }, cancel).await?;
    Ok(())
}

/// Cancelled on the first SIGINT or SIGTERM.
pub fn shutdown_token() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::warn!("stop requested: finishing at the next safe point");
        t.cancel();
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What the replica holds and how it is doing (reads the data dir; safe beside a writer).
pub fn status(config: &Config) -> anyhow::Result<Status> {
    let store = open_store(config)?;
    let counts = store.counts()?;
    let last = store.last_run()?;
    let mut warnings = Vec::new();
    let last_sync = match last {
        Some(r) => {
            if r.ok == Some(false) {
                warnings.push(format!(
                    "last sync failed in phase {}: {}",
                    r.phase.as_deref().unwrap_or("?"),
                    r.error.as_deref().unwrap_or("?")
                ));
            }
            LastSync {
                started: Some(r.started),
                finished: r.finished,
                ok: r.ok,
                phase: r.phase,
                error: r.error,
            }
        }
        None => {
            warnings.push("never synced: run `outpost sync`".into());
            LastSync::default()
        }
    };
    if config.server.tls_listen.is_none() {
        warnings.push(
            "client metadata is served over plain HTTP: a man in the middle can rewrite it; set server.tls_listen"
                .into(),
        );
    }
    let cached = store.content_counts()?;
    let missing = match config.content.policy {
        crate::config::ContentPolicy::Approved => cached.missing_approved,
        crate::config::ContentPolicy::All => cached.missing_all,
        crate::config::ContentPolicy::OnDemand => 0,
    };
    if cached.quarantined > 0 {
        warnings.push(format!(
            "{} content files failed verification and are quarantined; run `outpost verify --repair`",
            cached.quarantined
        ));
    }
    Ok(Status {
        server_id: server_id(&config.storage.data_dir)?.to_string(),
        upstream: config.upstream.url.clone(),
        last_sync,
        updates: counts.updates,
        categories: counts.categories,
        target_groups: counts.target_groups,
        approvals: counts.approvals,
        computers: 0,
        events_pending_rollup: 0,
        content: ContentStatus {
            policy: config.content.policy.as_str().into(),
            files: cached.files,
            bytes: cached.bytes,
            missing,
            corrupt_quarantined: cached.quarantined,
            fetching: cached.fetching,
            max_cache_size: config.content.max_cache_size,
            evictions: store.counter(crate::content::COUNTER_EVICTIONS)?,
            digest_mismatches: store.counter(crate::content::COUNTER_MISMATCHES)?,
            metadata_files: counts.files,
            metadata_bytes: counts.file_bytes,
        },
        staged_revisions: counts.staged,
        warnings,
    })
}
