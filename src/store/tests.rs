use super::*;
use crate::model::{
    DeploymentAction, Prerequisite, Sha256Digest, UpdateFile, UpdateKind, ALL_COMPUTERS,
};

fn doc(n: u128, rev: i32, kind: UpdateKind) -> UpdateDoc {
    UpdateDoc {
        id: RevisionId::new(Uuid::from_u128(n), rev),
        kind,
        title: Some(format!("update {n}")),
        expired: false,
        eula_id: None,
        prerequisites: vec![Prerequisite {
            update_id: Uuid::from_u128(1),
            group: Some(0),
            is_category: true,
        }],
        bundled: vec![],
        superseded: vec![],
        files: vec![UpdateFile {
            sha1: Sha1Digest([n as u8; 20]),
            sha256: Some(Sha256Digest([n as u8; 32])),
            size: 100,
            name: "f.cab".into(),
            patching_type: None,
            modified: None,
        }],
    }
}

fn stage(store: &Store, docs: &[UpdateDoc]) -> usize {
    let document = Document::encode("<x/>");
    let batch: Vec<_> = docs
        .iter()
        .map(|d| Fetched {
            doc: d,
            document: &document,
            compressed: false,
        })
        .collect();
    store.stage(&batch, &[]).unwrap()
}

#[test]
fn staged_revisions_are_invisible_until_the_phase_commits_with_its_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let d = doc(7, 100, UpdateKind::Software);
    assert_eq!(stage(&store, std::slice::from_ref(&d)), 1);
    assert_eq!(store.counts().unwrap().updates, 0);
    assert_eq!(store.counts().unwrap().staged, 1);
    // A staged revision counts as held: the next pass does not fetch it again.
    assert!(store.held(&[d.id]).unwrap().contains(&d.id));
    assert_eq!(store.anchor(Anchor::UpdateList).unwrap(), None);

    assert_eq!(store.commit_phase(Anchor::UpdateList, "1,x").unwrap(), 1);
    let c = store.counts().unwrap();
    assert_eq!((c.updates, c.staged, c.files, c.file_bytes), (1, 0, 1, 100));
    assert_eq!(
        store.anchor(Anchor::UpdateList).unwrap().as_deref(),
        Some("1,x")
    );
    // Staging the same revision again changes nothing.
    assert_eq!(stage(&store, &[d]), 0);
}

#[test]
fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        stage(&store, &[doc(3, 1, UpdateKind::Classification)]);
        store.commit_phase(Anchor::CategoryList, "a").unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.counts().unwrap().categories, 1);
}

#[test]
fn categories_count_distinct_ids_and_updates_count_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    stage(
        &store,
        &[
            doc(1, 1, UpdateKind::Classification),
            doc(1, 100, UpdateKind::Classification),
            doc(2, 1, UpdateKind::Detectoid),
            doc(5, 1, UpdateKind::Software),
            doc(5, 2, UpdateKind::Software),
            doc(6, 1, UpdateKind::Driver),
        ],
    );
    store.commit_phase(Anchor::UpdateList, "a").unwrap();
    let c = store.counts().unwrap();
    assert_eq!((c.categories, c.updates), (2, 3));
}

#[test]
fn missing_bundle_members_are_found_until_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut parent = doc(10, 1, UpdateKind::Software);
    let child = RevisionId::new(Uuid::from_u128(11), 5);
    parent.bundled = vec![child];
    stage(&store, &[parent]);
    assert_eq!(store.missing_bundle_members().unwrap(), vec![child]);
    stage(&store, &[doc(11, 5, UpdateKind::Software)]);
    assert!(store.missing_bundle_members().unwrap().is_empty());
}

