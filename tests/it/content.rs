//! The content cache end to end: a lab upstream serving files over HTTP, the replica's sync
//! prefetching them, `serve` handing them to clients, and `verify` — all over real sockets
//! and real files.

use crate::support::{self, replica, Setup};
use outpost::lab::Inject;
use outpost::model::{Sha1Digest, UpdateFile};
use outpost::store::{ContentState, Wanted};
use sha1::{Digest as _, Sha1};
use std::path::PathBuf;
use std::time::Duration;

/// Where the cache keeps a file's bytes (cacache's layout; pinned by a unit test).
fn cached_path(s: &Setup, sha1: &Sha1Digest) -> PathBuf {
    let hex = sha1.to_hex();
    s.data_dir()
        .join("content/content-v2/sha1")
        .join(&hex[0..2])
        .join(&hex[2..4])
        .join(&hex[4..])
}

fn verified(s: &Setup) -> Vec<UpdateFile> {
    s.store()
        .content_in_state(ContentState::Verified)
        .expect("index")
        .into_iter()
        .map(|e| e.file)
        .collect()
}

fn sha1_of(bytes: &[u8]) -> [u8; 20] {
    Sha1::digest(bytes).into()
}

/// Make a cached file writable and flip one of its bytes in place.
fn flip_byte(path: &PathBuf, at: usize) {
    let mut perms = std::fs::metadata(path).expect("cached file").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).expect("chmod");
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at] ^= 0x01;
    std::fs::write(path, &bytes).expect("write");
}

async fn get(url: &str) -> reqwest::Result<(reqwest::StatusCode, bytes::Bytes)> {
    let resp = reqwest::get(url).await?;
    let status = resp.status();
    Ok((status, resp.bytes().await?))
}

#[tokio::test]
async fn approved_policy_prefetches_each_approved_file_once_and_verify_passes() {
    let s = replica(20, "approved", "").await;
    let outcome = s.sync_all().await.expect("sync");
    let report = outcome.content.expect("content phase ran");
    assert!(report.failed.is_empty(), "{:?}", report.failed);

    let cached = verified(&s);
    let counts = s.store().counts().unwrap();
    assert_eq!(cached.len() as u64, counts.approved_files);
    assert!(!cached.is_empty());
    let names: Vec<_> = cached.iter().map(|f| f.name.as_str()).collect();
    for child in [
        "outpost-lab-bundle-part1.cab",
        "outpost-lab-bundle-part2.cab",
    ] {
        assert!(
            names.contains(&child),
            "bundle children of the approved bundle (nested one included) are prefetched: {names:?}"
        );
    }
    for f in &cached {
        let served = s.lab.lab.content_served(&f.sha1);
        assert_eq!(served.gets, 1, "{} fetched once", f.name);
        let bytes = std::fs::read(cached_path(&s, &f.sha1)).expect("in the cache");
        assert_eq!(sha1_of(&bytes), f.sha1.0, "{}", f.name);
    }
    // Nothing but the approved files crossed the wire.
    let all_gets: usize = s
        .store()
        .content_wanted(Wanted::All)
        .unwrap()
        .iter()
        .map(|f| s.lab.lab.content_served(&f.sha1).requests)
        .sum();
    assert_eq!(all_gets, 0, "files nobody approved were not fetched");
    assert!(s
        .store()
        .content_wanted(Wanted::Approved)
        .unwrap()
        .is_empty());

    let status = s.status();
    assert_eq!(status.content.files, cached.len() as u64);
    assert_eq!(
        status.content.bytes,
        cached.iter().map(|f| f.size).sum::<u64>()
    );
    assert_eq!(status.content.missing, 0);

    // A second pass fetches nothing again.
    let again = s.sync_all().await.expect("second sync");
    assert_eq!(again.content.expect("content phase").fetched, 0);
    for f in &cached {
        assert_eq!(s.lab.lab.content_served(&f.sha1).gets, 1);
    }

    let out = s.outpost(&["verify"]).await;
    assert!(out.status.success(), "verify: {}", support::reason(&out));
}

