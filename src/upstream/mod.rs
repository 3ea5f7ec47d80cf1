//! MS-WSUSSS client (we are the replica DSS): typed calls to the upstream's ServerSync and
//! DssAuth services. Owns the cookie lifecycle (`auth`), the request builders and response
//! parsers (`messages`, `blob`), and the HTTP side: one shared rate limiter, timeouts, retries
//! with backoff, capped bodies (`transport`). Callers see typed results or an `Error` that says
//! whose fault it was and whether trying again can help.

mod auth;
mod blob;
pub mod messages;
mod transport;

pub use blob::decode_compressed_blob;

use crate::model::{Deployment, RevisionId, Sha1Digest, TargetGroup, UpdateFile};
use crate::xml;
use messages::Op;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
pub use transport::ContentAnswer;
use transport::Transport;

/// GetRevisionIdList on a big USS takes a while to compute (MS-lib allows 3 minutes).
const REVISION_LIST_MIN_TIMEOUT: Duration = Duration::from_secs(180);

/// What `app` hands the client (narrowed from `Config`).
#[derive(Debug, Clone)]
pub struct Options {
    /// USS base, `http(s)://host:port` (no trailing path).
    pub url: String,
    /// Where the USS serves `/Content` when not at `url` (`upstream.content_url`).
    pub content_url: Option<String>,
    /// Bound on every HTTP exchange (connect, send, whole body).
    pub timeout: Duration,
    /// One limiter shared by all calls of this client, auth and retries included.
    pub max_requests_per_second: u32,
    /// Extra PEM trust anchor(s), in addition to the system roots.
    pub ca_file: Option<PathBuf>,
    /// Our DSS `accountGuid`.
    pub server_id: uuid::Uuid,
    /// Our FQDN for GetAuthorizationCookie.
    pub account_name: String,
    /// Sent in GetCookie, e.g. `1.20`.
    pub protocol_version: String,
    pub retry: RetryPolicy,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            url: String::new(),
            content_url: None,
            timeout: Duration::from_secs(60),
            max_requests_per_second: 20,
            ca_file: None,
            server_id: uuid::Uuid::nil(),
            account_name: "outpost.local".into(),
            protocol_version: "1.20".into(),
            retry: RetryPolicy::default(),
        }
    }
}

/// Exponential backoff with full jitter for retryable failures.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Total tries, the first one included.
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(500),
            max: Duration::from_secs(10),
        }
    }
}

/// Counters since the client was built.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// HTTP requests sent (auth and retries included).
    pub requests: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
    /// Requests repeated after a retryable failure.
    pub retries: u64,
    /// Sessions re-established because the USS rejected ours or it was forgotten.
    pub reauths: u64,
}

