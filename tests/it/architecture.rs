//! DESIGN.md's dependency rule, checked on the source: `cli → app → {sync, lab, …} →
//! {status, upstream, store} → {xml, config} → model`, and `lab` never reuses the client's
//! or the server's protocol code. A new `crate::` edge must be added here on purpose.

use std::collections::BTreeSet;
use std::path::Path;

/// Which top-level modules each module may name.
const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("xml", &["model"]),
    ("config", &["model"]),
    ("telemetry", &["config"]),
    ("status", &["model"]),
    ("store", &["model"]),
    ("upstream", &["xml", "model"]),
    ("lab", &["xml", "model"]),
    ("sync", &["upstream", "store", "xml", "model"]),
    ("content", &["store", "model"]),
    ("serve", &["content", "store", "xml", "model", "status"]),
    (
        "app",
        &[
            "sync",
            "serve",
            "content",
            "lab",
            "status",
            "upstream",
            "store",
            "xml",
            "config",
            "model",
            "telemetry",
        ],
    ),
    ("cli", &["app", "config", "telemetry"]),
];

#[test]
fn modules_only_depend_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (module, allowed) in ALLOWED {
        let dir = src.join(module);
        let files: Vec<_> = if dir.is_dir() {
            walk(&dir)
        } else {
            vec![src.join(format!("{module}.rs"))]
        };
        assert!(!files.is_empty(), "no source for {module}");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            for used in crate_edges(&text) {
                if used != *module && !allowed.contains(&used.as_str()) {
                    violations.push(format!("{} uses crate::{used}", file.display()));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

/// Top-level modules named as `crate::x` or inside `use crate::{x, y::…}`.
fn crate_edges(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            // Only the first segment of each item at the group's top level counts.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_ascii_alphabetic() || c == '_') => {
                        out.insert(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out
}

#[test]
fn the_edge_finder_sees_grouped_and_plain_imports() {
    let edges =
        crate_edges("use crate::{model::A, xml::{self, B}};\nlet x = crate::store::Store::open();");
    assert_eq!(
        edges.into_iter().collect::<Vec<_>>(),
        ["model", "store", "xml"]
    );
}
