//! The SQLite replica (WAL mode, numbered migrations): revisions with their parsed
//! relationships and files, languages, target groups, deployments, anchors and sync runs.
//! Every change is a transaction; a phase's rows become visible in the same transaction that
//! advances its anchor (`commit_phase`), so a failed or killed sync leaves the last good state.

use crate::model::{Deployment, RevisionId, Sha1Digest, TargetGroup, UpdateDoc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use uuid::Uuid;

mod content;
pub use content::{ContentCounts, ContentEntry, ContentState, Evictable, Wanted};

/// Numbered migrations; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[include_str!("schema.sql"), include_str!("content.sql")];

/// File name of the database inside `storage.data_dir`.
pub const DB_FILE: &str = "outpost.db";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database was written by a newer Outpost (schema {found}, this build knows {known})")]
    TooNew { found: usize, known: usize },
    #[error("database holds a malformed value: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The anchors the sync keeps (wsusss.md §2.0: config, categories list, updates list,
/// deployments — two list anchors, never one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Config,
    CategoryList,
    UpdateList,
    Deployment,
}

impl Anchor {
    pub const ALL: [Anchor; 4] = [
        Anchor::Config,
        Anchor::CategoryList,
        Anchor::UpdateList,
        Anchor::Deployment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "anchor.config",
            Self::CategoryList => "anchor.category_list",
            Self::UpdateList => "anchor.update_list",
            Self::Deployment => "anchor.deployment",
        }
    }
}

/// One language row of GetConfigData's LanguageUpdateList.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageRow {
    pub id: i32,
    pub short: String,
    pub long: String,
    pub enabled: bool,
}

/// A fetched revision ready to be staged.
#[derive(Debug)]
pub struct Fetched<'a> {
    pub doc: &'a UpdateDoc,
    pub document: &'a Document,
    pub compressed: bool,
}

/// An update document as the store keeps it: the verbatim text, LZ4-compressed. Update
/// documents are repetitive XML; compressing them cuts what a sync pushes through SQLite's
/// single writer (WAL, then checkpoint) several times over. Callers encode off the writer
/// (`sync` does it on the fetch tasks), so the writer only copies bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document(Vec<u8>);

impl Document {
    /// Largest decoded document accepted back from disk (real ones are under 1 MiB).
    const MAX_DECODED: usize = 64 << 20;

    pub fn encode(xml: &str) -> Self {
        Self(lz4_flex::compress_prepend_size(xml.as_bytes()))
    }

    pub fn decode(&self) -> Result<String> {
        Self::decode_bytes(&self.0)
    }

    fn decode_bytes(bytes: &[u8]) -> Result<String> {
        let corrupt = |what: &str| Error::Corrupt(format!("stored document: {what}"));
        let size = bytes
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| corrupt("too short"))?;
        if size as usize > Self::MAX_DECODED {
            return Err(corrupt("implausible size"));
        }
        let raw =
            lz4_flex::decompress_size_prepended(bytes).map_err(|e| corrupt(&e.to_string()))?;
        String::from_utf8(raw).map_err(|_| corrupt("not UTF-8"))
    }

    /// Stored size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What `status` reports about the replica.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Live software and driver revisions.
    pub updates: u64,
    /// Distinct live categories, classifications and detectoids.
    pub categories: u64,
    pub target_groups: u64,
    pub approvals: u64,
    /// Distinct files named by live revisions.
    pub files: u64,
    pub file_bytes: u64,
    /// Files of live Install approvals (incl. bundle members), what `policy=approved` wants.
    pub approved_files: u64,
    /// Revisions fetched by an unfinished sync, not yet visible.
    pub staged: u64,
}

/// One row of `sync_run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub started: String,
    pub finished: Option<String>,
    pub ok: Option<bool>,
    pub phase: Option<String>,
    pub error: Option<String>,
}

/// Full-list and delta parts of one GetDeployments answer, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct DeploymentChanges<'a> {
    pub groups: &'a [TargetGroup],
    pub deployments: &'a [Deployment],
    pub dead: &'a [Uuid],
    pub hidden: &'a [Uuid],
    pub accepted_eulas: &'a [Uuid],
}

