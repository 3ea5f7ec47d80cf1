//! The operator's TOML config file (keys and defaults: INTERFACE.md), in four steps:
//! parse (`raw`: serde shapes, unknown keys refused by dotted name) → convert (`convert`:
//! durations, sizes, addresses) → validate (same place: ranges, cross-key rules, files exist) →
//! print (`print`: the effective config, which parses back to the same `Config`).
//! Every error names the key it is about and says what would be accepted.

mod convert;
mod print;
mod raw;
mod units;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub server: Server,
    pub upstream: Upstream,
    pub storage: Storage,
    pub sync: Sync,
    pub content: Content,
    pub reporting: Reporting,
    pub log: Log,
}

/// `[server]`: the client-facing listeners and the admin listener.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// Plain HTTP WUSP + /Content.
    pub listen: SocketAddr,
    /// HTTPS listener; when set, `tls_cert` and `tls_key` are set too (validated).
    pub tls_listen: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Base of content URLs handed to clients, `http(s)://host[:port][/path]`, no trailing '/'.
    pub public_url: Option<String>,
    /// /status, /metrics, /, POST /sync.
    pub admin_listen: SocketAddr,
}

/// `[upstream]`: the upstream server (USS) we sync from and roll up to.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// `http(s)://host[:port]`: lower-case scheme and host, no trailing '/', no path or query.
    pub url: String,
    /// Extra trust anchor (PEM) for the USS; the file existed when the config was loaded.
    pub ca_file: Option<PathBuf>,
    /// Where the USS serves /Content, same shape as `url`; see [`Upstream::effective_content_url`].
    pub content_url: Option<String>,
    /// Per-request timeout, > 0.
    pub timeout: Duration,
    /// Average request rate to the USS, ≥ 1.
    pub max_requests_per_second: u32,
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    /// Metadata database + content cache; relative paths are relative to the working directory.
    pub data_dir: PathBuf,
}

/// `[sync]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sync {
    /// Time between scheduled syncs; zero disables the schedule.
    pub interval: Duration,
    /// Also sync target groups + approvals.
    pub replica: bool,
    /// Lower-case language codes as the USS spells them (`en`, `pt-br`), no duplicates, at
    /// least one; `["all"]` (alone) means every language.
    pub languages: Vec<String>,
}

/// `[content]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub policy: ContentPolicy,
    /// Bytes.
    pub max_cache_size: u64,
    /// 1..=64.
    pub download_concurrency: usize,
    /// Bytes per second from the USS across all downloads; 0 = unlimited.
    pub bandwidth_limit: u64,
}

/// Which content files are fetched ahead of client demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentPolicy {
    /// Files of Install approvals (and their bundle children).
    #[default]
    Approved,
    /// Every file the metadata names.
    All,
    /// Nothing ahead; fetch on the first client request.
    OnDemand,
}

impl ContentPolicy {
    pub const ALL: [ContentPolicy; 3] = [Self::Approved, Self::All, Self::OnDemand];

    /// The config-file spelling, also used in logs and status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::All => "all",
            Self::OnDemand => "on-demand",
        }
    }
}

/// `[reporting]`: the rollup of client reports to the USS.
#[derive(Debug, Clone, PartialEq)]
pub struct Reporting {
    /// Time between scheduled rollups, > 0.
    pub rollup_interval: Duration,
    /// Computers or statuses per upstream call, ≥ 1 (callers also cap it at the USS's maximum).
    pub batch_size: u32,
    /// Average rollup request rate, ≥ 1.
    pub max_requests_per_second: u32,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    pub format: LogFormat,
    /// A valid `tracing_subscriber::EnvFilter` directive string.
    pub level: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human on a TTY, JSON otherwise.
    #[default]
    Auto,
    Human,
    Json,
}

impl LogFormat {
    pub const ALL: [LogFormat; 3] = [Self::Auto, Self::Human, Self::Json];

    /// The config-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Human => "human",
            Self::Json => "json",
        }
    }
}

/// A config that cannot be used. Every variant except `Io` (and TOML syntax errors) names
/// the dotted key at fault; the message says what would be accepted.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or a key is unknown or has the wrong type. When `key` is set,
    /// `message` starts with or contains it.
    #[error("{message}")]
    Parse {
        key: Option<String>,
        message: String,
    },
    /// A key has a value of the right type that is not acceptable.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl Error {
    /// The dotted key at fault (`server.listen`), when the error is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            Error::Io { .. } => None,
            Error::Parse { key, .. } => key.as_deref(),
            Error::Invalid { key, .. } => Some(key),
        }
    }

    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Error::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl Config {
    /// Reads, parses, converts and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses, converts and validates config text. Checks that named files (`upstream.ca_file`,
    /// TLS cert and key) exist, relative to the working directory.
    pub fn from_toml(text: &str) -> Result<Config, Error> {
        convert::convert(raw::parse(text)?)
    }

    /// The effective config as TOML: every key with its value in effect (defaults filled in,
    /// values normalized); unset optional keys appear as comments. `from_toml` reads it back
    /// to an equal `Config`.
    pub fn to_toml(&self) -> String {
        print::to_toml(self)
    }
}

impl Upstream {
    /// Where the USS serves `/Content`: `content_url` if set, else derived from `url` by the
    /// MS-WSUSSS §2.1 rule (wsusss.md §1.1): `http://` → the same base URL (real WSUS serves
    /// content on its web-service port); `https://` on 443 → `http://host:80`; `https://` on
    /// port N ≠ 443 → `http://host:(N-1)` (8531 → 8530).
    pub fn effective_content_url(&self) -> String {
        if let Some(url) = &self.content_url {
            return url.clone();
        }
        match units::parse_base_url(&self.url, false) {
            Ok((base, _)) if base.scheme == "https" => {
                let port = match base.port_or_default() {
                    443 => 80,
                    // Port 1 would give 0, which is no port: fall back to the HTTP default.
                    1 => 80,
                    n => n - 1,
                };
                format!("http://{}:{port}", base.host)
            }
            // http:// (or a hand-built, unvalidated url): content is at the same base.
            _ => self.url.clone(),
        }
    }
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: SocketAddr::from(([0, 0, 0, 0], 8530)),
            tls_listen: None,
            tls_cert: None,
            tls_key: None,
            public_url: None,
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9530)),
        }
    }
}

impl Upstream {
    /// The defaults of every `[upstream]` key except `url`, which has none (not validated).
    pub(crate) fn with_url(url: String) -> Self {
        Upstream {
            url,
            ca_file: None,
            content_url: None,
            timeout: Duration::from_secs(60),
            max_requests_per_second: 20,
        }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            data_dir: PathBuf::from("/var/lib/outpost"),
        }
    }
}

impl Default for Sync {
    fn default() -> Self {
        Sync {
            interval: Duration::from_secs(6 * 3600),
            replica: true,
            languages: vec!["en".to_owned()],
        }
    }
}

impl Default for Content {
    fn default() -> Self {
        Content {
            policy: ContentPolicy::Approved,
            max_cache_size: 200 << 30,
            download_concurrency: 4,
            bandwidth_limit: 0,
        }
    }
}

impl Default for Reporting {
    fn default() -> Self {
        Reporting {
            rollup_interval: Duration::from_secs(30 * 60),
            batch_size: 500,
            max_requests_per_second: 5,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            format: LogFormat::Auto,
            level: "info".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
