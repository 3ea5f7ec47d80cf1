//! Unit tests of the lab's catalog and state (the HTTP side is covered by tests/it/lab.rs).

use super::catalog::{self, Entity, CONFIG, SPECIALS};
use super::documents::{document, is_padded};
use super::*;
use crate::model::UpdateKind;
use crate::xml::update;

fn lab(updates: usize) -> Lab {
    Lab::new(LabOptions {
        updates,
        ..LabOptions::default()
    })
}

fn doc(lab: &Lab, e: Entity, revision: i32) -> String {
    let file = e.file().map(|k| lab.file_meta(k));
    document(lab.base(), e, revision, file.as_ref())
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count() * 2
}

#[test]
fn every_document_parses_as_the_right_kind() {
    let lab = lab(12);
    let base = lab.base();
    let entities = CONFIG
        .into_iter()
        .chain(SPECIALS)
        .chain((0..12).map(Entity::Plain));
    for e in entities {
        for &rev in e.revisions() {
            let xml = doc(&lab, e, rev);
            let parsed = update::parse(&xml).unwrap_or_else(|err| panic!("{e:?}/{rev}: {err}"));
            assert_eq!(parsed.id, RevisionId::new(base.id(e), rev), "{e:?}");
            let want = match e {
                Entity::Company | Entity::Family | Entity::Product(_) => {
                    matches!(parsed.kind, UpdateKind::Category(_))
                }
                Entity::Class(_) => parsed.kind == UpdateKind::Classification,
                Entity::Detectoid => parsed.kind == UpdateKind::Detectoid,
                Entity::Driver(_) => parsed.kind == UpdateKind::Driver,
                _ => parsed.kind == UpdateKind::Software,
            };
            assert!(want, "{e:?} parsed as {:?}", parsed.kind);
            assert_eq!(parsed.kind.is_config(), e.is_config());
            match e.file() {
                Some(key) => {
                    let meta = lab.file_meta(key);
                    assert_eq!(parsed.files, vec![meta.clone()], "{e:?}");
                    let bytes = base.file_bytes(key);
                    assert_eq!(meta.size, bytes.len() as u64);
                }
                None => assert!(parsed.files.is_empty(), "{e:?}"),
            }
            assert_eq!(parsed.expired, e == Entity::Expired && rev == 201);
            assert!(xml.starts_with("<upd:Update ") && !xml.contains('\n'));
        }
    }
}

#[test]
fn software_is_categorised_by_product_and_classification() {
    let lab = lab(3);
    let base = lab.base();
    for e in catalog::update_entities(3) {
        let parsed = update::parse(&doc(&lab, e, e.revisions()[0])).unwrap();
        let cats: Vec<Uuid> = parsed.category_ids().collect();
        let product = base.id(Entity::Product(e.product()));
        match e {
            // Members carry their categories in plain AtLeastOne groups, as real ones do.
            Entity::NestedBundle | Entity::BundleChild(_) => assert!(cats.is_empty(), "{e:?}"),
            _ => assert_eq!(cats, vec![product, e.class().id()], "{e:?}"),
        }
        let detectoid = parsed
            .prerequisites
            .iter()
            .any(|p| p.group.is_none() && p.update_id == base.id(Entity::Detectoid));
        let want_detectoid = matches!(
            e,
            Entity::Plain(_)
                | Entity::Superseded
                | Entity::Superseder
                | Entity::Expired
                | Entity::BundleChild(_)
        );
        assert_eq!(detectoid, want_detectoid, "{e:?}");
    }
}

#[test]
fn bundles_nest_and_the_superseder_names_its_predecessor() {
    let lab = lab(1);
    let base = lab.base();
    let rev = |e: Entity| RevisionId::new(base.id(e), 200);
    let bundle = update::parse(&doc(&lab, Entity::Bundle, 200)).unwrap();
    assert_eq!(
        bundle.bundled,
        vec![rev(Entity::BundleChild(0)), rev(Entity::NestedBundle)]
    );
    let nested = update::parse(&doc(&lab, Entity::NestedBundle, 200)).unwrap();
    assert_eq!(nested.bundled, vec![rev(Entity::BundleChild(1))]);
    assert!(nested.files.is_empty());
    let xml = doc(&lab, Entity::Bundle, 200);
    assert!(xml.contains("<upd:BundledUpdates><upd:AtLeastOne>"));

    let superseder = update::parse(&doc(&lab, Entity::Superseder, 200)).unwrap();
    assert_eq!(superseder.superseded, vec![base.id(Entity::Superseded)]);
    assert_eq!(superseder.eula_id, Some(base.eula()));
}

#[test]
fn documents_cover_both_transfer_paths_and_real_quirks() {
    let lab = lab(20);
    let company = doc(&lab, Entity::Company, 101);
    let upper = lab.base().id(Entity::Company).to_string().to_uppercase();
    assert!(company.contains(&format!("UpdateID=\"{upper}\"")));
    assert!(utf16_len(&company) > 5120, "company doc is compressed");
    assert!(utf16_len(&doc(&lab, Entity::Company, 1)) <= 5120);
    for i in 0..20 {
        let len = utf16_len(&doc(&lab, Entity::Plain(i), 200));
        assert_eq!(len > 5120, is_padded(i), "plain {i}: {len} UTF-16 bytes");
    }
    // Still small at the largest index the benches use.
    assert!(utf16_len(&doc(&lab, Entity::Plain(19_999), 200)) <= 5000);
    for e in [
        Entity::Bundle,
        Entity::NestedBundle,
        Entity::Driver(0),
        Entity::Detectoid,
    ] {
        assert!(utf16_len(&doc(&lab, e, e.revisions()[0])) <= 5120, "{e:?}");
    }
    // xsi only where real WSUS declares it; escaping of text and attributes.
    let plain = doc(&lab, Entity::Plain(1), 200);
    let root_end = plain.find('>').unwrap();
    assert!(!plain[..root_end].contains("xmlns:xsi"));
    assert!(plain
        .contains("<upd:HandlerSpecificData xsi:type=\"cmd:CommandLineInstallation\" xmlns:xsi="));
    assert!(plain.contains("&amp; &lt;B&gt;"));
    assert!(doc(&lab, Entity::Driver(1), 200).contains("VEN_1AB8&amp;DEV_4001"));
}