#[test]
fn deployments_apply_full_lists_and_deltas_with_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let custom = Uuid::from_u128(99);
    let groups = vec![
        TargetGroup {
            id: ALL_COMPUTERS,
            parent: None,
            name: "All Computers".into(),
            is_builtin: true,
        },
        TargetGroup {
            id: custom,
            parent: Some(ALL_COMPUTERS),
            name: "Branch".into(),
            is_builtin: false,
        },
    ];
    let dep = |n: u128, group: Uuid| Deployment {
        deployment_id: Uuid::from_u128(n),
        revision: RevisionId::new(Uuid::from_u128(5), 1),
        action: DeploymentAction::Install,
        admin_name: None,
        deadline: None,
        is_assigned: true,
        go_live_time: "2026-01-01T00:00:00Z".into(),
        target_group: group,
        download_priority: 1,
    };
    let deps = vec![dep(1000, ALL_COMPUTERS), dep(1001, custom)];
    store
        .apply_deployments(
            &DeploymentChanges {
                groups: &groups,
                deployments: &deps,
                hidden: &[Uuid::from_u128(5)],
                ..Default::default()
            },
            "d1",
        )
        .unwrap();
    let c = store.counts().unwrap();
    assert_eq!((c.target_groups, c.approvals), (2, 2));

    // Next delta: one deployment dies, and the custom group disappears with its approval.
    store
        .apply_deployments(
            &DeploymentChanges {
                groups: &groups[..1],
                dead: &[Uuid::from_u128(1000)],
                ..Default::default()
            },
            "d2",
        )
        .unwrap();
    let c = store.counts().unwrap();
    assert_eq!((c.target_groups, c.approvals), (1, 0));
    assert_eq!(
        store.anchor(Anchor::Deployment).unwrap().as_deref(),
        Some("d2")
    );
}

#[test]
fn approved_files_follow_install_deployments_through_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut bundle = doc(20, 1, UpdateKind::Software);
    bundle.files.clear();
    bundle.bundled = vec![RevisionId::new(Uuid::from_u128(21), 1)];
    stage(
        &store,
        &[
            bundle,
            doc(21, 1, UpdateKind::Software),
            doc(22, 1, UpdateKind::Software),
        ],
    );
    store.commit_phase(Anchor::UpdateList, "a").unwrap();
    let groups = [TargetGroup {
        id: ALL_COMPUTERS,
        parent: None,
        name: "All Computers".into(),
        is_builtin: true,
    }];
    let deps = [Deployment {
        deployment_id: Uuid::from_u128(1),
        revision: RevisionId::new(Uuid::from_u128(20), 1),
        action: DeploymentAction::Install,
        admin_name: None,
        deadline: None,
        is_assigned: true,
        go_live_time: "2026-01-01T00:00:00Z".into(),
        target_group: ALL_COMPUTERS,
        download_priority: 1,
    }];
    store
        .apply_deployments(
            &DeploymentChanges {
                groups: &groups,
                deployments: &deps,
                ..Default::default()
            },
            "d",
        )
        .unwrap();
    assert_eq!(store.counts().unwrap().approved_files, 1);
}

#[test]
fn documents_round_trip_and_corrupt_ones_are_errors() {
    let text = "<upd:Update>é".repeat(100);
    let d = Document::encode(&text);
    assert!(d.len() < text.len());
    assert_eq!(d.decode().unwrap(), text);
    assert!(Document(vec![1, 2]).decode().is_err());
    assert!(Document(vec![0xff, 0xff, 0xff, 0x7f, 0]).decode().is_err());
}

#[test]
fn revision_categories_come_from_is_category_groups_and_known_categories() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut member = doc(40, 1, UpdateKind::Software);
    // A bundle member names its classification in a plain AtLeastOne group.
    member.prerequisites = vec![
        Prerequisite {
            update_id: Uuid::from_u128(3),
            group: Some(0),
            is_category: false,
        },
        Prerequisite {
            update_id: Uuid::from_u128(77),
            group: None,
            is_category: false,
        },
    ];
    stage(&store, &[member, doc(3, 1, UpdateKind::Classification)]);
    store.commit_phase(Anchor::UpdateList, "a").unwrap();
    let conn = store.conn();
    let categories: Vec<String> = conn
        .prepare(
            "SELECT c.category FROM revision_category c JOIN revision r ON r.id = c.revision
             WHERE r.update_id = ?1",
        )
        .unwrap()
        .query_map([guid(&Uuid::from_u128(40))], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(categories, vec![guid(&Uuid::from_u128(3))]);
}
