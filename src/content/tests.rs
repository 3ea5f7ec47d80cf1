//! The cache against an in-memory origin whose answers a test can spoil: wrong bytes, cut
//! connections, ignored ranges, 404s, slow bodies.

use super::*;
use crate::model::{
    Deployment, DeploymentAction, Prerequisite, RevisionId, Sha256Digest, TargetGroup, UpdateDoc,
    UpdateKind, ALL_COMPUTERS,
};
use crate::store::{Anchor, DeploymentChanges, Document, Fetched, Wanted};
use futures_util::StreamExt;
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Default)]
struct Fake {
    files: Mutex<HashMap<Sha1Digest, Vec<u8>>>,
    /// Every GET: digest and the offset asked for.
    gets: Mutex<Vec<(Sha1Digest, u64)>>,
    /// Answers left to send with one byte flipped.
    corrupt: AtomicUsize,
    /// Answers left to cut after this many bytes.
    cut: Mutex<Option<(usize, usize)>>,
    ignore_range: std::sync::atomic::AtomicBool,
    missing: Mutex<HashSet<Sha1Digest>>,
    requested: Mutex<Vec<Sha1Digest>>,
    /// Pause between 64 KiB chunks.
    delay: Mutex<Option<Duration>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap()
}

impl Fake {
    fn gets_of(&self, sha1: &Sha1Digest) -> Vec<u64> {
        lock(&self.gets)
            .iter()
            .filter(|(s, _)| s == sha1)
            .map(|(_, o)| *o)
            .collect()
    }
}

impl Origin for Arc<Fake> {
    fn get(
        &self,
        file: &UpdateFile,
        offset: u64,
    ) -> BoxFuture<'static, Result<OriginBody, OriginError>> {
        let fake = self.clone();
        let sha1 = file.sha1;
        Box::pin(async move {
            lock(&fake.gets).push((sha1, offset));
            if lock(&fake.missing).contains(&sha1) {
                return Err(OriginError::NotFound);
            }
            let mut bytes = lock(&fake.files)
                .get(&sha1)
                .cloned()
                .ok_or(OriginError::NotFound)?;
            let start = if fake.ignore_range.load(Ordering::SeqCst) {
                0
            } else {
                offset as usize
            };
            if fake
                .corrupt
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0x55;
            }
            let mut body = bytes.split_off(start.min(bytes.len()));
            let mut cut = false;
            if let Some((count, after)) = lock(&fake.cut).as_mut() {
                if *count > 0 {
                    *count -= 1;
                    body.truncate(*after);
                    cut = true;
                }
            }
            let delay = *lock(&fake.delay);
            let chunks: Vec<Bytes> = body.chunks(64 << 10).map(Bytes::copy_from_slice).collect();
            let stream = futures_util::stream::iter(chunks)
                .then(move |c| async move {
                    if let Some(d) = delay {
                        tokio::time::sleep(d).await;
                    }
                    Ok(c)
                })
                .chain(futures_util::stream::iter(cut.then(|| {
                    Err(OriginError::Failed {
                        message: "connection reset".into(),
                        retryable: true,
                    })
                })));
            Ok(OriginBody {
                start: start as u64,
                stream: stream.boxed(),
            })
        })
    }

    fn request(&self, files: Vec<Sha1Digest>) -> BoxFuture<'static, Result<(), OriginError>> {
        let fake = self.clone();
        Box::pin(async move {
            lock(&fake.requested).extend(files);
            Ok(())
        })
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
    store: Store,
    fake: Arc<Fake>,
    files: Vec<(UpdateFile, Vec<u8>)>,
}

fn bytes_of(n: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + n * 7 + i / 251) as u8).collect()
}

fn meta(n: usize, bytes: &[u8]) -> UpdateFile {
    UpdateFile {
        sha1: Sha1Digest(Sha1::digest(bytes).into()),
        sha256: Some(Sha256Digest(Sha256::digest(bytes).into())),
        size: bytes.len() as u64,
        name: format!("file{n}.cab"),
        patching_type: None,
        modified: None,
    }
}

