//! The real `outpost` binary, driven as operators and acceptance checks drive it.

use crate::support::{reason, run_outpost, setup, wait_for_calls};
use outpost::lab::Inject;

#[tokio::test]
async fn version_is_printed() {
    let out = run_outpost(&["--version"]).await;
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn a_bad_config_key_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[upstream]\nurl = \"http://127.0.0.1:1\"\nrate = 5\n",
    )
    .unwrap();
    let p = path.to_string_lossy();
    for cmd in ["check-config", "sync", "status"] {
        let out = run_outpost(&[cmd, "--config", &p]).await;
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        assert!(
            reason(&out).contains("upstream.rate"),
            "{cmd}: {}",
            reason(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_then_status_json_has_every_contract_field() {
    let s = setup(15).await;
    let check = s.outpost(&["check-config"]).await;
    assert!(check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains(&s.lab.url));

    let out = s.outpost(&["sync", "--no-content"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = s.outpost(&["status", "--json"]).await;
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status is JSON");
    for key in [
        "server_id",
        "upstream",
        "last_sync",
        "updates",
        "categories",
        "target_groups",
        "approvals",
        "computers",
        "events_pending_rollup",
        "content",
        "warnings",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for key in ["files", "bytes", "missing", "corrupt_quarantined"] {
        assert!(v["content"].get(key).is_some(), "missing content.{key}");
    }
    for key in ["started", "finished", "ok", "error"] {
        assert!(v["last_sync"].get(key).is_some(), "missing last_sync.{key}");
    }
    assert_eq!(v["last_sync"]["ok"], true);
    assert_eq!(v["updates"], s.lab.lab.counts().updates);
    // The server id is generated once and kept.
    let again = s.outpost(&["status", "--json"]).await;
    let w: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["server_id"], w["server_id"]);
    // Text status works too.
    let text = s.outpost(&["status"]).await;
    assert!(String::from_utf8_lossy(&text.stdout).contains("last sync        ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_fault_fails_sync_with_one_line_naming_phase_and_cause() {
    let s = setup(5).await;
    s.lab.lab.inject(Inject::Fault {
        op: Some("GetRevisionIdList".into()),
        code: "InternalServerError".into(),
        count: 100,
    });
    let out = s.outpost(&["sync"]).await;
    assert!(!out.status.success());
    let line = reason(&out);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains("categories"), "{line}");
    assert!(line.contains("InternalServerError"), "{line}");

    let st = s.outpost(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["last_sync"]["ok"], false);
    assert!(v["last_sync"]["error"]
        .as_str()
        .unwrap_or("")
        .contains("InternalServerError"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_works_while_another_process_syncs() {
    let s = setup(400).await;
    s.lab.lab.inject(Inject::Slow {
        op: Some("GetUpdateData".into()),
        delay: std::time::Duration::from_millis(30),
        count: 1000,
    });
    let mut child = s.spawn_outpost(&["sync"]);
    let mut reads = 0;
    loop {
        let out = s.outpost(&["status", "--json"]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON while syncing");
        reads += 1;
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success());
            break;
        }
    }
    assert!(reads >= 2, "status ran while the sync ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_end_to_end() {
    let out = run_outpost(&["demo", "--updates", "40"]).await;
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("incremental sync"), "{text}");
    assert!(!text.contains("MISMATCH"), "{text}");
}

/// Start `outpost sync` on a catalog that grew by `added` updates with slow answers, and
/// return the child once the update phase is fetching.
async fn sync_in_flight(s: &crate::support::Setup, added: usize) -> tokio::process::Child {
    let lab = &s.lab.lab;
    lab.add_updates(added);
    lab.inject(Inject::Slow {
        op: Some("GetUpdateData".into()),
        delay: std::time::Duration::from_millis(50),
        count: 100_000,
    });
    lab.clear_requests();
    let child = s.spawn_outpost(&["sync"]);
    wait_for_calls(lab, "GetUpdateData", 6).await;
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sync_leaves_the_last_good_state_and_the_next_one_completes() {
    let s = setup(20).await;
    assert!(s.outpost(&["sync"]).await.status.success());
    let before = s.status();
    let mut child = sync_in_flight(&s, 2_000).await;
    // Kill once some batches are committed as staged (the writer groups its commits).
    for _ in 0..400 {
        if s.status().staged_revisions > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("reaped");

    let after = s.status();
    assert_eq!(
        after.updates, before.updates,
        "nothing of the killed phase is visible"
    );
    assert_eq!(after.approvals, before.approvals);
    assert!(
        after.staged_revisions > 0,
        "fetched batches were kept for the next pass"
    );

    s.lab.lab.clear_injections();
    s.lab.lab.clear_requests();
    let out = s.outpost(&["sync"]).await;
    assert!(out.status.success(), "{}", reason(&out));
    let st = s.status();
    assert_eq!(st.updates, s.lab.lab.counts().updates as u64);
    assert_eq!(st.staged_revisions, 0);
    // The next pass resumed: it did not fetch again what the killed one had staged.
    let refetched: usize = s
        .lab
        .lab
        .requests()
        .iter()
        .map(|r| r.update_ids.len())
        .sum();
    assert!(refetched < 2_000, "{refetched} revisions fetched again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_sync_at_a_safe_point_with_a_non_zero_exit() {
    let s = setup(20).await;
    assert!(s.outpost(&["sync"]).await.status.success());
    let before = s.status();
    let child = sync_in_flight(&s, 2_000).await;
    crate::support::sigterm(&child);
    let out = child.wait_with_output().await.expect("sync exits");
    assert!(!out.status.success());
    assert!(reason(&out).contains("cancelled"), "{}", reason(&out));
    let after = s.status();
    assert_eq!(after.updates, before.updates);
    assert_eq!(after.last_sync.ok, Some(false));
    assert_eq!(after.last_sync.phase.as_deref(), Some("updates"));
}

#[tokio::test]
async fn the_config_path_may_come_from_outpost_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outpost.toml");
    std::fs::write(&path, "[upstream]\nurl = \"http://127.0.0.1:1\"\n").unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("check-config")
        .env("OUTPOST_CONFIG", &path)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("http://127.0.0.1:1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_on_the_same_data_dir_refuses_in_one_line() {
    let s = setup(20).await;
    assert!(s.outpost(&["sync"]).await.status.success());
    let mut first = sync_in_flight(&s, 1_000).await;
    let second = s.outpost(&["sync"]).await;
    assert!(!second.status.success());
    let line = reason(&second);
    assert!(line.contains("another sync is running"), "{line}");
    assert!(line.contains("POST /sync"), "{line}");
    first.start_kill().expect("stop the first sync");
    first.wait().await.expect("reaped");
}