#[derive(Debug, Clone)]
pub struct ConfigData {
    pub catalog_only_sync: bool,
    pub lazy_sync: bool,
    pub server_hosts_psf_files: bool,
    /// Clamped: absent or ≤0 becomes 100.
    pub max_updates_per_request: u32,
    /// Clamped like `max_updates_per_request`.
    pub max_updates_per_decryption_request: u32,
    pub new_config_anchor: Option<String>,
    pub protocol_version: Option<String>,
    /// Delta since the `configAnchor` sent (empty when nothing changed).
    pub languages: Vec<Language>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    /// LCID; 0 is the "all languages" row.
    pub id: i32,
    pub short: String,
    pub long: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RevisionFilter {
    /// Omitted from the request when `None` (first call).
    pub anchor: Option<String>,
    pub get_config: bool,
    /// (category GUID, Delta); written as given, `None` omits the element.
    pub categories: Option<Vec<(uuid::Uuid, bool)>>,
    pub classifications: Option<Vec<(uuid::Uuid, bool)>>,
    /// (LCID, Delta)
    pub languages: Option<Vec<(i32, bool)>>,
}

#[derive(Debug, Clone)]
pub struct RevisionList {
    /// Echo byte for byte.
    pub anchor: String,
    /// In the USS's order; the same UpdateID may appear with several revisions.
    pub revisions: Vec<RevisionId>,
}

#[derive(Debug, Clone)]
pub struct UpdateData {
    pub id: RevisionId,
    /// The decoded document text, verbatim.
    pub xml: String,
    /// The document parsed (it names `id`, checked).
    pub doc: crate::model::UpdateDoc,
    pub file_digests: Vec<Sha1Digest>,
    /// Arrived as `XmlUpdateBlobCompressed`.
    pub compressed: bool,
}

#[derive(Debug, Clone)]
pub struct UpdateDataBatch {
    /// May hold fewer updates than asked for (callers diff and re-ask).
    pub updates: Vec<UpdateData>,
    /// De-duplicated by digest.
    pub file_urls: Vec<FileUrl>,
}

#[derive(Debug, Clone)]
pub struct FileUrl {
    pub digest: Sha1Digest,
    pub mu_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DeploymentsDelta {
    pub anchor: String,
    /// The full group list.
    pub groups: Vec<TargetGroup>,
    /// Added or changed since the deployment anchor.
    pub deployments: Vec<Deployment>,
    /// DeploymentGuids removed since the anchor.
    pub dead: Vec<uuid::Uuid>,
    /// Full list of hidden (declined) UpdateIDs.
    pub hidden: Vec<uuid::Uuid>,
    /// Full list of accepted EULA ids.
    pub accepted_eulas: Vec<uuid::Uuid>,
}

/// Why an upstream call failed. `Fault`, `Http` and `Decode` are the upstream's doing,
/// `Transport` is the network's, `Config` is ours.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Boxed: a `Fault` is large and errors travel through many `Result`s.
    #[error("{op}: upstream fault {fault}")]
    Fault {
        op: &'static str,
        fault: Box<xml::soap::Fault>,
    },
    #[error("{op}: upstream answered HTTP {status} without a SOAP fault")]
    Http { op: &'static str, status: u16 },
    #[error("{op}: upstream unreachable: {message}")]
    Transport { op: &'static str, message: String },
    #[error("{op}: unreadable upstream answer: {message}")]
    Decode { op: &'static str, message: String },
    #[error("upstream settings: {0}")]
    Config(String),
}

impl Error {
    /// Whether the same request may succeed later: network trouble, overload (HTTP 5xx,
    /// 408, 429, `ServerBusy`). Protocol faults and unreadable answers will not change.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Self::Fault { .. } => self.fault_code() == Some("ServerBusy"),
            Self::Decode { .. } | Self::Config(_) => false,
        }
    }

    /// The WSUS `ErrorCode` of a fault (`InvalidCookie`, `ServerChanged`, …).
    pub fn fault_code(&self) -> Option<&str> {
        match self {
            Self::Fault { fault, .. } => fault.error_code.as_deref(),
            _ => None,
        }
    }

    /// The whole fault (`Message` names the bad parameter or the missing digests).
    pub fn fault(&self) -> Option<&xml::soap::Fault> {
        match self {
            Self::Fault { fault, .. } => Some(fault),
            _ => None,
        }
    }

    /// The MS-WSUSSS operation that failed (`"config"` for settings errors).
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Fault { op, .. }
            | Self::Http { op, .. }
            | Self::Transport { op, .. }
            | Self::Decode { op, .. } => op,
            Self::Config(_) => "config",
        }
    }

    /// The USS no longer accepts our session cookie: get a new one and try again.
    fn is_cookie_rejected(&self) -> bool {
        matches!(
            self.fault_code(),
            Some("InvalidCookie" | "CookieExpired" | "InvalidAuthorizationCookie")
        )
    }

    pub(crate) fn decode(op: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Decode {
            op,
            message: e.to_string(),
        }
    }
}