/// A handle on the database; clones share one connection (SQLite has one writer anyway).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Open (creating if needed) the database in `data_dir` and run pending migrations.
    pub fn open(data_dir: &Path) -> Result<Store> {
        let path = data_dir.join(DB_FILE);
        let open_err = |source| Error::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        // Readers (status) and the writer (sync/serve) are separate processes: WAL lets them
        // run side by side; the busy timeout covers checkpoints and the rare writer overlap.
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        set_wal(&conn).map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        // Checkpoint every 32 MiB of WAL rather than 4: a sync writes tens of MiB, and pages
        // rewritten between checkpoints are copied back once, not every time.
        conn.pragma_update(None, "wal_autocheckpoint", 8192)
            .map_err(open_err)?;
        migrate(&mut conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back on drop), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- meta and anchors -------------------------------------------------------------

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        set_meta(&self.conn(), key, value)
    }

    pub fn anchor(&self, anchor: Anchor) -> Result<Option<String>> {
        self.meta(anchor.as_str())
    }

    /// Forget anchors so the next pass re-lists everything (ServerChanged, unusable anchor).
    pub fn clear_anchors(&self, anchors: &[Anchor]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for a in anchors {
            tx.execute("DELETE FROM meta WHERE key = ?1", [a.as_str()])?;
        }
        tx.commit()?;
        Ok(())
    }

    // ---- config phase -----------------------------------------------------------------

    /// Merge the language delta, store the USS config, advance the config anchor: one
    /// transaction.
    pub fn commit_config(
        &self,
        languages: &[LanguageRow],
        uss_config_json: &str,
        anchor: Option<&str>,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare(
                "INSERT INTO language (id, short, long, enabled) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET short = ?2, long = ?3, enabled = ?4",
            )?;
            for l in languages {
                upsert.execute(params![l.id, l.short, l.long, l.enabled])?;
            }
        }
        set_meta(&tx, "uss_config", uss_config_json)?;
        if let Some(a) = anchor {
            set_meta(&tx, Anchor::Config.as_str(), a)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn languages(&self) -> Result<Vec<LanguageRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id, short, long, enabled FROM language ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(LanguageRow {
                id: r.get(0)?,
                short: r.get(1)?,
                long: r.get(2)?,
                enabled: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- revisions --------------------------------------------------------------------

    /// Which of `ids` are already held (live or staged by an earlier, unfinished pass).
    pub fn held(&self, ids: &[RevisionId]) -> Result<HashSet<RevisionId>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT 1 FROM revision WHERE update_id = ?1 AND revision = ?2")?;
        let mut out = HashSet::new();
        for id in ids {
            if stmt.exists(params![guid(&id.update_id), id.revision])? {
                out.insert(*id);
            }
        }
        Ok(out)
    }

    /// Write a batch of fetched revisions as 'staged' (invisible until `commit_phase`).
    /// Already-held revisions are left as they are. `mu_urls` maps file digests to their
    /// Microsoft Update URL, where the USS gave one.
    pub fn stage(&self, batch: &[Fetched<'_>], mu_urls: &[(Sha1Digest, String)]) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let now = now();
        let mut staged = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO revision (update_id, revision, kind, category_type, title, expired,
                    eula_id, compressed, state, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'staged', ?9)
                 ON CONFLICT (update_id, revision) DO NOTHING",
            )?;
            let mut document = tx.prepare_cached(
                "INSERT INTO revision_document (revision, document) VALUES (?1, ?2)",
            )?;
            let mut prereq = tx.prepare_cached(
                "INSERT OR IGNORE INTO prerequisite (revision, grp, update_id, is_category)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut member = tx.prepare_cached(
                "INSERT OR IGNORE INTO bundle_member (revision, member_update, member_revision)
                 VALUES (?1, ?2, ?3)",
            )?;
            let mut supersedes = tx.prepare_cached(
                "INSERT OR IGNORE INTO supersedes (revision, superseded) VALUES (?1, ?2)",
            )?;
            let mut file = tx.prepare_cached(
                "INSERT INTO file (sha1, sha256, size, name, patching_type) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (sha1) DO UPDATE SET sha256 = coalesce(file.sha256, ?2)",
            )?;
            let mut rev_file = tx.prepare_cached(
                "INSERT OR IGNORE INTO revision_file (revision, sha1) VALUES (?1, ?2)",
            )?;
            for f in batch {
                let d = f.doc;
                let category_type = match &d.kind {
                    crate::model::UpdateKind::Category(t) => Some(t.as_str()),
                    _ => None,
                };
                let n = insert.execute(params![
                    guid(&d.id.update_id),
                    d.id.revision,
                    d.kind.as_str(),
                    category_type,
                    d.title,
                    d.expired,
                    d.eula_id.as_ref().map(guid),
                    f.compressed,
                    now,
                ])?;
                if n == 0 {
                    continue;
                }
                staged += 1;
                let rowid = tx.last_insert_rowid();
                document.execute(params![rowid, &f.document.0])?;
                for p in &d.prerequisites {
                    // A plain AND prerequisite is group -1 (NULL cannot be part of the key).
                    let group = p.group.map_or(-1, i64::from);
                    prereq.execute(params![rowid, group, guid(&p.update_id), p.is_category])?;
                }
                for m in &d.bundled {
                    member.execute(params![rowid, guid(&m.update_id), m.revision])?;
                }
                for s in &d.superseded {
                    supersedes.execute(params![rowid, guid(s)])?;
                }
                for fl in &d.files {
                    file.execute(params![
                        &fl.sha1.0[..],
                        fl.sha256.as_ref().map(|s| s.0.to_vec()),
                        fl.size as i64,
                        fl.name,
                        fl.patching_type,
                    ])?;
                    rev_file.execute(params![rowid, &fl.sha1.0[..]])?;
                }
            }
            let mut url = tx.prepare_cached("UPDATE file SET mu_url = ?2 WHERE sha1 = ?1")?;
            for (digest, u) in mu_urls {
                url.execute(params![&digest.0[..], u])?;
            }
        }
        tx.commit()?;
        Ok(staged)
    }

    /// Bundle members named by any held revision that are not held themselves.
    pub fn missing_bundle_members(&self) -> Result<Vec<RevisionId>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT DISTINCT m.member_update, m.member_revision FROM bundle_member m
             LEFT JOIN revision r ON r.update_id = m.member_update AND r.revision = m.member_revision
             WHERE r.id IS NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i32>(1)?)))?;
        rows.map(|row| {
            let (id, rev) = row?;
            Ok(RevisionId::new(parse_guid(&id)?, rev))
        })
        .collect()
    }

    /// Make every staged revision live and advance `anchor`, in one transaction.
    /// Returns how many revisions became visible.
    pub fn commit_phase(&self, anchor: Anchor, value: &str) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE revision SET state = 'live' WHERE state = 'staged'",
            [],
        )?;
        set_meta(&tx, anchor.as_str(), value)?;
        tx.commit()?;
        Ok(n)
    }

    /// Visit every live document (for checks and tooling).
    pub fn for_each_document(
        &self,
        mut f: impl FnMut(RevisionId, &str) -> std::result::Result<(), String>,
    ) -> Result<()> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT r.update_id, r.revision, d.document FROM revision r
                 JOIN revision_document d ON d.revision = r.id WHERE r.state = 'live'",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id = RevisionId::new(parse_guid(&row.get::<_, String>(0)?)?, row.get(1)?);
            let xml =
                Document::decode_bytes(row.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?)?;
            f(id, &xml).map_err(Error::Corrupt)?;
        }
        Ok(())
    }

    // ---- deployments (replica) --------------------------------------------------------

    /// Apply one GetDeployments answer and advance the deployment anchor, in one transaction:
    /// groups and hidden updates and EULAs are full lists (replaced), deployments and dead
    /// deployments are deltas (wsusss.md §2.6).
    pub fn apply_deployments(&self, changes: &DeploymentChanges<'_>, anchor: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let now = now();
        replace_groups(&tx, changes.groups)?;
        {
            let mut dead = tx.prepare_cached("DELETE FROM deployment WHERE id = ?1")?;
            for d in changes.dead {
                dead.execute([guid(d)])?;
            }
            let mut upsert = tx.prepare_cached(
                "INSERT INTO deployment (id, update_id, revision, action, admin_name, deadline,
                    is_assigned, go_live_time, target_group, download_priority, last_change)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (id) DO UPDATE SET update_id = ?2, revision = ?3, action = ?4,
                    admin_name = ?5, deadline = ?6, is_assigned = ?7, go_live_time = ?8,
                    target_group = ?9, download_priority = ?10, last_change = ?11",
            )?;
            for d in changes.deployments {
                upsert.execute(params![
                    guid(&d.deployment_id),
                    guid(&d.revision.update_id),
                    d.revision.revision,
                    d.action.code(),
                    d.admin_name,
                    d.deadline,
                    d.is_assigned,
                    d.go_live_time,
                    guid(&d.target_group),
                    d.download_priority,
                    now,
                ])?;
            }
            // Deployments of groups the USS no longer has go with their group.
            tx.execute(
                "DELETE FROM deployment WHERE target_group NOT IN (SELECT id FROM target_group)",
                [],
            )?;
            tx.execute("DELETE FROM hidden_update", [])?;
            let mut hidden =
                tx.prepare_cached("INSERT OR IGNORE INTO hidden_update VALUES (?1)")?;
            for h in changes.hidden {
                hidden.execute([guid(h)])?;
            }
            tx.execute("DELETE FROM accepted_eula", [])?;
            let mut eula = tx.prepare_cached("INSERT OR IGNORE INTO accepted_eula VALUES (?1)")?;
            for e in changes.accepted_eulas {
                eula.execute([guid(e)])?;
            }
        }
        set_meta(&tx, Anchor::Deployment.as_str(), anchor)?;
        tx.commit()?;
        Ok(())
    }

    pub fn target_groups(&self) -> Result<Vec<TargetGroup>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, parent, name, is_builtin FROM target_group ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (id, parent, name, is_builtin) = row?;
            Ok(TargetGroup {
                id: parse_guid(&id)?,
                parent: parent.as_deref().map(parse_guid).transpose()?,
                name,
                is_builtin,
            })
        })
        .collect()
    }

    /// Live deployments as (DeploymentGuid, revision, action code, group).
    pub fn deployments(&self) -> Result<Vec<(Uuid, RevisionId, i32, Uuid)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, update_id, revision, action, target_group FROM deployment")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i32>(2)?,
                r.get::<_, i32>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (id, update, rev, action, group) = row?;
            Ok((
                parse_guid(&id)?,
                RevisionId::new(parse_guid(&update)?, rev),
                action,
                parse_guid(&group)?,
            ))
        })
        .collect()
    }

    // ---- sync runs and counts ---------------------------------------------------------

    pub fn begin_run(&self) -> Result<i64> {
        let conn = self.conn();
        conn.execute("INSERT INTO sync_run (started) VALUES (?1)", [now()])?;
        Ok(conn.last_insert_rowid())
    }

    pub fn finish_run(
        &self,
        id: i64,
        ok: bool,
        phase: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE sync_run SET finished = ?2, ok = ?3, phase = ?4, error = ?5 WHERE id = ?1",
            params![id, now(), ok, phase, error],
        )?;
        Ok(())
    }

    pub fn last_run(&self) -> Result<Option<SyncRun>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT started, finished, ok, phase, error FROM sync_run ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(SyncRun {
                        started: r.get(0)?,
                        finished: r.get(1)?,
                        ok: r.get(2)?,
                        phase: r.get(3)?,
                        error: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn counts(&self) -> Result<Counts> {
        let conn = self.conn();
        let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        Ok(Counts {
            updates: one(
                "SELECT count(*) FROM revision WHERE state = 'live' AND kind IN ('software', 'driver')",
            )? as u64,
            categories: one(
                "SELECT count(DISTINCT update_id) FROM revision
                 WHERE state = 'live' AND kind IN ('category', 'classification', 'detectoid')",
            )? as u64,
            target_groups: one("SELECT count(*) FROM target_group")? as u64,
            approvals: one("SELECT count(*) FROM deployment")? as u64,
            files: one(
                "SELECT count(DISTINCT f.sha1) FROM revision_file f
                 JOIN revision r ON r.id = f.revision WHERE r.state = 'live'",
            )? as u64,
            file_bytes: one(
                "SELECT coalesce(sum(size), 0) FROM file WHERE sha1 IN (
                   SELECT f.sha1 FROM revision_file f JOIN revision r ON r.id = f.revision
                   WHERE r.state = 'live')",
            )? as u64,
            approved_files: one(&format!(
                "SELECT count(DISTINCT f.sha1) FROM revision_file f WHERE f.revision IN ({APPROVED_REVISIONS})"
            ))? as u64,
            staged: one("SELECT count(*) FROM revision WHERE state = 'staged'")? as u64,
        })
    }
}