/// A store whose live metadata names one file per entry of `sizes`; the first `approved`
/// of them belong to approved updates.
fn fixture(sizes: &[usize], approved: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let store = Store::open(&data_dir).unwrap();
    let fake = Arc::new(Fake::default());
    let mut files = Vec::new();
    let mut docs = Vec::new();
    for (n, &len) in sizes.iter().enumerate() {
        let bytes = bytes_of(n, len);
        let file = meta(n, &bytes);
        lock(&fake.files).insert(file.sha1, bytes.clone());
        docs.push(UpdateDoc {
            id: RevisionId::new(Uuid::from_u128(100 + n as u128), 1),
            kind: UpdateKind::Software,
            title: None,
            expired: false,
            eula_id: None,
            prerequisites: vec![Prerequisite {
                update_id: Uuid::from_u128(1),
                group: Some(0),
                is_category: true,
            }],
            bundled: vec![],
            superseded: vec![],
            files: vec![file.clone()],
        });
        files.push((file, bytes));
    }
    let document = Document::encode("<x/>");
    let batch: Vec<_> = docs
        .iter()
        .map(|doc| Fetched {
            doc,
            document: &document,
            compressed: false,
        })
        .collect();
    store.stage(&batch, &[]).unwrap();
    store.commit_phase(Anchor::UpdateList, "a").unwrap();
    let deployments: Vec<_> = docs[..approved]
        .iter()
        .enumerate()
        .map(|(i, d)| Deployment {
            deployment_id: Uuid::from_u128(900 + i as u128),
            revision: d.id,
            action: DeploymentAction::Install,
            admin_name: None,
            deadline: None,
            is_assigned: true,
            go_live_time: "2026-01-01T00:00:00Z".into(),
            target_group: ALL_COMPUTERS,
            download_priority: 1,
        })
        .collect();
    store
        .apply_deployments(
            &DeploymentChanges {
                groups: &[TargetGroup {
                    id: ALL_COMPUTERS,
                    parent: None,
                    name: "All Computers".into(),
                    is_builtin: true,
                }],
                deployments: &deployments,
                dead: &[],
                hidden: &[],
                accepted_eulas: &[],
            },
            "d",
        )
        .unwrap();
    Fixture {
        _dir: dir,
        data_dir,
        store,
        fake,
        files,
    }
}

impl Fixture {
    fn content(&self, max_cache_size: u64) -> Content {
        Content::new(
            self.store.clone(),
            Arc::new(self.fake.clone()),
            Options {
                data_dir: self.data_dir.clone(),
                max_cache_size,
                download_concurrency: 4,
                bandwidth_limit: 0,
                retry: Retry {
                    attempts: 4,
                    base: Duration::from_millis(1),
                    max: Duration::from_millis(5),
                },
            },
        )
    }

    fn cached(&self, i: usize) -> Option<Vec<u8>> {
        std::fs::read(self.cached_path(i)).ok()
    }

    fn state(&self, i: usize) -> store::ContentState {
        self.store
            .content_entry(&self.files[i].0.sha1)
            .unwrap()
            .unwrap()
            .state
    }

    fn cached_path(&self, i: usize) -> PathBuf {
        cache::path(&self.data_dir.join(CACHE_DIR), &self.files[i].0.sha1)
    }