/// Cheap to clone; clones share the session, the limiter and the counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    opts: Options,
    /// `opts.url` without trailing slashes.
    base: String,
    /// Where the USS serves `/Content`: `opts.content_url`, else `base`.
    content_base: String,
    server_sync_url: String,
    transport: Transport,
    auth: auth::Auth,
    stats: Arc<Counters>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    bytes_received: AtomicU64,
    retries: AtomicU64,
    reauths: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.base)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Validate the options and build the HTTP client (no network traffic yet: the session
    /// is set up lazily by the first call).
    pub fn new(opts: Options) -> Result<Client, Error> {
        let base = transport::validate_base_url(&opts.url)?;
        if opts.timeout.is_zero() {
            return Err(Error::Config("upstream.timeout must be above zero".into()));
        }
        if opts.protocol_version.trim().is_empty() {
            return Err(Error::Config("the protocol version is empty".into()));
        }
        let content_base = match &opts.content_url {
            Some(url) => transport::validate_base_url(url)?,
            None => base.clone(),
        };
        let stats = Arc::new(Counters::default());
        let transport = Transport::new(&opts, stats.clone())?;
        Ok(Client {
            inner: Arc::new(Inner {
                server_sync_url: format!("{base}/ServerSyncWebService/ServerSyncWebService.asmx"),
                base,
                content_base,
                opts,
                transport,
                auth: auth::Auth::default(),
                stats,
            }),
        })
    }

    /// GET a content file from the USS (`<content_url>/Content/XX/SHA1HEX.ext`, wsusss.md
    /// §2.9) from byte `offset` on.
    pub async fn get_content(
        &self,
        file: &UpdateFile,
        offset: u64,
    ) -> Result<ContentAnswer, Error> {
        let url = format!("{}{}", self.inner.content_base, file.content_path());
        self.inner.transport.get_content(&url, offset).await
    }

    /// GetConfigData; `config_anchor` is omitted when `None` (first call).
    pub async fn get_config_data(&self, config_anchor: Option<&str>) -> Result<ConfigData, Error> {
        let anchor = config_anchor.map(str::to_owned);
        self.inner
            .call(
                &messages::GET_CONFIG_DATA,
                self.inner.opts.timeout,
                move |c| messages::get_config_data(c, anchor.as_deref()),
                messages::parse_config_data,
            )
            .await
    }

    /// GetRevisionIdList (allowed at least 3 minutes: big USSs are slow to answer it).
    pub async fn get_revision_id_list(
        &self,
        filter: &RevisionFilter,
    ) -> Result<RevisionList, Error> {
        let filter = filter.clone();
        let timeout = self.inner.opts.timeout.max(REVISION_LIST_MIN_TIMEOUT);
        self.inner
            .call(
                &messages::GET_REVISION_ID_LIST,
                timeout,
                move |c| messages::get_revision_id_list(c, &filter),
                messages::parse_revision_id_list,
            )
            .await
    }

    /// GetUpdateData for up to MaxNumberOfUpdatesPerRequest revisions (callers batch). The
    /// answer may hold fewer; every document is decoded and checked against its `Id`.
    pub async fn get_update_data(&self, ids: &[RevisionId]) -> Result<UpdateDataBatch, Error> {
        if ids.is_empty() {
            return Ok(UpdateDataBatch {
                updates: Vec::new(),
                file_urls: Vec::new(),
            });
        }
        let ids = ids.to_vec();
        self.inner
            .call(
                &messages::GET_UPDATE_DATA,
                self.inner.opts.timeout,
                move |c| messages::get_update_data(c, &ids),
                messages::parse_update_data,
            )
            .await
    }

    /// GetDeployments (replica only); `deployment_anchor` omitted when `None`.
    pub async fn get_deployments(
        &self,
        deployment_anchor: Option<&str>,
        sync_anchor: &str,
    ) -> Result<DeploymentsDelta, Error> {
        let deployment_anchor = deployment_anchor.map(str::to_owned);
        let sync_anchor = sync_anchor.to_owned();
        self.inner
            .call(
                &messages::GET_DEPLOYMENTS,
                self.inner.opts.timeout,
                move |c| messages::get_deployments(c, deployment_anchor.as_deref(), &sync_anchor),
                messages::parse_deployments,
            )
            .await
    }

    /// DownloadFiles: ask the USS to fetch these files from its own upstream (≤100 per
    /// call, callers batch). Fire and forget on the USS side.
    pub async fn download_files(&self, digests: &[Sha1Digest]) -> Result<(), Error> {
        if digests.is_empty() {
            return Ok(());
        }
        let digests = digests.to_vec();
        self.inner
            .call(
                &messages::DOWNLOAD_FILES,
                self.inner.opts.timeout,
                move |c| messages::download_files(c, &digests),
                messages::parse_download_files,
            )
            .await
    }

    pub fn stats(&self) -> Stats {
        let c = &self.inner.stats;
        Stats {
            requests: c.requests.load(Ordering::Relaxed),
            bytes_received: c.bytes_received.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            reauths: c.reauths.load(Ordering::Relaxed),
        }
    }

    /// Drop every cookie and the discovered auth URL (after `ServerChanged`): the next call
    /// starts again from GetAuthConfig.
    pub fn forget_session(&self) {
        self.inner.auth.forget();
    }
}

