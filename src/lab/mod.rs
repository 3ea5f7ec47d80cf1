//! The built-in lab upstream: a real HTTP server playing the USS side of MS-WSUSSS
//! (wsusss.md §6) over a deterministic synthetic catalog, for `outpost demo`, tests and
//! benches. It owns the catalog (`catalog`, `documents`), the CAB blob writer (`cab`), the
//! response writers (`messages`), the operations (`ops`), the HTTP side (`server`) and the
//! content bodies (`content`), plus the mutable lab state: change counter, cookies, groups,
//! approvals, injected faults, request log, withheld files and content counters.
//! It depends on `xml` and `model` only, never on `upstream`.

mod cab;
mod catalog;
mod content;
mod documents;
mod messages;
mod ops;
mod server;

use crate::model::{
    Deployment, DeploymentAction, RevisionId, Sha1Digest, TargetGroup, UpdateFile, ALL_COMPUTERS,
    UNASSIGNED_COMPUTERS,
};
use catalog::{Base, Entity};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How the lab is set up.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Number of plain software updates (each with one file); the fixed extras come on top.
    pub updates: usize,
    /// Everything in the catalog (identities, file bytes) derives from this.
    pub seed: u64,
    /// Lifetime of session cookies (WSUS: 240 minutes).
    pub cookie_lifetime: Duration,
    /// `MaxNumberOfUpdatesPerRequest` announced by GetConfigData and enforced by GetUpdateData.
    pub max_updates_per_request: u32,
    /// List bundle members in GetRevisionIdList. Off, a DSS only learns of them from the
    /// bundles' `BundledUpdates` and must fetch them by recursing (wsusss.md §2.5).
    pub list_bundle_members: bool,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            updates: 50,
            seed: 1,
            cookie_lifetime: Duration::from_secs(240 * 60),
            max_updates_per_request: 100,
            list_bundle_members: true,
        }
    }
}

/// What a full replica of the current catalog must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatalogCounts {
    /// Software and driver revisions listed by GetConfig=false (bundle members included).
    pub updates: usize,
    /// Distinct UpdateIDs of companies, product families, products, classifications, detectoids.
    pub categories: usize,
    /// Revisions listed by GetConfig=true.
    pub category_revisions: usize,
    /// Target groups, All Computers and Unassigned Computers included.
    pub target_groups: usize,
    /// Live deployments.
    pub approvals: usize,
    /// Distinct content files.
    pub files: usize,
}

/// One SOAP call as the lab received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Local name of the first element in `soap:Body` (empty when the envelope did not parse).
    pub operation: String,
    /// The request path as sent (not normalised).
    pub path: String,
    /// The `SOAPAction` header without its surrounding quotes.
    pub soap_action: Option<String>,
    /// GetUpdateData's requested ids, else empty.
    pub update_ids: Vec<RevisionId>,
    /// GetRevisionIdList's `filter/Anchor` or GetDeployments' `deploymentAnchor`.
    pub anchor: Option<String>,
    /// GetRevisionIdList's `filter/GetConfig`.
    pub get_config: Option<bool>,
    /// The request body, cut to at most 64 KiB.
    pub body: String,
}

/// What the lab served for one file at `/Content` (see [`Lab::content_served`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContentServed {
    /// `GET` and `HEAD` requests naming this digest, whatever the answer (404 and injected
    /// 500 included).
    pub requests: usize,
    /// The `GET`s among them.
    pub gets: usize,
    /// File bytes handed to the connection for it (200 and 206 bodies; a client that went
    /// away is not counted for the rest).
    pub body_bytes: u64,
}