#[test]
fn catalog_is_deterministic_per_seed() {
    let a = lab(5);
    let b = lab(5);
    let c = Lab::new(LabOptions {
        updates: 5,
        seed: 2,
        ..LabOptions::default()
    });
    for e in CONFIG
        .into_iter()
        .chain(SPECIALS)
        .chain((0..5).map(Entity::Plain))
    {
        let rev = e.revisions()[0];
        assert_eq!(doc(&a, e, rev), doc(&b, e, rev));
        if !matches!(e, Entity::Class(_)) {
            assert_ne!(doc(&a, e, rev), doc(&c, e, rev), "{e:?}");
        }
    }
    assert_eq!(a.deployments(), b.deployments());
    assert_eq!(a.groups(), b.groups());
}

#[test]
fn counts_follow_the_formulas_and_track_mutations() {
    let lab = lab(50);
    let c = lab.counts();
    assert_eq!(
        c,
        CatalogCounts {
            updates: 50 + 10,
            categories: 9,
            category_revisions: 11,
            target_groups: 4,
            approvals: 4,
            files: 50 + 7,
        }
    );
    let added = lab.add_updates(3);
    assert_eq!(added.len(), 3);
    let group = lab.add_group("Extra", ALL_COMPUTERS);
    let dep = lab.approve(added[0], group, DeploymentAction::Install);
    let c = lab.counts();
    assert_eq!(
        (c.updates, c.files, c.target_groups, c.approvals),
        (63, 60, 5, 5)
    );
    assert!(lab.revoke(dep));
    assert!(!lab.revoke(dep));
    assert_eq!(lab.counts().approvals, 4);
    assert_eq!(lab.state().counter, INITIAL_CHANGE + 4);
}

#[test]
fn initial_groups_and_deployments_have_the_promised_shape() {
    let lab = lab(0);
    let groups = lab.groups();
    assert_eq!(groups[0].id, ALL_COMPUTERS);
    assert_eq!(groups[0].parent, None);
    assert_eq!(groups[1].id, UNASSIGNED_COMPUTERS);
    assert_eq!(groups[1].parent, Some(ALL_COMPUTERS));
    assert_eq!(groups[3].parent, Some(groups[2].id), "nested custom group");
    let deps = lab.deployments();
    let actions: Vec<_> = deps.iter().map(|d| d.action).collect();
    use DeploymentAction::*;
    assert_eq!(actions, [Install, Install, Uninstall, Block]);
    assert!(deps[0].deadline.is_some() && deps[1].deadline.is_none());
    assert_eq!(deps[1].revision.update_id, lab.base().id(Entity::Bundle));
    assert_eq!(lab.counts().updates, 10);
}

#[test]
fn files_are_found_by_digest_and_unknown_digests_are_not() {
    let lab = lab(4);
    let meta = lab.file_meta(2);
    assert_eq!(
        lab.file_content(&meta.sha1).map(|b| b.len() as u64),
        Some(meta.size)
    );
    // A file never hashed before is found through the full index.
    let special = Entity::Driver(1).file().unwrap();
    let sha1 = lab.base().file_meta(special).sha1;
    assert!(lab.file_content(&sha1).is_some());
    assert!(lab.file_content(&Sha1Digest([7; 20])).is_none());
    // Files of updates added later are found too.
    lab.add_updates(1);
    let late = lab.base().file_meta(4).sha1;
    assert!(lab.file_content(&late).is_some());
}

#[test]
fn a_big_catalog_is_cheap_to_build() {
    let lab = lab(20_000);
    assert_eq!(lab.counts().updates, 20_010);
    let last = RevisionId::new(lab.base().id(Entity::Plain(19_999)), 200);
    assert_eq!(
        lab.state().entity(lab.base(), last),
        Some(Entity::Plain(19_999))
    );
    assert_eq!(
        lab.state()
            .entity(lab.base(), RevisionId::new(last.update_id, 201)),
        None
    );
}

#[test]
fn injections_are_consumed_in_order_and_by_op() {
    let lab = lab(0);
    lab.inject(Inject::Fault {
        op: Some("GetUpdateData".into()),
        code: "ServerBusy".into(),
        count: 2,
    });
    lab.inject(Inject::Http500 { op: None, count: 1 });
    let p = lab.take_plan("GetConfigData", true, true);
    assert!(p.http500 && p.fault.is_none());
    let p = lab.take_plan("GetUpdateData", true, true);
    assert_eq!(p.fault.as_deref(), Some("ServerBusy"));
    assert!(!p.http500);
    assert!(lab.take_plan("Content", false, false).fault.is_none());
    assert!(lab.take_plan("GetUpdateData", true, true).fault.is_some());
    assert!(lab.take_plan("GetUpdateData", true, true).fault.is_none());
    assert!(lab.state().injections.is_empty());
}