#[tokio::test]
async fn wrong_bytes_from_the_upstream_are_never_stored_or_served_and_are_retried() {
    let s = replica(5, "approved", "").await;
    s.sync().await.expect("metadata");
    let wanted = s.store().content_wanted(Wanted::Approved).unwrap();
    let target = wanted.first().expect("an approved file").clone();
    s.lab.lab.inject(Inject::CorruptContent {
        sha1: Some(target.sha1),
        count: 2,
    });

    let err = s.sync_all().await.expect_err("the content phase fails");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("content") && msg.contains("do not match"),
        "{msg}"
    );
    assert!(!cached_path(&s, &target.sha1).exists(), "never stored");
    assert_eq!(s.status().content.digest_mismatches, 1, "counted");
    assert_eq!(s.status().last_sync.ok, Some(false));
    assert_eq!(s.status().last_sync.phase.as_deref(), Some("content"));

    // A client asking meanwhile fetches again, gets the bad bytes streamed — and the
    // connection cut before the end, so it never holds the whole bad file.
    let served = s.serve().await;
    let url = format!("{}{}", served.url, target.content_path());
    // An Err is the connection aborted mid-body.
    if let Ok((status, body)) = get(&url).await {
        assert!(
            !status.is_success() || body.len() as u64 != target.size,
            "a complete body of bad bytes was served"
        );
    }
    assert_eq!(s.status().content.digest_mismatches, 2);

    // The switch is used up: the next attempt stores the right bytes.
    let outcome = s.sync_all().await.expect("retried and fetched");
    assert_eq!(
        outcome.content.expect("content phase").fetched,
        1,
        "only the bad one was left"
    );
    let bytes = std::fs::read(cached_path(&s, &target.sha1)).expect("cached now");
    assert_eq!(sha1_of(&bytes), target.sha1.0);
    let (status, body) = get(&url).await.expect("served");
    assert!(status.is_success());
    assert_eq!(sha1_of(&body), target.sha1.0);
    served.stop().await;
}

#[tokio::test]
async fn a_truncated_download_is_resumed_with_a_range_and_verified() {
    let s = replica(3, "on-demand", "").await;
    let (_, big) = s.lab.lab.add_update_with_file(3 << 20);
    s.sync().await.expect("metadata");
    s.lab.lab.inject(Inject::TruncateContent {
        sha1: Some(big.sha1),
        after: 1 << 20,
        count: 1,
    });
    let served = s.serve().await;
    let (status, body) = get(&format!("{}{}", served.url, big.content_path()))
        .await
        .expect("the client gets the whole file");
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(sha1_of(&body), big.sha1.0);
    let up = s.lab.lab.content_served(&big.sha1);
    assert_eq!(up.gets, 2, "one cut answer, one resumed");
    assert_eq!(
        up.body_bytes, big.size,
        "the resumed GET asked only for the rest"
    );
    served.stop().await;
    assert!(cached_path(&s, &big.sha1).exists());
}

#[tokio::test]
async fn a_flipped_byte_on_disk_fails_verify_is_never_served_and_repair_fixes_it() {
    let s = replica(5, "approved", "").await;
    s.sync_all().await.expect("sync");
    let file = verified(&s)
        .into_iter()
        .max_by_key(|f| f.size)
        .expect("a cached file");
    let path = cached_path(&s, &file.sha1);
    flip_byte(&path, (file.size / 2) as usize);

    let out = s.outpost(&["verify"]).await;
    assert_eq!(out.status.code(), Some(1), "verify finds the bad file");
    assert!(
        support::reason(&out).contains("verify --repair"),
        "{}",
        support::reason(&out)
    );
    assert_eq!(s.status().content.corrupt_quarantined, 1);
    let out = s.outpost(&["verify"]).await;
    assert_eq!(out.status.code(), Some(1), "still bad until repaired");

    // In between, a client gets the right bytes (fetched again), never the bad ones.
    let served = s.serve().await;
    let (status, body) = get(&format!("{}{}", served.url, file.content_path()))
        .await
        .expect("served");
    assert!(status.is_success());
    assert_eq!(sha1_of(&body), file.sha1.0);
    served.stop().await;

    // Flip it again, then repair.
    flip_byte(&path, 0);
    let out = s.outpost(&["verify", "--repair"]).await;
    assert!(out.status.success(), "repair: {}", support::reason(&out));
    assert_eq!(s.status().content.corrupt_quarantined, 0);
    let bytes = std::fs::read(&path).expect("repaired file");
    assert_eq!(sha1_of(&bytes), file.sha1.0);
    let out = s.outpost(&["verify"]).await;
    assert!(out.status.success(), "all good after repair");
}