/// Test switches, queued by [`Lab::inject`] and consumed by the next matching call(s).
/// `op` names an operation by the local name of its body element (`"GetUpdateData"`);
/// `Http500` and `Slow` also accept `"Content"` for `GET`/`HEAD /Content/…`. The content
/// switches (`CorruptContent`, `TruncateContent`) are consumed only by `GET`s that send at
/// least one body byte of a matching file (a `HEAD`, 404 or 416 leaves them queued).
#[derive(Debug, Clone)]
pub enum Inject {
    /// The next `count` ServerSync calls of operation `op` (None = any ServerSync call) get
    /// this WSUS fault (ErrorCode), HTTP 500.
    Fault {
        op: Option<String>,
        code: String,
        count: usize,
    },
    /// The next `count` calls of `op` (None = any SOAP call) answer HTTP 500 with a plain-text
    /// (non-SOAP) body.
    Http500 { op: Option<String>, count: usize },
    /// The next `count` calls of `op` (None = any SOAP call) sleep this long before answering.
    Slow {
        op: Option<String>,
        delay: Duration,
        count: usize,
    },
    /// Invalidate every cookie issued so far (next use → InvalidCookie fault). Takes effect
    /// at once.
    InvalidateCookies,
    /// Truncate the next `count` GetUpdateData answers to at most `k` updates (partial
    /// responses).
    TruncateUpdateData { k: usize, count: usize },
    /// The next `count` successful answers to `op` (None = any SOAP call; typically
    /// `Some("GetUpdateData")`) are cut in the middle: malformed XML with HTTP 200.
    MalformedXml { op: Option<String>, count: usize },
    /// The next `count` content bodies of file `sha1` (None = any file) have the right length
    /// but one byte inverted: the middle byte of the file (offset size/2) when the body holds
    /// it, else the first byte of the requested range.
    CorruptContent {
        sha1: Option<Sha1Digest>,
        count: usize,
    },
    /// The next `count` content bodies of file `sha1` (None = any file) announce their full
    /// length (`Content-Length`, and `Content-Range` for 206) but fail after `after` body
    /// bytes: the connection is aborted, so the client sees an incomplete body, not a clean
    /// short one. An `after` at or beyond the body length sends it whole.
    TruncateContent {
        sha1: Option<Sha1Digest>,
        after: u64,
        count: usize,
    },
    /// Same as [`Lab::withhold_content`]: `/Content` answers 404 for this file until a
    /// DownloadFiles call names it. Takes effect at once.
    WithholdContent { sha1: Sha1Digest },
}

/// A lab upstream. Cheap to clone: every clone shares the same state.
#[derive(Clone)]
pub struct Lab {
    inner: Arc<Inner>,
}

