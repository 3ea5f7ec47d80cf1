//! Sync against the lab upstream over real sockets: initial, incremental, failures, cancel,
//! re-auth, malformed answers.

use crate::support::{calls, setup, setup_with, wait_for_calls};
use outpost::lab::{Inject, LabOptions};
use outpost::model::{DeploymentAction, RevisionId, ALL_COMPUTERS};
use std::collections::HashSet;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_sync_holds_exactly_the_lab_catalog() {
    let s = setup(60).await;
    let report = s.sync().await.expect("sync succeeds");
    let want = s.lab.lab.counts();
    let st = s.status();
    assert_eq!(st.updates, want.updates as u64, "updates");
    assert_eq!(st.categories, want.categories as u64, "categories");
    assert_eq!(st.target_groups, want.target_groups as u64, "target groups");
    assert_eq!(st.approvals, want.approvals as u64, "approvals");
    assert_eq!(st.content.metadata_files, want.files as u64, "files");
    assert_eq!(st.staged_revisions, 0);
    assert_eq!(st.last_sync.ok, Some(true));
    assert!(report.bundle_members_fetched > 0 || report.updates_fetched >= want.updates);

    // Every stored document is the lab's document and re-parses.
    let mut docs = 0;
    s.store()
        .for_each_document(|id, xml| {
            let doc = outpost::xml::update::parse(xml).map_err(|e| e.to_string())?;
            docs += 1;
            if doc.id == id {
                Ok(())
            } else {
                Err(format!("{id} stored as {}", doc.id))
            }
        })
        .expect("every document re-parses");
    assert_eq!(docs, want.updates + want.category_revisions);

    // GetUpdateData never asked for more ids than the USS allows, nor twice for one.
    let mut asked = HashSet::new();
    for r in s.lab.lab.requests() {
        assert!(r.update_ids.len() <= 100);
        for id in r.update_ids {
            assert!(asked.insert(id), "{id} fetched twice");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_sync_fetches_only_new_revisions_and_applies_approval_changes() {
    let s = setup(30).await;
    s.sync().await.expect("first sync");
    let lab = &s.lab.lab;
    let revoked = lab
        .deployments()
        .into_iter()
        .find(|d| d.action == DeploymentAction::Install)
        .expect("the lab starts with an Install approval");
    let added = lab.add_updates(4);
    assert!(lab.revoke(revoked.deployment_id));
    let group = lab.add_group("Kiosks", ALL_COMPUTERS);
    let approval = lab.approve(added[0], group, DeploymentAction::Install);
    lab.clear_requests();

    s.sync().await.expect("incremental sync");

    let asked: HashSet<RevisionId> = lab
        .requests()
        .into_iter()
        .flat_map(|r| r.update_ids)
        .collect();
    assert_eq!(
        asked,
        added.iter().copied().collect(),
        "only the new revisions"
    );
    let lists = calls(lab, "GetRevisionIdList");
    assert!(
        lists.iter().all(|r| r.anchor.is_some()),
        "incremental lists carry their anchors"
    );

    let store = s.store();
    let deployments = store.deployments().expect("deployments");
    assert!(
        deployments.iter().all(|d| d.0 != revoked.deployment_id),
        "revoked approval gone"
    );
    assert!(
        deployments.iter().any(|d| d.0 == approval && d.3 == group),
        "new approval present"
    );
    let groups = store.target_groups().expect("groups");
    assert!(
        groups.iter().any(|g| g.id == group && g.name == "Kiosks"),
        "new group present"
    );
    let want = lab.counts();
    let st = s.status();
    assert_eq!(
        (st.updates, st.approvals, st.target_groups),
        (
            want.updates as u64,
            want.approvals as u64,
            want.target_groups as u64
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_failing_mid_way_keeps_the_last_good_state_and_the_next_one_completes() {
    let s = setup(40).await;
    s.sync().await.expect("first sync");
    let before = s.status();
    let lab = &s.lab.lab;
    let added = lab.add_updates(1000); // ten batches
    lab.approve(added[0], ALL_COMPUTERS, DeploymentAction::Install);
    lab.clear_requests();
    // Slow answers let the first batches (already in flight) through; every later call
    // fails past the retry budget.
    lab.inject(Inject::Slow {
        op: Some("GetUpdateData".into()),
        delay: std::time::Duration::from_millis(100),
        count: 4,
    });
    let breaker = {
        let lab = lab.clone();
        tokio::spawn(async move {
            wait_for_calls(&lab, "GetUpdateData", 2).await;
            lab.inject(Inject::Http500 {
                op: Some("GetUpdateData".into()),
                count: 100_000,
            });
        })
    };
    let err = s.sync().await.expect_err("sync fails");
    breaker.await.expect("breaker");
    assert!(format!("{err:#}").contains("updates"), "{err:#}");
    let after = s.status();
    assert_eq!(
        after.updates, before.updates,
        "no partial update phase visible"
    );
    assert_eq!(after.approvals, before.approvals);
    assert_eq!(after.last_sync.ok, Some(false));
    assert_eq!(after.last_sync.phase.as_deref(), Some("updates"));

    lab.clear_injections();
    s.sync().await.expect("next sync succeeds");
    let want = lab.counts();
    let st = s.status();
    assert_eq!(st.updates, want.updates as u64);
    assert_eq!(st.approvals, want.approvals as u64);
    assert_eq!(st.last_sync.ok, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_sync_leaves_the_previous_state_and_resumes_from_staged_rows() {
    let s = setup(20).await;
    s.sync().await.expect("first sync");
    let before = s.status();
    let lab = &s.lab.lab;
    lab.add_updates(300);
    lab.inject(Inject::Slow {
        op: Some("GetUpdateData".into()),
        delay: std::time::Duration::from_millis(200),
        count: 1000,
    });
    lab.clear_requests();
    let cancel = CancellationToken::new();
    let canceller = {
        let cancel = cancel.clone();
        let lab = lab.clone();
        tokio::spawn(async move {
            // Cancel once the update phase is fetching.
            wait_for_calls(&lab, "GetUpdateData", 1).await;
            cancel.cancel();
        })
    };
    let err = s.sync_with(&cancel).await.expect_err("cancelled");
    canceller.await.expect("canceller");
    assert!(format!("{err:#}").contains("cancelled"), "{err:#}");
    let after = s.status();
    assert_eq!(after.updates, before.updates);
    assert_eq!(after.last_sync.ok, Some(false));

    lab.clear_injections();
    s.sync().await.expect("resumed sync");
    assert_eq!(s.status().updates, lab.counts().updates as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_invalidated_mid_sync_is_renewed_and_the_sync_succeeds() {
    let s = setup(30).await;
    let lab = &s.lab.lab;
    lab.inject(Inject::Fault {
        op: Some("GetUpdateData".into()),
        code: "InvalidCookie".into(),
        count: 1,
    });
    s.sync().await.expect("sync succeeds after re-auth");
    let cookies = calls(lab, "GetCookie").len();
    assert!(
        cookies >= 2,
        "a new cookie was requested ({cookies} GetCookie calls)"
    );
    assert_eq!(s.status().updates, lab.counts().updates as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_upstream_xml_is_a_clean_error_and_nothing_is_stored() {
    let s = setup(10).await;
    s.lab.lab.inject(Inject::MalformedXml {
        op: Some("GetUpdateData".into()),
        count: 10_000,
    });
    let err = s.sync().await.expect_err("sync fails");
    let text = format!("{err:#}");
    assert!(text.contains("categories"), "{text}");
    let st = s.status();
    assert_eq!((st.updates, st.categories, st.staged_revisions), (0, 0, 0));
    assert_eq!(st.last_sync.ok, Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_answers_are_re_requested_and_small_batch_limits_are_honoured() {
    let s = setup(25).await;
    let lab = &s.lab.lab;
    lab.set_max_updates_per_request(3);
    lab.inject(Inject::TruncateUpdateData { k: 1, count: 5 });
    s.sync().await.expect("sync succeeds");
    assert!(lab.requests().iter().all(|r| r.update_ids.len() <= 3));
    assert_eq!(s.status().updates, lab.counts().updates as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_changed_restarts_with_a_full_resync() {
    let s = setup(10).await;
    s.sync().await.expect("first sync");
    let lab = &s.lab.lab;
    lab.add_updates(2);
    lab.inject(Inject::Fault {
        op: Some("GetRevisionIdList".into()),
        code: "ServerChanged".into(),
        count: 1,
    });
    lab.clear_requests();
    let report = s.sync().await.expect("sync recovers");
    assert!(report.server_changed);
    let lists = calls(lab, "GetRevisionIdList");
    assert!(
        lists.iter().skip(1).any(|r| r.anchor.is_none()),
        "re-listed without anchors"
    );
    assert_eq!(s.status().updates, lab.counts().updates as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_members_the_list_leaves_out_are_fetched_by_recursing_into_bundles() {
    let s = setup_with(LabOptions {
        updates: 5,
        list_bundle_members: false,
        ..LabOptions::default()
    })
    .await;
    let report = s.sync().await.expect("sync succeeds");
    // A bundle holds a nested file-less bundle whose member carries the file: two levels.
    assert_eq!(report.bundle_members_fetched, 3, "{report:?}");
    let want = s.lab.lab.counts();
    let st = s.status();
    assert_eq!(st.updates, want.updates as u64);
    assert_eq!(st.content.metadata_files, want.files as u64);
    let rounds = calls(&s.lab.lab, "GetUpdateData")
        .iter()
        .filter(|r| r.update_ids.len() <= 2)
        .count();
    assert!(rounds >= 2, "members were asked for in successive rounds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_the_upstream_cannot_deliver_is_skipped_then_fetched_next_time() {
    let s = setup(5).await;
    s.sync().await.expect("first sync");
    let lab = &s.lab.lab;
    lab.set_max_updates_per_request(1);
    let added = lab.add_updates(2);
    // Real WSUS faults InternalServerError for a revision that vanished (exchange 000017).
    lab.inject(Inject::Fault {
        op: Some("GetUpdateData".into()),
        code: "InternalServerError".into(),
        count: 1,
    });
    let report = s
        .sync()
        .await
        .expect("one bad revision does not fail the pass");
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert!(added.iter().any(|a| a.to_string() == report.skipped[0]));
    let want = lab.counts().updates as u64;
    assert_eq!(s.status().updates, want - 1);

    let report = s.sync().await.expect("next sync");
    assert!(report.skipped.is_empty());
    assert_eq!(
        s.status().updates,
        want,
        "the skipped revision was fetched this time"
    );
}