#[tokio::test]
async fn twenty_clients_missing_one_big_file_share_one_upstream_download() {
    let s = replica(3, "on-demand", "").await;
    let (_, big) = s.lab.lab.add_update_with_file(20 << 20);
    s.sync().await.expect("metadata");
    // Slow enough that every client arrives while the download runs.
    s.lab.lab.set_content_rate(Some(40 << 20));
    let served = s.serve().await;
    let url = format!("{}{}", served.url, big.content_path());

    // The first client gives up early: the download must go on for the others.
    let quitter = {
        let url = url.clone();
        tokio::spawn(async move {
            let mut resp = reqwest::get(&url).await.expect("first client");
            let _ = resp.chunk().await;
        })
    };
    let clients: Vec<_> = (0..19)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { get(&url).await })
        })
        .collect();
    quitter.await.expect("quitter");
    for c in clients {
        let (status, body) = tokio::time::timeout(Duration::from_secs(120), c)
            .await
            .expect("a client hung")
            .expect("client task")
            .expect("download");
        assert_eq!(status, reqwest::StatusCode::OK);
        assert_eq!(sha1_of(&body), big.sha1.0, "a client got other bytes");
    }
    let up = s.lab.lab.content_served(&big.sha1);
    assert_eq!(up.gets, 1, "one upstream GET for 20 clients");
    assert_eq!(up.body_bytes, big.size);
    served.stop().await;
}

#[tokio::test]
async fn eviction_keeps_the_cap_and_spares_approved_content() {
    // Cap below what "all" wants: unapproved files go first, approved ones stay.
    let s = replica(30, "approved", "max_cache_size = \"600KiB\"\n").await;
    s.sync_all().await.expect("approved prefetch");
    let approved = verified(&s);
    let approved_bytes: u64 = approved.iter().map(|f| f.size).sum();
    assert!(
        approved_bytes < 600 << 10,
        "the test needs room for the approved set"
    );

    // Clients pull every other file through the replica, on demand.
    let served = s.serve().await;
    let others = s.store().content_wanted(Wanted::All).unwrap();
    assert!(others.iter().map(|f| f.size).sum::<u64>() > 600 << 10);
    for f in &others {
        let (status, body) = get(&format!("{}{}", served.url, f.content_path()))
            .await
            .expect("served");
        assert!(status.is_success());
        assert_eq!(sha1_of(&body), f.sha1.0);
        let status = s.status();
        assert!(
            status.content.bytes <= 600 << 10,
            "over the cap: {}",
            status.content.bytes
        );
    }
    served.stop().await;
    let status = s.status();
    assert!(status.content.evictions > 0);
    for f in &approved {
        assert!(
            cached_path(&s, &f.sha1).exists(),
            "approved {} was evicted",
            f.name
        );
    }
    let files = std::fs::read_dir(s.data_dir().join("content/content-v2/sha1"))
        .expect("cache dir")
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .count();
    assert_eq!(
        files as u64, status.content.files,
        "evicted files are gone from disk"
    );
}