/// A running lab server; stops when `stop` is awaited or when dropped.
pub struct LabServer {
    /// Base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    pub lab: Lab,
    token: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl LabServer {
    /// Stop accepting, let open calls finish, and wait for the server task.
    pub async fn stop(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LabServer {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

struct Inner {
    base: Base,
    /// `GetAuthConfig/LastChange`.
    created: OffsetDateTime,
    state: Mutex<State>,
    files: Mutex<FileCache>,
    bytes_sent: AtomicU64,
    list_bundle_members: bool,
    /// Per-file `/Content` counters.
    served: Mutex<HashMap<Sha1Digest, ContentServed>>,
    /// File bytes of every content body.
    content_bytes: AtomicU64,
    /// Content rate limit in bytes per second; 0 = none.
    content_rate: AtomicU64,
}

/// Requests are logged up to these bounds (oldest dropped first), so a long demo run does
/// not grow without limit.
const MAX_RECORDS: usize = 100_000;
const MAX_RECORD_BYTES: usize = 64 << 20;
const MAX_RECORD_BODY: usize = 64 << 10;
/// Change counter of everything in the initial catalog.
const INITIAL_CHANGE: u64 = 1;
/// GoLiveTime of the initial deployments (deterministic).
const INITIAL_GO_LIVE: &str = "2024-05-15T08:00:00.000Z";

struct State {
    /// The global change counter N (wsusss.md §6.3).
    counter: u64,
    /// Change counter of each plain software update.
    plain: Vec<u64>,
    plain_index: HashMap<Uuid, usize>,
    max_per_request: u32,
    cookie_lifetime: Duration,
    /// CookieData (base64, as issued) → index into `dss`.
    auth_cookies: HashMap<String, usize>,
    /// Registered downstream servers: (accountName, accountGuid).
    dss: Vec<(String, Uuid)>,
    /// EncryptedData (base64, as issued) → expiry.
    cookies: HashMap<String, Instant>,
    groups: Vec<(TargetGroup, u64)>,
    /// Live deployments with the counter of their last change.
    deployments: Vec<(Deployment, u64)>,
    /// Revoked DeploymentGuids with the counter of their revocation.
    dead: Vec<(Uuid, u64)>,
    hidden: Vec<Uuid>,
    eulas: Vec<Uuid>,
    /// Sequence numbers for deterministic GUIDs of new deployments and groups.
    next_deployment: u64,
    next_group: u64,
    injections: Vec<Inject>,
    requests: VecDeque<RecordedRequest>,
    request_bytes: usize,
    /// Files `/Content` answers 404 for until a DownloadFiles names them (a lazy USS that has
    /// not downloaded them yet, wsusss.md §2.7).
    withheld: HashSet<Sha1Digest>,
    /// Every digest named by DownloadFiles calls that got past the cookie check, oldest first
    /// (bounded like the request log).
    download_files: VecDeque<Sha1Digest>,
}

/// Digests are computed on first use (hashing 20k files up front would cost seconds) and
/// kept, with a reverse index for `/Content` and DownloadFiles.
#[derive(Default)]
struct FileCache {
    by_key: HashMap<u64, UpdateFile>,
    by_sha1: HashMap<Sha1Digest, u64>,
    /// Plain-update count at the last full indexing, so repeated misses stay cheap.
    indexed_plain: Option<usize>,
    /// Files made a chosen size by `add_update_with_file`: key → size. Their metadata is in
    /// `by_key` from the start.
    sized: HashMap<u64, u64>,
}

/// What the injected switches decided for one call.
#[derive(Debug, Default)]
struct Plan {
    delay: Option<Duration>,
    http500: bool,
    fault: Option<String>,
    truncate: Option<usize>,
    malformed: bool,
}

/// What the content switches decided for one content body.
#[derive(Debug, Default, PartialEq, Eq)]
struct ContentPlan {
    corrupt: bool,
    /// Fail after this many body bytes.
    truncate: Option<u64>,
}

impl Lab {
    pub fn new(opts: LabOptions) -> Lab {
        let base = Base::new(opts.seed);
        let mut state = State {
            counter: INITIAL_CHANGE,
            plain: Vec::new(),
            plain_index: HashMap::new(),
            max_per_request: opts.max_updates_per_request,
            cookie_lifetime: opts.cookie_lifetime,
            auth_cookies: HashMap::new(),
            dss: Vec::new(),
            cookies: HashMap::new(),
            groups: Vec::new(),
            deployments: Vec::new(),
            dead: Vec::new(),
            hidden: vec![base.id(Entity::Driver(1))],
            eulas: vec![base.eula()],
            next_deployment: 0,
            next_group: 0,
            injections: Vec::new(),
            requests: VecDeque::new(),
            request_bytes: 0,
            withheld: HashSet::new(),
            download_files: VecDeque::new(),
        };
        state.push_plain(&base, opts.updates, INITIAL_CHANGE);

        // Groups: the two built-ins plus a custom group with a nested child.
        let builtin = |id, parent, name: &str| TargetGroup {
            id,
            parent,
            name: name.into(),
            is_builtin: true,
        };
        state.groups.push((
            builtin(ALL_COMPUTERS, None, "All Computers"),
            INITIAL_CHANGE,
        ));
        state.groups.push((
            builtin(
                UNASSIGNED_COMPUTERS,
                Some(ALL_COMPUTERS),
                "Unassigned Computers",
            ),
            INITIAL_CHANGE,
        ));
        let servers = state.new_group(&base, "Lab Servers", ALL_COMPUTERS, INITIAL_CHANGE);
        let pilot = state.new_group(&base, "Lab Pilot & Canary", servers, INITIAL_CHANGE);

        // Approvals: Install with a deadline, Install on the bundle, Uninstall, Block.
        let rev = |e: Entity| RevisionId::new(base.id(e), e.revisions()[0]);
        let initial = [
            (
                Entity::Superseder,
                ALL_COMPUTERS,
                DeploymentAction::Install,
                true,
            ),
            (Entity::Bundle, servers, DeploymentAction::Install, false),
            (
                Entity::Superseded,
                servers,
                DeploymentAction::Uninstall,
                false,
            ),
            (Entity::Driver(0), pilot, DeploymentAction::Block, false),
        ];
        for (e, group, action, deadline) in initial {
            let mut d = state.new_deployment(&base, rev(e), group, action, INITIAL_GO_LIVE.into());
            if deadline {
                d.deadline = Some("2030-01-15T18:00:00.000Z".into());
            }
            state.deployments.push((d, INITIAL_CHANGE));
        }

        Lab {
            inner: Arc::new(Inner {
                base,
                created: OffsetDateTime::now_utc(),
                state: Mutex::new(state),
                files: Mutex::new(FileCache::default()),
                bytes_sent: AtomicU64::new(0),
                list_bundle_members: opts.list_bundle_members,
                served: Mutex::new(HashMap::new()),
                content_bytes: AtomicU64::new(0),
                content_rate: AtomicU64::new(0),
            }),
        }
    }

    /// Serve on an already-bound listener until `shutdown` is cancelled (callers bind
    /// 127.0.0.1:0).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        axum::serve(listener, server::router(self))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    }

    /// Bind 127.0.0.1:0, spawn `serve`, and return a handle with the base URL.
    pub async fn start(self) -> std::io::Result<LabServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let token = CancellationToken::new();
        let task = tokio::spawn(self.clone().serve(listener, token.clone()));
        Ok(LabServer {
            url,
            lab: self,
            token,
            task: Some(task),
        })
    }

    /// What a full replica of the current catalog must hold.
    pub fn counts(&self) -> CatalogCounts {
        let st = self.state();
        let plain = st.plain.len();
        let updates = catalog::update_entities(plain)
            .map(|e| e.revisions().len())
            .sum();
        let files = catalog::file_keys(plain).count();
        CatalogCounts {
            updates,
            categories: catalog::CONFIG.len(),
            category_revisions: catalog::config_revisions().count(),
            target_groups: st.groups.len(),
            approvals: st.deployments.len(),
            files,
        }
    }

    /// Every SOAP call received, in order (bounded: see `MAX_RECORDS`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        let mut st = self.state();
        st.requests.clear();
        st.request_bytes = 0;
    }

    /// Total response body bytes served (SOAP and content).
    pub fn bytes_sent(&self) -> u64 {
        self.inner.bytes_sent.load(Ordering::Relaxed)
    }

    /// Publish `n` new plain software updates (one file each, none approved).
    pub fn add_updates(&self, n: usize) -> Vec<RevisionId> {
        let mut st = self.state();
        let change = st.bump();
        let first = st.plain.len();
        st.push_plain(&self.inner.base, n, change);
        (first..first + n)
            .map(|i| catalog::revision_id(&self.inner.base, Entity::Plain(i), 200))
            .collect()
    }

    /// Publish one plain software update whose single file is exactly `size` bytes (0 up to
    /// many GiB): listed, documented and served like the other plain updates. The bytes are
    /// generated block by block whenever they are served, never held whole; both digests are
    /// computed here by streaming them once, which blocks the caller (a second or two per GiB
    /// in a release build). Files under 16 bytes may equal another's (all empty files do).
    pub fn add_update_with_file(&self, size: u64) -> (RevisionId, UpdateFile) {
        let base = &self.inner.base;
        loop {
            // Hash without holding any lock (the server keeps answering); the file key is
            // the next plain index, so start over if another update took it meanwhile.
            let index = self.state().plain.len();
            let key = index as u64;
            let meta = base.sized_file_meta(key, size);
            let mut st = self.state();
            if st.plain.len() != index {
                continue;
            }
            {
                let mut cache = self.file_cache();
                cache.sized.insert(key, size);
                cache.by_sha1.insert(meta.sha1, key);
                cache.by_key.insert(key, meta.clone());
            }
            let change = st.bump();
            st.push_plain(base, 1, change);
            return (catalog::revision_id(base, Entity::Plain(index), 200), meta);
        }
    }

    /// Approve `update` for `group`; returns the DeploymentGuid. The revision is not checked,
    /// so tests can approve a revision the catalog does not hold.
    pub fn approve(&self, update: RevisionId, group: Uuid, action: DeploymentAction) -> Uuid {
        let mut st = self.state();
        let change = st.bump();
        let go_live = crate::model::format_wsus_time(OffsetDateTime::now_utc());
        let d = st.new_deployment(&self.inner.base, update, group, action, go_live);
        let id = d.deployment_id;
        st.deployments.push((d, change));
        id
    }

    /// Remove a live deployment; it appears in DeadDeployments of the next GetDeployments
    /// delta. False if no live deployment has this id.
    pub fn revoke(&self, deployment: Uuid) -> bool {
        let mut st = self.state();
        let Some(pos) = st
            .deployments
            .iter()
            .position(|(d, _)| d.deployment_id == deployment)
        else {
            return false;
        };
        let change = st.bump();
        st.deployments.remove(pos);
        st.dead.push((deployment, change));
        true
    }

    /// Add a custom target group under `parent`; returns its id.
    pub fn add_group(&self, name: &str, parent: Uuid) -> Uuid {
        let mut st = self.state();
        let change = st.bump();
        st.new_group(&self.inner.base, name, parent, change)
    }

    /// Live deployments.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.state()
            .deployments
            .iter()
            .map(|(d, _)| d.clone())
            .collect()
    }

    pub fn groups(&self) -> Vec<TargetGroup> {
        self.state().groups.iter().map(|(g, _)| g.clone()).collect()
    }

    pub fn set_max_updates_per_request(&self, n: u32) {
        self.state().max_per_request = n;
    }

    /// Queue a test switch (see [`Inject`]).
    pub fn inject(&self, fault: Inject) {
        let mut st = self.state();
        match fault {
            Inject::InvalidateCookies => st.cookies.clear(),
            Inject::WithholdContent { sha1 } => {
                st.withheld.insert(sha1);
            }
            other => st.injections.push(other),
        }
    }

    /// Drop every queued switch that has not been consumed yet.
    pub fn clear_injections(&self) {
        self.state().injections.clear();
    }

    /// The bytes served at `/Content` for the file with this SHA-1, whole (meant for small
    /// files; see [`Lab::file_slice`] for large ones).
    pub fn file_content(&self, sha1: &Sha1Digest) -> Option<Vec<u8>> {
        self.file_slice(sha1, 0, usize::MAX)
    }

    /// Up to `len` bytes of the file with this SHA-1 from `offset` (fewer at its end, none
    /// past it), generated without the rest of the file.
    pub fn file_slice(&self, sha1: &Sha1Digest, offset: u64, len: usize) -> Option<Vec<u8>> {
        let (key, _) = self.file_by_sha1(sha1)?;
        let source = self.file_source(key);
        let n = source.len().saturating_sub(offset).min(len as u64) as usize;
        let mut bytes = vec![0u8; n];
        if n > 0 {
            source.read(self, offset, &mut bytes);
        }
        Some(bytes)
    }

    /// What `/Content` has served for this file so far.
    pub fn content_served(&self, sha1: &Sha1Digest) -> ContentServed {
        self.served().get(sha1).copied().unwrap_or_default()
    }

    /// File bytes of every content body so far (a part of [`Lab::bytes_sent`]).
    pub fn content_bytes_sent(&self) -> u64 {
        self.inner.content_bytes.load(Ordering::Relaxed)
    }

    /// `/Content` answers 404 for this file (as a real USS does for a file it has not
    /// downloaded yet, wsusss.md §2.7/§2.9) until a successful DownloadFiles call names it;
    /// from then on it is served.
    pub fn withhold_content(&self, sha1: Sha1Digest) {
        self.state().withheld.insert(sha1);
    }

    /// Every digest named by a DownloadFiles call so far, in order, repeats kept (calls
    /// turned away for their cookie are not counted; ones faulted for an unknown digest are).
    pub fn download_files_requests(&self) -> Vec<Sha1Digest> {
        self.state().download_files.iter().copied().collect()
    }

    /// Throttle every content body, those already streaming included, to at most this many
    /// bytes per second each (`Some(0)` is taken as 1 byte/s); None = unthrottled.
    pub fn set_content_rate(&self, bytes_per_sec: Option<u64>) {
        let rate = bytes_per_sec.map_or(0, |r| r.max(1));
        self.inner.content_rate.store(rate, Ordering::Relaxed);
    }

    // ---- crate-internal helpers used by `ops` and `server` ----

    /// The state lock. A panic while it was held cannot leave it half-updated in a way that
    /// matters for a test double, so poisoning is ignored.
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn file_cache(&self) -> MutexGuard<'_, FileCache> {
        self.inner.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn base(&self) -> &Base {
        &self.inner.base
    }

    /// Metadata of a content file, hashed on first use.
    fn file_meta(&self, key: u64) -> UpdateFile {
        if let Some(meta) = self.file_cache().by_key.get(&key) {
            return meta.clone();
        }
        // Hash outside the lock; a concurrent duplicate computation is harmless.
        let meta = self.inner.base.file_meta(key);
        let mut cache = self.file_cache();
        cache.by_sha1.insert(meta.sha1, key);
        cache.by_key.insert(key, meta.clone());
        meta
    }

    /// The file with this SHA-1, indexing every file of the catalog on the first miss.
    fn file_by_sha1(&self, sha1: &Sha1Digest) -> Option<(u64, UpdateFile)> {
        let lookup = |cache: &FileCache| {
            let key = *cache.by_sha1.get(sha1)?;
            Some((key, cache.by_key.get(&key)?.clone()))
        };
        let plain = self.state().plain.len();
        {
            let cache = self.file_cache();
            if let Some(hit) = lookup(&cache) {
                return Some(hit);
            }
            if cache.indexed_plain == Some(plain) {
                return None;
            }
        }
        for key in catalog::file_keys(plain) {
            self.file_meta(key);
        }
        let mut cache = self.file_cache();
        cache.indexed_plain = Some(plain);
        lookup(&cache)
    }

    fn record(&self, mut request: RecordedRequest) {
        truncate_at_char(&mut request.body, MAX_RECORD_BODY);
        let mut st = self.state();
        st.request_bytes += request.body.len();
        st.requests.push_back(request);
        while st.requests.len() > MAX_RECORDS || st.request_bytes > MAX_RECORD_BYTES {
            match st.requests.pop_front() {
                Some(old) => st.request_bytes -= old.body.len(),
                None => break,
            }
        }
    }

    fn count_sent(&self, n: usize) {
        self.inner.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn served(&self) -> MutexGuard<'_, HashMap<Sha1Digest, ContentServed>> {
        self.inner.served.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where the bytes of a content file come from.
    fn file_source(&self, key: u64) -> content::FileSource {
        let sized = self.file_cache().sized.get(&key).copied();
        match sized {
            Some(size) => content::FileSource::Sized { key, size },
            None => content::FileSource::Small(self.inner.base.file_bytes(key).into()),
        }
    }

    fn content_rate(&self) -> Option<u64> {
        match self.inner.content_rate.load(Ordering::Relaxed) {
            0 => None,
            rate => Some(rate),
        }
    }

    fn count_content_request(&self, sha1: &Sha1Digest, get: bool) {
        let mut served = self.served();
        let entry = served.entry(*sha1).or_default();
        entry.requests += 1;
        entry.gets += usize::from(get);
    }

    fn count_content_bytes(&self, sha1: &Sha1Digest, n: u64) {
        self.inner.content_bytes.fetch_add(n, Ordering::Relaxed);
        self.inner.bytes_sent.fetch_add(n, Ordering::Relaxed);
        self.served().entry(*sha1).or_default().body_bytes += n;
    }

    fn is_withheld(&self, sha1: &Sha1Digest) -> bool {
        self.state().withheld.contains(sha1)
    }

    /// DownloadFiles named these digests; `accepted` when the call succeeded, which makes
    /// withheld ones servable.
    fn note_download_files(&self, digests: &[Sha1Digest], accepted: bool) {
        let mut st = self.state();
        st.download_files.extend(digests.iter().copied());
        while st.download_files.len() > MAX_RECORDS {
            st.download_files.pop_front();
        }
        if accepted {
            for d in digests {
                st.withheld.remove(d);
            }
        }
    }

    /// Consume the content switches that apply to a body of file `sha1`.
    fn take_content_plan(&self, sha1: &Sha1Digest) -> ContentPlan {
        let mut st = self.state();
        let mut plan = ContentPlan::default();
        let wants = |want: &Option<Sha1Digest>| want.as_ref().is_none_or(|w| w == sha1);
        for inj in st.injections.iter_mut() {
            match inj {
                Inject::CorruptContent { sha1: want, count }
                    if *count > 0 && !plan.corrupt && wants(want) =>
                {
                    *count -= 1;
                    plan.corrupt = true;
                }
                Inject::TruncateContent {
                    sha1: want,
                    after,
                    count,
                } if *count > 0 && plan.truncate.is_none() && wants(want) => {
                    *count -= 1;
                    plan.truncate = Some(*after);
                }
                _ => {}
            }
        }
        st.injections.retain(Inject::pending);
        plan
    }

    /// Consume the injected switches that match this call. `server_sync` tells whether the
    /// call went to the ServerSync service (where op-less `Fault`s apply).
    fn take_plan(&self, op: &str, server_sync: bool, soap: bool) -> Plan {
        let mut st = self.state();
        let mut plan = Plan::default();
        let wants = |want: &Option<String>, any: bool| match want {
            Some(w) => w.eq_ignore_ascii_case(op),
            None => any,
        };
        for inj in st.injections.iter_mut() {
            match inj {
                Inject::Fault {
                    op: want,
                    code,
                    count,
                } if *count > 0 && plan.fault.is_none() && soap && wants(want, server_sync) => {
                    *count -= 1;
                    plan.fault = Some(code.clone());
                }
                Inject::Http500 { op: want, count }
                    if *count > 0 && !plan.http500 && wants(want, soap) =>
                {
                    *count -= 1;
                    plan.http500 = true;
                }
                Inject::Slow {
                    op: want,
                    delay,
                    count,
                } if *count > 0 && plan.delay.is_none() && wants(want, soap) => {
                    *count -= 1;
                    plan.delay = Some(*delay);
                }
                Inject::TruncateUpdateData { k, count }
                    if *count > 0 && plan.truncate.is_none() && op == "GetUpdateData" =>
                {
                    *count -= 1;
                    plan.truncate = Some(*k);
                }
                Inject::MalformedXml { op: want, count }
                    if *count > 0 && !plan.malformed && soap && wants(want, true) =>
                {
                    *count -= 1;
                    plan.malformed = true;
                }
                _ => {}
            }
        }
        st.injections.retain(Inject::pending);
        plan
    }
}

/// Cut `s` to at most `max` bytes, at a character boundary.
fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

impl Inject {
    /// Whether a queued switch still has uses left.
    fn pending(&self) -> bool {
        match self {
            Inject::Fault { count, .. }
            | Inject::Http500 { count, .. }
            | Inject::Slow { count, .. }
            | Inject::TruncateUpdateData { count, .. }
            | Inject::MalformedXml { count, .. }
            | Inject::CorruptContent { count, .. }
            | Inject::TruncateContent { count, .. } => *count > 0,
            Inject::InvalidateCookies | Inject::WithholdContent { .. } => false,
        }
    }
}

impl State {
    /// Bump the change counter; returns the new value (the change mark of this change).
    fn bump(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn push_plain(&mut self, base: &Base, n: usize, change: u64) {
        let first = self.plain.len();
        self.plain.reserve(n);
        self.plain_index.reserve(n);
        for i in first..first + n {
            self.plain.push(change);
            self.plain_index.insert(base.id(Entity::Plain(i)), i);
        }
    }

    fn new_group(&mut self, base: &Base, name: &str, parent: Uuid, change: u64) -> Uuid {
        let id = base.derive(catalog::TAG_GROUP, self.next_group);
        self.next_group += 1;
        self.groups.push((
            TargetGroup {
                id,
                parent: Some(parent),
                name: name.into(),
                is_builtin: false,
            },
            change,
        ));
        id
    }

    fn new_deployment(
        &mut self,
        base: &Base,
        revision: RevisionId,
        group: Uuid,
        action: DeploymentAction,
        go_live_time: String,
    ) -> Deployment {
        let deployment_id = base.derive(catalog::TAG_DEPLOYMENT, self.next_deployment);
        self.next_deployment += 1;
        Deployment {
            deployment_id,
            revision,
            action,
            admin_name: Some("lab-admin".into()),
            deadline: None,
            is_assigned: action == DeploymentAction::Install,
            go_live_time,
            target_group: group,
            download_priority: 1,
        }
    }

    /// The entity holding this revision, if the catalog has it.
    fn entity(&self, base: &Base, id: RevisionId) -> Option<Entity> {
        let e = base.fixed(&id.update_id).or_else(|| {
            self.plain_index
                .get(&id.update_id)
                .map(|i| Entity::Plain(*i))
        })?;
        e.revisions().contains(&id.revision).then_some(e)
    }

    /// Change mark of an entity.
    fn changed(&self, e: Entity) -> u64 {
        match e {
            Entity::Plain(i) => self.plain.get(i).copied().unwrap_or(INITIAL_CHANGE),
            _ => INITIAL_CHANGE,
        }
    }

    /// Whether a session cookie is known and unexpired.
    fn cookie_ok(&self, encrypted_data: &str) -> bool {
        self.cookies
            .get(encrypted_data)
            .is_some_and(|exp| Instant::now() < *exp)
    }
}

#[cfg(test)]
mod content_tests;
#[cfg(test)]
mod tests;
