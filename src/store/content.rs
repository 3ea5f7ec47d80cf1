//! The content cache's index (migration 2): one row per cached or once-attempted file, with
//! its state. `content` owns the bytes (cacache); this is the only record of which of them
//! are verified, so a file is servable exactly when its row says `verified`.

use super::{now, Result, Store, APPROVED_REVISIONS};
use crate::model::{Sha1Digest, Sha256Digest, UpdateFile};
use rusqlite::{params, OptionalExtension, Row};

/// Where a file named by the metadata stands in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentState {
    Missing,
    Fetching,
    Verified,
    Quarantined,
}

impl ContentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Fetching => "fetching",
            Self::Verified => "verified",
            Self::Quarantined => "quarantined",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "fetching" => Self::Fetching,
            "verified" => Self::Verified,
            "quarantined" => Self::Quarantined,
            _ => Self::Missing,
        }
    }
}

/// A file named by live metadata and its cache state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentEntry {
    pub file: UpdateFile,
    pub state: ContentState,
    /// mtime (ns since the epoch) of the cached file when it was verified.
    pub stamp: Option<i64>,
}

/// Which files a prefetch wants (`content.policy` without on-demand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// Files of live Install approvals and, recursively, their bundle members.
    Approved,
    /// Every file of every live revision.
    All,
}

/// A verified file as eviction sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evictable {
    pub sha1: Sha1Digest,
    pub size: u64,
    /// A current approval needs it.
    pub approved: bool,
}

/// Content figures for `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContentCounts {
    pub files: u64,
    pub bytes: u64,
    pub fetching: u64,
    pub quarantined: u64,
    /// Files that approvals need and that are not verified.
    pub missing_approved: u64,
    /// Files of live revisions that are not verified.
    pub missing_all: u64,
}

const LIVE_FILES: &str = "SELECT f.sha1 FROM revision_file f JOIN revision r ON r.id = f.revision
                          WHERE r.state = 'live'";

/// Express (PSF) files are hosted only on request (wsusss.md §2.9); never prefetched.
const PREFETCHABLE: &str = "coalesce(file.patching_type, '') <> 'Express'";

const FILE_COLUMNS: &str = "file.sha1, file.sha256, file.size, file.name, file.patching_type";