/// Re-auths allowed inside one call before the cookie fault is handed to the caller.
const MAX_REAUTHS_PER_CALL: u32 = 2;

impl Inner {
    /// One ServerSync operation with a session cookie: get (or refresh) the cookie, send,
    /// and when the USS rejects the cookie, re-authenticate and send again (bounded).
    async fn call<T: Send + 'static>(
        &self,
        op: &'static Op,
        timeout: Duration,
        build: impl Fn(&messages::Cookie) -> String,
        parse: fn(&xml::Element) -> Result<T, xml::Error>,
    ) -> Result<T, Error> {
        let mut reauths = 0;
        loop {
            let session = self.session().await?;
            let body = build(&session.cookie);
            match self
                .transport
                .call(op, &self.server_sync_url, body, timeout, parse)
                .await
            {
                Err(e) if e.is_cookie_rejected() && reauths < MAX_REAUTHS_PER_CALL => {
                    reauths += 1;
                    tracing::warn!(op = op.name, cause = %e, "upstream rejected our cookie; re-authenticating");
                    let full = e.fault_code() == Some("InvalidAuthorizationCookie");
                    self.auth.invalidate(session.generation, full);
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::soap::Fault;

    fn fault(code: &str) -> Error {
        Error::Fault {
            op: "GetRevisionIdList",
            fault: Box::new(Fault::wsus(false, code, "", "x")),
        }
    }

    #[test]
    fn retryability_follows_whose_fault_it_is() {
        assert!(Error::Transport {
            op: "GetCookie",
            message: "reset".into()
        }
        .is_retryable());
        for status in [500, 502, 503, 504, 429, 408] {
            assert!(Error::Http { op: "x", status }.is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 301] {
            assert!(!Error::Http { op: "x", status }.is_retryable(), "{status}");
        }
        assert!(fault("ServerBusy").is_retryable());
        for code in [
            "InvalidCookie",
            "InvalidParameters",
            "InternalServerError",
            "ServerChanged",
            "IncompatibleProtocolVersion",
        ] {
            assert!(!fault(code).is_retryable(), "{code}");
        }
        assert!(!Error::decode("x", "bad").is_retryable());
        assert!(!Error::Config("x".into()).is_retryable());
    }

    #[test]
    fn fault_errors_name_the_operation_code_and_message() {
        let e = Error::Fault {
            op: "GetRevisionIdList",
            fault: Box::new(Fault::wsus(false, "InvalidParameters", "filter", "x")),
        };
        assert_eq!(e.fault().and_then(|f| f.message.as_deref()), Some("filter"));
        assert_eq!(
            e.to_string(),
            "GetRevisionIdList: upstream fault InvalidParameters (filter)"
        );
        assert_eq!(e.fault_code(), Some("InvalidParameters"));
        assert_eq!(e.operation(), "GetRevisionIdList");
        assert!(fault("InvalidCookie").is_cookie_rejected());
        assert!(fault("CookieExpired").is_cookie_rejected());
        assert!(!fault("ServerChanged").is_cookie_rejected());
        assert_eq!(Error::Config("x".into()).operation(), "config");
        assert_eq!(
            Error::Http {
                op: "x",
                status: 500
            }
            .fault_code(),
            None
        );
    }

    #[test]
    fn new_rejects_bad_settings() {
        let opts = |url: &str| Options {
            url: url.into(),
            ..Options::default()
        };
        for bad in ["", "wsus:8530", "ftp://wsus", "http://", "http://wsus/?a=b"] {
            assert!(
                matches!(Client::new(opts(bad)), Err(Error::Config(_))),
                "{bad:?}"
            );
        }
        let ok = Client::new(opts("http://wsus.example:8530/")).unwrap();
        assert_eq!(
            ok.inner.server_sync_url,
            "http://wsus.example:8530/ServerSyncWebService/ServerSyncWebService.asmx"
        );
        let zero_rate = Options {
            max_requests_per_second: 0,
            ..opts("http://wsus")
        };
        assert!(matches!(Client::new(zero_rate), Err(Error::Config(_))));
        let missing_ca = Options {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..opts("https://wsus")
        };
        assert!(matches!(Client::new(missing_ca), Err(Error::Config(_))));
    }
}
