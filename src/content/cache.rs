//! The bytes on disk: cacache's content store, plus our partial-download and quarantine
//! directories beside it. Everything here is blocking file I/O; callers run it on blocking
//! threads.
//!
//! cacache checks only the digest of its writer's algorithm, so `ingest` writes with the
//! file's SHA-1 as the expected integrity (cacache refuses to persist other bytes) and tees a
//! SHA-256 hasher alongside, dropping the writer — which deletes its temp file — when that
//! or the size does not match. cacache has no seekable reader and no public content path;
//! `path` derives it from cacache's documented layout and a test pins it.

use crate::model::{Sha1Digest, UpdateFile};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Read/write granularity for copying and hashing.
const CHUNK: usize = 1 << 20;

/// Where cacache keeps the bytes of the file with this SHA-1:
/// `<root>/content-v2/sha1/<h[0..2]>/<h[2..4]>/<h[4..]>` with `h` the lower-case hex digest.
pub fn path(root: &Path, sha1: &Sha1Digest) -> PathBuf {
    let hex = sha1.to_hex();
    root.join("content-v2")
        .join("sha1")
        .join(&hex[0..2])
        .join(&hex[2..4])
        .join(&hex[4..])
}

/// Why bytes were refused.
#[derive(Debug)]
pub enum Refused {
    /// They are not the file the metadata describes (names the check that failed).
    Mismatch(&'static str),
    Io(io::Error),
}

impl From<io::Error> for Refused {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Copy a fully downloaded file into cacache if, and only if, its size, SHA-1 and (when the
/// metadata has one) SHA-256 match. Returns the published file's stamp.
pub fn ingest(root: &Path, part: &Path, file: &UpdateFile) -> Result<i64, Refused> {
    let len = fs::metadata(part)?.len();
    if len != file.size {
        return Err(Refused::Mismatch("size"));
    }
    let size = usize::try_from(file.size).map_err(|_| Refused::Mismatch("size"))?;
    let sri = cacache::Integrity::from_hex(file.sha1.to_hex(), cacache::Algorithm::Sha1)
        .map_err(|e| Refused::Io(io::Error::other(e.to_string())))?;
    let mut opts = cacache::WriteOpts::new()
        .algorithm(cacache::Algorithm::Sha1)
        .integrity(sri);
    // cacache preallocates (mmap) a known size, which fails for 0; the length was checked
    // above anyway.
    if size > 0 {
        opts = opts.size(size);
    }
    let mut writer = opts.open_hash_sync(root).map_err(cache_io)?;
    let mut sha256 = file.sha256.map(|_| Sha256::new());
    let mut src = File::open(part)?;
    let mut buf = vec![0; CHUNK];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if let Some(h) = &mut sha256 {
            h.update(&buf[..n]);
        }
        writer.write_all(&buf[..n])?;
    }
    if let (Some(h), Some(want)) = (sha256, file.sha256) {
        if h.finalize()[..] != want.0[..] {
            // Dropping the writer deletes its temp file: nothing becomes visible.
            return Err(Refused::Mismatch("SHA-256"));
        }
    }
    match writer.commit() {
        Ok(_) => {}
        Err(cacache::Error::IntegrityError(_)) => return Err(Refused::Mismatch("SHA-1")),
        Err(cacache::Error::SizeMismatch(..)) => return Err(Refused::Mismatch("size")),
        Err(e) => return Err(Refused::Io(cache_io(e))),
    }
    Ok(stamp(&fs::metadata(path(root, &file.sha1))?))
}

/// What re-hashing a cached file found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    Good { stamp: i64 },
    Bad(&'static str),
    Gone,
}

/// Re-hash the cached bytes of `file` against its metadata.
pub fn check(root: &Path, file: &UpdateFile) -> io::Result<Check> {
    let mut src = match File::open(path(root, &file.sha1)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Check::Gone),
        Err(e) => return Err(e),
    };
    let meta = src.metadata()?;
    if meta.len() != file.size {
        return Ok(Check::Bad("size"));
    }
    let mut sha1 = Sha1::new();
    let mut sha256 = file.sha256.map(|_| Sha256::new());
    let mut buf = vec![0; CHUNK];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha1.update(&buf[..n]);
        if let Some(h) = &mut sha256 {
            h.update(&buf[..n]);
        }
    }
    if sha1.finalize()[..] != file.sha1.0[..] {
        return Ok(Check::Bad("SHA-1"));
    }
    if let (Some(h), Some(want)) = (sha256, file.sha256) {
        if h.finalize()[..] != want.0[..] {
            return Ok(Check::Bad("SHA-256"));
        }
    }
    Ok(Check::Good {
        stamp: stamp(&meta),
    })
}