/// Live revisions with an Install deployment plus, recursively, their bundle members.
const APPROVED_REVISIONS: &str = "
    WITH RECURSIVE approved(id) AS (
        SELECT r.id FROM revision r JOIN deployment d
          ON d.update_id = r.update_id AND d.revision = r.revision
        WHERE d.action = 0 AND r.state = 'live'
      UNION
        SELECT c.id FROM approved a
        JOIN bundle_member m ON m.revision = a.id
        JOIN revision c ON c.update_id = m.member_update AND c.revision = m.member_revision
        WHERE c.state = 'live'
    ) SELECT id FROM approved";

fn replace_groups(tx: &Transaction<'_>, groups: &[TargetGroup]) -> Result<()> {
    tx.execute("DELETE FROM target_group", [])?;
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO target_group (id, parent, name, is_builtin) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for g in groups {
        insert.execute(params![
            guid(&g.id),
            g.parent.as_ref().map(guid),
            g.name,
            g.is_builtin
        ])?;
    }
    Ok(())
}

/// Switch to WAL once per database. Changing the journal mode needs an exclusive lock and
/// SQLite reports BUSY for it without waiting, so a process opening the store while another
/// writes retries for a while instead of failing; reading the mode needs no such lock.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut attempts = 0;
    loop {
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 200 =>
            {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    // IMMEDIATE takes the write lock before reading the version, so two processes opening a
    // new data dir at once (sync beside status) run each migration exactly once.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(Error::TooNew {
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    for sql in &MIGRATIONS[version..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
    tx.commit()?;
    Ok(())
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
        [key, value],
    )?;
    Ok(())
}

fn guid(id: &Uuid) -> String {
    id.hyphenated().to_string()
}

fn parse_guid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| Error::Corrupt(format!("bad GUID {text:?}")))
}

fn now() -> String {
    crate::model::format_wsus_time(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests;