#[tokio::test]
async fn a_file_the_upstream_lacks_is_requested_with_download_files_and_fetched_next_pass() {
    let s = replica(3, "approved", "").await;
    s.sync().await.expect("metadata");
    let target = s.store().content_wanted(Wanted::Approved).unwrap()[0].clone();
    s.lab.lab.withhold_content(target.sha1);
    let err = s.sync_all().await.expect_err("not there yet");
    assert!(format!("{err:#}").contains("DownloadFiles"), "{err:#}");
    assert_eq!(s.lab.lab.download_files_requests(), vec![target.sha1]);
    assert!(!cached_path(&s, &target.sha1).exists());
    assert!(s.status().content.missing >= 1);

    s.sync_all().await.expect("the upstream has it now");
    assert!(cached_path(&s, &target.sha1).exists());
    assert_eq!(s.status().content.missing, 0);
}

#[tokio::test]
async fn the_bandwidth_limit_bounds_download_speed() {
    // 512 KiB/s for 1.5 MiB: at least ~2 s even with a full one-second burst.
    let s = replica(2, "on-demand", "bandwidth_limit = \"512KiB\"\n").await;
    let (_, file) = s.lab.lab.add_update_with_file(1536 << 10);
    s.sync().await.expect("metadata");
    let served = s.serve().await;
    let started = std::time::Instant::now();
    let (status, body) = get(&format!("{}{}", served.url, file.content_path()))
        .await
        .expect("served");
    assert!(status.is_success());
    assert_eq!(sha1_of(&body), file.sha1.0);
    assert!(
        started.elapsed() >= Duration::from_millis(1800),
        "1.5 MiB at 512 KiB/s came in {:?}",
        started.elapsed()
    );
    served.stop().await;
}

#[tokio::test]
async fn outpost_serve_stops_cleanly_on_sigterm() {
    let s = replica(3, "all", "").await;
    s.sync_all().await.expect("sync");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = std::fs::read_to_string(&s.config_path).unwrap().replace(
        "\nlisten = \"127.0.0.1:0\"",
        &format!("\nlisten = \"127.0.0.1:{port}\""),
    );
    std::fs::write(&s.config_path, config).unwrap();
    let mut child = s.spawn_outpost(&["serve"]);
    let file = verified(&s).into_iter().next().expect("a cached file");
    let url = format!("http://127.0.0.1:{port}{}", file.content_path());
    let mut body = None;
    for _ in 0..200 {
        if let Ok((status, b)) = get(&url).await {
            assert!(status.is_success());
            body = Some(b);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sha1_of(&body.expect("served")), file.sha1.0);
    support::sigterm(&child);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("serve stops")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn a_killed_sync_resumes_its_download_where_it_stopped() {
    let s = replica(2, "all", "").await;
    let (_, big) = s.lab.lab.add_update_with_file(12 << 20);
    s.sync().await.expect("metadata");
    s.lab.lab.set_content_rate(Some(3 << 20));
    let mut child = s.spawn_outpost(&["sync"]);
    let partial = s
        .data_dir()
        .join("content-partial")
        .join(big.sha1.to_hex_upper());
    let mut had = 0;
    for _ in 0..400 {
        had = std::fs::metadata(&partial).map_or(0, |m| m.len());
        if had >= 3 << 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        had >= 3 << 20,
        "the download did not get going ({had} bytes)"
    );
    child.kill().await.expect("SIGKILL");

    s.lab.lab.set_content_rate(None);
    let out = s.outpost(&["sync"]).await;
    assert!(out.status.success(), "{}", support::reason(&out));
    let bytes = std::fs::read(cached_path(&s, &big.sha1)).expect("cached");
    assert_eq!(sha1_of(&bytes), big.sha1.0);
    let up = s.lab.lab.content_served(&big.sha1);
    assert_eq!(up.gets, 2);
    assert!(
        up.body_bytes < big.size + big.size / 2,
        "the second sync started over: {} bytes sent for a {}-byte file",
        up.body_bytes,
        big.size
    );
    assert!(!partial.exists(), "the partial file is gone once published");
}