impl Store {
    /// The file with this SHA-1 if live metadata names it, with its cache state.
    pub fn content_entry(&self, sha1: &Sha1Digest) -> Result<Option<ContentEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {FILE_COLUMNS}, c.state, c.stamp FROM file
             LEFT JOIN content c ON c.sha1 = file.sha1
             WHERE file.sha1 = ?1 AND EXISTS (
                 SELECT 1 FROM revision_file f JOIN revision r ON r.id = f.revision
                 WHERE f.sha1 = file.sha1 AND r.state = 'live')"
        ))?;
        Ok(stmt
            .query_row([&sha1.0[..]], |r| {
                Ok(ContentEntry {
                    file: read_file(r)?,
                    state: r
                        .get::<_, Option<String>>(5)?
                        .map_or(ContentState::Missing, |s| ContentState::parse(&s)),
                    stamp: r.get(6)?,
                })
            })
            .optional()?)
    }

    /// Record a state change that carries no other data (`fetching`, `missing`).
    pub fn content_set_state(&self, sha1: &Sha1Digest, state: ContentState) -> Result<()> {
        self.conn().execute(
            "INSERT INTO content (sha1, state) VALUES (?1, ?2)
             ON CONFLICT (sha1) DO UPDATE SET state = ?2",
            params![&sha1.0[..], state.as_str()],
        )?;
        Ok(())
    }

    /// The file was verified and published: servable from now on.
    pub fn content_verified(&self, sha1: &Sha1Digest, size: u64, stamp: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO content (sha1, state, size, stamp, fetched_at, failures, last_error)
             VALUES (?1, 'verified', ?2, ?3, ?4, 0, NULL)
             ON CONFLICT (sha1) DO UPDATE SET state = 'verified', size = ?2, stamp = ?3,
                 fetched_at = ?4, failures = 0, last_error = NULL",
            params![&sha1.0[..], size as i64, stamp, now()],
        )?;
        Ok(())
    }

    /// A fetch failed: the file stays missing, the failure is counted and described.
    pub fn content_failed(&self, sha1: &Sha1Digest, error: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO content (sha1, state, failures, last_error) VALUES (?1, 'missing', 1, ?2)
             ON CONFLICT (sha1) DO UPDATE SET state = 'missing', failures = failures + 1,
                 last_error = ?2",
            params![&sha1.0[..], error],
        )?;
        Ok(())
    }

    /// The cached bytes failed verification and were moved out of the servable set.
    pub fn content_quarantined(&self, sha1: &Sha1Digest, reason: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO content (sha1, state, last_error) VALUES (?1, 'quarantined', ?2)
             ON CONFLICT (sha1) DO UPDATE SET state = 'quarantined', size = NULL, stamp = NULL,
                 last_error = ?2",
            params![&sha1.0[..], reason],
        )?;
        Ok(())
    }

    /// The cached bytes were removed (evicted, or found gone): the file is missing again.
    pub fn content_removed(&self, sha1: &Sha1Digest) -> Result<()> {
        self.conn().execute(
            "UPDATE content SET state = 'missing', size = NULL, stamp = NULL WHERE sha1 = ?1",
            [&sha1.0[..]],
        )?;
        Ok(())
    }

    /// Record that these files were served just now (eviction keeps recently served files).
    pub fn content_touch(&self, sha1s: &[Sha1Digest]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("UPDATE content SET last_served = ?2 WHERE sha1 = ?1")?;
            let when = now();
            for sha1 in sha1s {
                stmt.execute(params![&sha1.0[..], when])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Files a prefetch should fetch: wanted by the policy, not verified, largest last so
    /// that many small files become servable first.
    pub fn content_wanted(&self, wanted: Wanted) -> Result<Vec<UpdateFile>> {
        let source = match wanted {
            Wanted::Approved => format!(
                "SELECT f.sha1 FROM revision_file f WHERE f.revision IN ({APPROVED_REVISIONS})"
            ),
            Wanted::All => LIVE_FILES.to_owned(),
        };
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {FILE_COLUMNS} FROM file
             WHERE file.sha1 IN ({source}) AND {PREFETCHABLE}
               AND NOT EXISTS (SELECT 1 FROM content c
                               WHERE c.sha1 = file.sha1 AND c.state = 'verified')
             ORDER BY file.size, file.sha1"
        ))?;
        let files = stmt.query_map([], read_file)?;
        Ok(files.collect::<rusqlite::Result<_>>()?)
    }

    /// Every file the index holds in `state`, with its metadata.
    pub fn content_in_state(&self, state: ContentState) -> Result<Vec<ContentEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {FILE_COLUMNS}, c.stamp FROM content c JOIN file ON file.sha1 = c.sha1
             WHERE c.state = ?1 ORDER BY file.sha1"
        ))?;
        let entries = stmt.query_map([state.as_str()], |r| {
            Ok(ContentEntry {
                file: read_file(r)?,
                state,
                stamp: r.get(5)?,
            })
        })?;
        Ok(entries.collect::<rusqlite::Result<_>>()?)
    }

    /// Verified files in the order eviction should take them: files no approval needs
    /// first, then least recently served (or fetched).
    pub fn content_eviction_order(&self) -> Result<Vec<Evictable>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT c.sha1, c.size, c.sha1 IN (
                    SELECT f.sha1 FROM revision_file f WHERE f.revision IN ({APPROVED_REVISIONS}))
                    AS approved
             FROM content c WHERE c.state = 'verified'
             ORDER BY approved, coalesce(c.last_served, c.fetched_at, ''), c.sha1"
        ))?;
        let victims = stmt.query_map([], |r| {
            Ok(Evictable {
                sha1: sha1_at(r, 0)?,
                size: r.get::<_, Option<i64>>(1)?.unwrap_or(0).max(0) as u64,
                approved: r.get(2)?,
            })
        })?;
        Ok(victims.collect::<rusqlite::Result<_>>()?)
    }

    /// Bytes of verified content: what counts against `max_cache_size`.
    pub fn content_cached_bytes(&self) -> Result<u64> {
        Ok(self.conn().query_row(
            "SELECT coalesce(sum(size), 0) FROM content WHERE state = 'verified'",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    pub fn content_counts(&self) -> Result<ContentCounts> {
        let conn = self.conn();
        let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        let not_verified = "NOT EXISTS (SELECT 1 FROM content c
                                        WHERE c.sha1 = file.sha1 AND c.state = 'verified')";
        Ok(ContentCounts {
            files: one("SELECT count(*) FROM content WHERE state = 'verified'")? as u64,
            bytes: one("SELECT coalesce(sum(size), 0) FROM content WHERE state = 'verified'")?
                as u64,
            fetching: one("SELECT count(*) FROM content WHERE state = 'fetching'")? as u64,
            quarantined: one("SELECT count(*) FROM content WHERE state = 'quarantined'")? as u64,
            missing_approved: one(&format!(
                "SELECT count(*) FROM file WHERE {PREFETCHABLE} AND {not_verified} AND sha1 IN (
                   SELECT f.sha1 FROM revision_file f WHERE f.revision IN ({APPROVED_REVISIONS}))"
            ))? as u64,
            missing_all: one(&format!(
                "SELECT count(*) FROM file WHERE {PREFETCHABLE} AND {not_verified}
                   AND sha1 IN ({LIVE_FILES})"
            ))? as u64,
        })
    }

    /// Add `n` to a persistent counter (kept in `meta` as `counter.<name>`).
    pub fn bump_counter(&self, name: &str, n: u64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ?2",
            params![format!("counter.{name}"), n as i64],
        )?;
        Ok(())
    }

    pub fn counter(&self, name: &str) -> Result<u64> {
        Ok(self
            .meta(&format!("counter.{name}"))?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
}

/// `file` columns in FILE_COLUMNS order.
fn read_file(r: &Row<'_>) -> rusqlite::Result<UpdateFile> {
    let sha256 = r
        .get::<_, Option<Vec<u8>>>(1)?
        .map(|d| Sha256Digest::from_slice(&d).map_err(|e| malformed(1, e)))
        .transpose()?;
    Ok(UpdateFile {
        sha1: sha1_at(r, 0)?,
        sha256,
        size: r.get::<_, i64>(2)?.max(0) as u64,
        name: r.get(3)?,
        patching_type: r.get(4)?,
        modified: None,
    })
}

fn sha1_at(r: &Row<'_>, idx: usize) -> rusqlite::Result<Sha1Digest> {
    Sha1Digest::from_slice(&r.get::<_, Vec<u8>>(idx)?).map_err(|e| malformed(idx, e))
}

/// A stored digest of the wrong length: reported like any value SQLite cannot convert.
fn malformed(idx: usize, e: crate::model::DigestError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Blob, Box::new(e))
}
