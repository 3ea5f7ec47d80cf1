//! One `Status` struct rendered as JSON (`status --json`, later `GET /status`) and as text.
//! Built from the store by `app`; the field names are the operator contract (INTERFACE.md).

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Status {
    pub server_id: String,
    pub upstream: String,
    pub last_sync: LastSync,
    /// Software and driver revisions held (bundle members included).
    pub updates: u64,
    /// Companies, product families, products, classifications and detectoids held.
    pub categories: u64,
    pub target_groups: u64,
    /// Live deployments.
    pub approvals: u64,
    pub computers: u64,
    pub events_pending_rollup: u64,
    pub content: ContentStatus,
    /// Revisions fetched by an unfinished sync, not yet visible.
    pub staged_revisions: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LastSync {
    pub started: Option<String>,
    pub finished: Option<String>,
    /// `None` until the first pass ends.
    pub ok: Option<bool>,
    /// The phase a failed pass stopped in.
    pub phase: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ContentStatus {
    pub policy: String,
    /// Files held in the cache, verified.
    pub files: u64,
    pub bytes: u64,
    /// Files the policy wants cached that are not.
    pub missing: u64,
    pub corrupt_quarantined: u64,
    /// Files being downloaded right now.
    pub fetching: u64,
    /// `content.max_cache_size` in bytes.
    pub max_cache_size: u64,
    /// Files evicted to stay under `max_cache_size`, ever.
    pub evictions: u64,
    /// Downloads refused because their bytes did not match the metadata, ever.
    pub digest_mismatches: u64,
    /// Files named by the synced metadata, and their total size.
    pub metadata_files: u64,
    pub metadata_bytes: u64,
}

impl Status {
    pub fn to_json(&self) -> String {
        // Serializing plain owned data cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.last_sync;
        writeln!(f, "Outpost replica {}", self.server_id)?;
        writeln!(f, "  upstream         {}", self.upstream)?;
        let outcome = match (s.ok, &s.error) {
            (None, _) if s.started.is_none() => "never synced".to_owned(),
            (None, _) => "running or interrupted".to_owned(),
            (Some(true), _) => "ok".to_owned(),
            (Some(false), e) => format!(
                "FAILED in {}: {}",
                s.phase.as_deref().unwrap_or("?"),
                e.as_deref().unwrap_or("?")
            ),
        };
        writeln!(f, "  last sync        {outcome}")?;
        if let Some(t) = s.finished.as_ref().or(s.started.as_ref()) {
            writeln!(f, "                   at {t}")?;
        }
        writeln!(f, "  updates          {}", self.updates)?;
        writeln!(f, "  categories       {}", self.categories)?;
        writeln!(f, "  target groups    {}", self.target_groups)?;
        writeln!(f, "  approvals        {}", self.approvals)?;
        writeln!(f, "  computers        {}", self.computers)?;
        writeln!(f, "  pending rollup   {}", self.events_pending_rollup)?;
        let c = &self.content;
        writeln!(
            f,
            "  content          {} files cached ({}), {} missing, {} quarantined (policy {})",
            c.files,
            human_bytes(c.bytes),
            c.missing,
            c.corrupt_quarantined,
            c.policy
        )?;
        writeln!(
            f,
            "                   {} fetching, cap {}, {} evicted, {} bad downloads refused",
            c.fetching,
            human_bytes(c.max_cache_size),
            c.evictions,
            c.digest_mismatches
        )?;
        writeln!(
            f,
            "  metadata files   {} ({})",
            c.metadata_files,
            human_bytes(c.metadata_bytes)
        )?;
        if self.staged_revisions > 0 {
            writeln!(
                f,
                "  staged           {} revisions from an unfinished sync",
                self.staged_revisions
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// `1536` → "1.5 KiB" (binary units, as the config's sizes).
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(0), "0 bytes");
        assert_eq!(human_bytes(1023), "1023 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(200 << 30), "200.0 GiB");
        assert_eq!(
            human_bytes(u64::MAX),
            "16384.0 PiB",
            "the largest unit caps"
        );
    }
}