/// Move the cached bytes of `sha1` out of the servable set into `dir`.
pub fn quarantine(root: &Path, dir: &Path, sha1: &Sha1Digest) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    match fs::rename(path(root, sha1), dir.join(sha1.to_hex_upper())) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Delete the cached bytes of `sha1` (absent is fine).
pub fn remove(root: &Path, sha1: &Sha1Digest) -> io::Result<()> {
    remove_file(&path(root, sha1))
}

pub fn remove_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A file's modification time in nanoseconds: recorded when the file is verified and
/// compared before serving it, so bytes rewritten behind our back are never served.
pub fn stamp(meta: &fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn cache_io(e: cacache::Error) -> io::Error {
    match e {
        cacache::Error::IoError(e, context) => io::Error::new(e.kind(), format!("{context}: {e}")),
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sha256Digest;

    fn file_for(bytes: &[u8]) -> UpdateFile {
        UpdateFile {
            sha1: Sha1Digest(Sha1::digest(bytes).into()),
            sha256: Some(Sha256Digest(Sha256::digest(bytes).into())),
            size: bytes.len() as u64,
            name: "x.cab".into(),
            patching_type: None,
            modified: None,
        }
    }

    #[test]
    fn path_is_where_cacache_puts_sha1_content() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = b"pinned layout";
        let sri = cacache::write_hash_sync_with_algo(cacache::Algorithm::Sha1, dir.path(), bytes)
            .unwrap();
        let file = file_for(bytes);
        assert_eq!(sri.to_hex().1, file.sha1.to_hex());
        assert_eq!(fs::read(path(dir.path(), &file.sha1)).unwrap(), bytes);
    }

    #[test]
    fn ingest_publishes_only_matching_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        let part = dir.path().join("part");
        let good = vec![7u8; 3 * CHUNK + 5];
        let file = file_for(&good);

        let mut bad = good.clone();
        bad[CHUNK + 1] ^= 1;
        fs::write(&part, &bad).unwrap();
        assert!(matches!(
            ingest(&root, &part, &file),
            Err(Refused::Mismatch("SHA-256"))
        ));
        let mut sha1_only = file.clone();
        sha1_only.sha256 = None;
        assert!(matches!(
            ingest(&root, &part, &sha1_only),
            Err(Refused::Mismatch("SHA-1"))
        ));
        fs::write(&part, &good[1..]).unwrap();
        assert!(matches!(
            ingest(&root, &part, &file),
            Err(Refused::Mismatch("size"))
        ));
        assert!(!path(&root, &file.sha1).exists());
        // No temp file is left behind by the refusals.
        let tmp = root.join("tmp");
        assert_eq!(fs::read_dir(&tmp).map_or(0, |d| d.count()), 0);

        fs::write(&part, &good).unwrap();
        let stamp = ingest(&root, &part, &file).unwrap();
        assert_eq!(fs::read(path(&root, &file.sha1)).unwrap(), good);
        assert_eq!(check(&root, &file).unwrap(), Check::Good { stamp });
    }

    #[test]
    fn check_finds_flipped_bytes_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = vec![1u8; 10_000];
        let file = file_for(&bytes);
        assert_eq!(check(dir.path(), &file).unwrap(), Check::Gone);
        cacache::write_hash_sync_with_algo(cacache::Algorithm::Sha1, dir.path(), &bytes).unwrap();
        let p = path(dir.path(), &file.sha1);
        let mut flipped = bytes.clone();
        flipped[9_999] ^= 0x80;
        let mut perms = fs::metadata(&p).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&p, perms).unwrap();
        fs::write(&p, &flipped).unwrap();
        assert_eq!(check(dir.path(), &file).unwrap(), Check::Bad("SHA-1"));

        let q = dir.path().join("quarantine");
        quarantine(dir.path(), &q, &file.sha1).unwrap();
        assert!(!p.exists());
        assert_eq!(fs::read(q.join(file.sha1.to_hex_upper())).unwrap(), flipped);
        assert_eq!(check(dir.path(), &file).unwrap(), Check::Gone);
    }
}