    /// Flip one bit of file `i`'s cached bytes in place (cacache leaves them read-only).
    fn flip_cached_byte(&self, i: usize, at: usize, bit: u8) {
        let path = self.cached_path(i);
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&path, perms).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at] ^= bit;
        std::fs::write(&path, &bytes).unwrap();
    }

    /// A partial file of file `i` as an earlier run would have left it.
    fn leave_partial(&self, i: usize, bytes: &[u8]) {
        std::fs::create_dir_all(self.data_dir.join(PARTIAL_DIR)).unwrap();
        std::fs::write(self.partial_path(i), bytes).unwrap();
    }

    fn partial_path(&self, i: usize) -> PathBuf {
        self.data_dir
            .join(PARTIAL_DIR)
            .join(self.files[i].0.sha1.to_hex_upper())
    }

    /// Wait (bounded) for a background fetch of file `i` to publish it.
    async fn wait_verified(&self, i: usize) {
        for _ in 0..200 {
            if self.state(i) == store::ContentState::Verified {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

struct Quiet;

impl PrefetchProgress for Quiet {
    fn planned(&self, _: usize, _: u64) {}
    fn done(&self, _: &UpdateFile) {}
}

async fn read_all(source: Source) -> std::io::Result<Vec<u8>> {
    let len = source.file.size;
    let mut stream = source.stream(0, len - 1);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

#[tokio::test]
async fn ensure_downloads_verifies_and_publishes_once() {
    let fx = fixture(&[300_000], 1);
    let content = fx.content(u64::MAX);
    let file = &fx.files[0].0;
    content.ensure(file).await.unwrap();
    content.ensure(file).await.unwrap();
    assert_eq!(fx.fake.gets_of(&file.sha1), vec![0]);
    assert_eq!(fx.cached(0).as_deref(), Some(&fx.files[0].1[..]));
    assert_eq!(fx.state(0), store::ContentState::Verified);
    assert_eq!(fx.store.content_counts().unwrap().bytes, 300_000);
    assert!(!fx.partial_path(0).exists());
}

#[tokio::test]
async fn wrong_bytes_are_never_stored_and_are_counted_then_retried() {
    let fx = fixture(&[200_000], 0);
    let content = fx.content(u64::MAX);
    let file = &fx.files[0].0;
    fx.fake.corrupt.store(1, Ordering::SeqCst);
    let err = content.ensure(file).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::DigestMismatch {
                check: "SHA-256",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(fx.cached(0), None);
    assert_eq!(fx.state(0), store::ContentState::Missing);
    assert_eq!(fx.store.counter(COUNTER_MISMATCHES).unwrap(), 1);
    assert!(
        content.open(&file.sha1).await.unwrap().is_some(),
        "a later request retries"
    );
    content.ensure(file).await.unwrap();
    assert_eq!(fx.cached(0).as_deref(), Some(&fx.files[0].1[..]));
}

#[tokio::test]
async fn a_cut_download_resumes_with_a_range() {
    let fx = fixture(&[500_000], 0);
    let content = fx.content(u64::MAX);
    let file = &fx.files[0].0;
    *lock(&fx.fake.cut) = Some((2, 150_000));
    content.ensure(file).await.unwrap();
    assert_eq!(fx.fake.gets_of(&file.sha1), vec![0, 150_000, 300_000]);
    assert_eq!(fx.cached(0).as_deref(), Some(&fx.files[0].1[..]));
}

#[tokio::test]
async fn an_origin_ignoring_the_range_starts_over_cleanly() {
    let fx = fixture(&[500_000], 0);
    let content = fx.content(u64::MAX);
    let file = &fx.files[0].0;
    *lock(&fx.fake.cut) = Some((1, 100_000));
    fx.fake.ignore_range.store(true, Ordering::SeqCst);
    content.ensure(file).await.unwrap();
    assert_eq!(fx.fake.gets_of(&file.sha1), vec![0, 100_000]);
    assert_eq!(fx.cached(0).as_deref(), Some(&fx.files[0].1[..]));
}

#[tokio::test]
async fn a_file_the_origin_lacks_is_requested_with_download_files() {
    let fx = fixture(&[1000], 0);
    let content = fx.content(u64::MAX);
    let file = &fx.files[0].0;
    lock(&fx.fake.missing).insert(file.sha1);
    let err = content.ensure(file).await.unwrap_err();
    assert!(matches!(err, Error::NotOnUpstream(_)), "{err}");
    assert_eq!(*lock(&fx.fake.requested), vec![file.sha1]);
    lock(&fx.fake.missing).clear();
    content.ensure(file).await.unwrap();
}

#[tokio::test]
async fn concurrent_misses_share_one_download() {
    let fx = fixture(&[2 << 20], 0);
    let content = fx.content(u64::MAX);
    let file = fx.files[0].0.clone();
    *lock(&fx.fake.delay) = Some(Duration::from_millis(1));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (content, file) = (content.clone(), file.clone());
            tokio::spawn(async move {
                if i % 2 == 0 {
                    content.ensure(&file).await.map(|()| None)
                } else {
                    let source = content.open(&file.sha1).await?.unwrap();
                    Ok(Some(read_all(source).await.unwrap()))
                }
            })
        })
        .collect();
    for t in tasks {
        if let Some(bytes) = t.await.unwrap().unwrap() {
            assert!(bytes == fx.files[0].1, "a client got other bytes");
        }
    }
    assert_eq!(fx.fake.gets_of(&file.sha1), vec![0]);
}

#[tokio::test]
async fn a_cancelled_leader_does_not_strand_its_followers() {
    let fx = fixture(&[1 << 20], 0);
    let content = fx.content(u64::MAX);
    let file = fx.files[0].0.clone();
    *lock(&fx.fake.delay) = Some(Duration::from_millis(5));
    let leader = {
        let (content, file) = (content.clone(), file.clone());
        tokio::spawn(async move { content.ensure(&file).await })
    };
    // Let the leader get some bytes in, then follow it and cancel it.
    while content
        .0
        .store
        .content_entry(&file.sha1)
        .unwrap()
        .unwrap()
        .state
        != store::ContentState::Fetching
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    let followers: Vec<_> = (0..5)
        .map(|_| {
            let (content, file) = (content.clone(), file.clone());
            tokio::spawn(async move { content.ensure(&file).await })
        })
        .collect();
    let tail = content.open(&file.sha1).await.unwrap().unwrap();
    assert!(tail.is_live());
    let reader = tokio::spawn(read_all(tail));
    tokio::time::sleep(Duration::from_millis(20)).await;
    leader.abort();
    *lock(&fx.fake.delay) = None;
    for f in followers {
        tokio::time::timeout(Duration::from_secs(30), f)
            .await
            .expect("a follower hung after its leader was cancelled")
            .unwrap()
            .unwrap();
    }
    let got = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the tailing client hung")
        .unwrap()
        .unwrap();
    assert!(got == fx.files[0].1);
    let gets = fx.fake.gets_of(&file.sha1);
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(
        gets[1] > 0,
        "the new leader resumed the partial file: {gets:?}"
    );
}

#[tokio::test]
async fn a_live_tail_of_bad_bytes_ends_in_an_error_before_the_last_byte() {
    let fx = fixture(&[300_000], 0);
    let content = fx.content(u64::MAX);
    let file = fx.files[0].0.clone();
    fx.fake.corrupt.store(1, Ordering::SeqCst);
    let source = content.open(&file.sha1).await.unwrap().unwrap();
    let mut stream = source.stream(0, file.size - 1);
    let mut sent = 0;
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => sent += c.len() as u64,
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the stream must fail");
    assert!(sent < file.size, "the whole file was handed out");
}

#[tokio::test]
async fn unknown_digests_are_not_served() {
    let fx = fixture(&[10], 0);
    let content = fx.content(u64::MAX);
    assert!(content.open(&Sha1Digest([9; 20])).await.unwrap().is_none());
    assert!(lock(&fx.fake.gets).is_empty());
}

#[tokio::test]
async fn eviction_keeps_the_cap_and_takes_unapproved_files_first() {
    // Files 0 and 1 are approved.
    let fx = fixture(&[100_000, 100_000, 100_000, 100_000, 100_000], 2);
    let content = fx.content(350_000);
    for i in [0, 2, 3, 1, 4] {
        content.ensure(&fx.files[i].0).await.unwrap();
        assert!(fx.store.content_counts().unwrap().bytes <= 350_000);
    }
    assert_eq!(fx.state(0), store::ContentState::Verified);
    assert_eq!(fx.state(1), store::ContentState::Verified);
    assert_eq!(fx.state(4), store::ContentState::Verified, "just fetched");
    assert_eq!(fx.cached(2), None);
    assert_eq!(fx.cached(3), None);
    assert_eq!(fx.store.counter(COUNTER_EVICTIONS).unwrap(), 2);
}

#[tokio::test]
async fn a_file_being_served_is_not_evicted() {
    let fx = fixture(&[100_000, 100_000], 0);
    let content = fx.content(150_000);
    content.ensure(&fx.files[0].0).await.unwrap();
    let open = content.open(&fx.files[0].0.sha1).await.unwrap().unwrap();
    content.ensure(&fx.files[1].0).await.unwrap();
    // Over the cap, but the only other file is in use.
    assert_eq!(fx.state(0), store::ContentState::Verified);
    assert_eq!(read_all(open).await.unwrap(), fx.files[0].1);
}

#[tokio::test]
async fn prefetch_follows_the_policy_and_the_cap() {
    let fx = fixture(&[1000, 2000, 3000], 1);
    let content = fx.content(u64::MAX);
    let cancel = CancellationToken::new();
    let report = content
        .prefetch(Wanted::Approved, &Quiet, &cancel)
        .await
        .unwrap();
    assert_eq!((report.wanted, report.fetched, report.bytes), (1, 1, 1000));
    assert!(fx.cached(1).is_none());
    let report = content
        .prefetch(Wanted::All, &Quiet, &cancel)
        .await
        .unwrap();
    assert_eq!((report.wanted, report.fetched), (2, 2));

    let fx = fixture(&[1000, 2000, 3000], 3);
    let content = fx.content(3500);
    let report = content
        .prefetch(Wanted::Approved, &Quiet, &cancel)
        .await
        .unwrap();
    assert_eq!((report.fetched, report.over_budget), (2, 1));
}

#[tokio::test]
async fn verify_quarantines_flipped_bytes_and_repair_refetches_them() {
    let fx = fixture(&[50_000, 60_000], 0);
    let content = fx.content(u64::MAX);
    let cancel = CancellationToken::new();
    for (f, _) in &fx.files {
        content.ensure(f).await.unwrap();
    }
    let report = content.verify(false, &cancel).await.unwrap();
    assert_eq!((report.checked, report.good, report.remaining), (2, 2, 0));

    fx.flip_cached_byte(1, 123, 1);

    let report = content.verify(false, &cancel).await.unwrap();
    assert_eq!((report.bad, report.remaining), (1, 1));
    assert_eq!(fx.state(1), store::ContentState::Quarantined);
    assert_eq!(fx.store.content_counts().unwrap().quarantined, 1);
    let report = content.verify(false, &cancel).await.unwrap();
    assert_eq!((report.bad, report.remaining), (0, 1), "still not repaired");

    let report = content.verify(true, &cancel).await.unwrap();
    assert_eq!((report.repaired, report.remaining), (1, 0));
    assert_eq!(fx.cached(1).unwrap(), fx.files[1].1);
    assert_eq!(fx.store.content_counts().unwrap().quarantined, 0);
}

#[tokio::test]
async fn a_file_changed_on_disk_is_not_served_but_fetched_again() {
    let fx = fixture(&[70_000], 0);
    let content = fx.content(u64::MAX);
    let file = &fx.files[0].0;
    content.ensure(file).await.unwrap();
    // Written later than the verification, so its mtime differs.
    tokio::time::sleep(Duration::from_millis(20)).await;
    fx.flip_cached_byte(0, 0, 1);
    let source = content.open(&file.sha1).await.unwrap().unwrap();
    assert_eq!(read_all(source).await.unwrap(), fx.files[0].1);
    assert_eq!(fx.fake.gets_of(&file.sha1).len(), 2);
}

#[tokio::test]
async fn a_first_whole_file_read_of_bytes_changed_with_the_same_mtime_fails_and_refetches() {
    let fx = fixture(&[600_000], 0);
    let content = fx.content(u64::MAX);
    let file = fx.files[0].0.clone();
    content.ensure(&file).await.unwrap();
    let path = fx.cached_path(0);
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    fx.flip_cached_byte(0, 400_000, 4);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    // The publishing process knows these bytes as good; another process (a restart) does
    // not and hashes its first whole read.
    let restarted = fx.content(u64::MAX);
    let source = restarted.open(&file.sha1).await.unwrap().unwrap();
    assert!(!source.is_live(), "the stamp check cannot see this change");
    let err = read_all(source).await.unwrap_err();
    assert!(err.to_string().contains("verification"), "{err}");
    // Quarantined and fetched again in the background.
    fx.wait_verified(0).await;
    assert_eq!(fx.state(0), store::ContentState::Verified);
    assert_eq!(fx.cached(0).unwrap(), fx.files[0].1);
    assert_eq!(fx.fake.gets_of(&file.sha1).len(), 2);
}

#[tokio::test]
async fn a_file_another_process_is_downloading_is_left_to_it() {
    let fx = fixture(&[5000], 1);
    let content = fx.content(u64::MAX);
    // Another process's lock on the partial file (flock is per open file description).
    fx.leave_partial(0, &[]);
    let other = std::fs::File::open(fx.partial_path(0)).unwrap();
    other.lock().unwrap();
    let report = content
        .prefetch(Wanted::Approved, &Quiet, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!((report.elsewhere, report.failed.len()), (1, 0));
    assert!(lock(&fx.fake.gets).is_empty());
    drop(other);
    let report = content
        .prefetch(Wanted::Approved, &Quiet, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.fetched, 1);
}

#[tokio::test]
async fn a_bad_partial_file_is_discarded_and_fetched_afresh() {
    let fx = fixture(&[400_000], 0);
    let content = fx.content(u64::MAX);
    let file = fx.files[0].0.clone();
    // Left by an earlier run: the right length so far, wrong bytes.
    fx.leave_partial(0, &[0xEE; 150_000]);
    content.ensure(&file).await.unwrap();
    assert_eq!(
        fx.fake.gets_of(&file.sha1),
        vec![150_000, 0],
        "resumed, then fresh"
    );
    assert_eq!(fx.cached(0).unwrap(), fx.files[0].1);
    assert_eq!(fx.store.counter(COUNTER_MISMATCHES).unwrap(), 1);
}

#[tokio::test]
async fn a_tail_of_a_resumed_bad_download_fails_instead_of_mixing_bytes() {
    let fx = fixture(&[400_000], 0);
    let content = fx.content(u64::MAX);
    let file = fx.files[0].0.clone();
    fx.leave_partial(0, &[0xEE; 150_000]);
    let source = content.open(&file.sha1).await.unwrap().unwrap();
    assert!(source.is_live());
    assert!(
        read_all(source).await.is_err(),
        "bytes of the bad flight end in an error"
    );
    // The next request gets the file fetched afresh.
    fx.wait_verified(0).await;
    let source = content.open(&file.sha1).await.unwrap().unwrap();
    assert_eq!(read_all(source).await.unwrap(), fx.files[0].1);
}
