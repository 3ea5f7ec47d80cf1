//! Convert + validate step: raw shapes → typed `Config`, defaults filled in from the `Default`
//! impls (the one place defaults live), every value checked with an error naming its key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::raw::{RawConfig, RawSize};
use super::units::{self, parse_base_url};
use super::{
    Config, Content, ContentPolicy, Error, Log, LogFormat, Reporting, Server, Storage, Sync,
    Upstream,
};

pub(crate) fn convert(raw: RawConfig) -> Result<Config, Error> {
    let config = Config {
        server: server(raw.server)?,
        upstream: upstream(raw.upstream)?,
        storage: storage(raw.storage)?,
        sync: sync(raw.sync)?,
        content: content(raw.content)?,
        reporting: reporting(raw.reporting)?,
        log: log(raw.log)?,
    };
    check_listeners(&config.server)?;
    Ok(config)
}

fn server(raw: super::raw::RawServer) -> Result<Server, Error> {
    let d = Server::default();
    let server = Server {
        listen: opt(raw.listen, "server.listen", addr)?.unwrap_or(d.listen),
        tls_listen: opt(raw.tls_listen, "server.tls_listen", addr)?,
        tls_cert: opt(raw.tls_cert, "server.tls_cert", existing_file)?,
        tls_key: opt(raw.tls_key, "server.tls_key", existing_file)?,
        public_url: opt(raw.public_url, "server.public_url", |key, text| {
            let (base, path) = parse_base_url(&text, true).map_err(|e| Error::invalid(key, e))?;
            Ok(format!("{base}{path}"))
        })?,
        admin_listen: opt(raw.admin_listen, "server.admin_listen", addr)?.unwrap_or(d.admin_listen),
    };
    match (&server.tls_listen, &server.tls_cert, &server.tls_key) {
        (Some(_), None, _) => Err(Error::invalid(
            "server.tls_cert",
            "required when server.tls_listen is set: the PEM certificate (chain) for HTTPS, \
             e.g. tls_cert = \"/etc/outpost/tls.crt\"",
        )),
        (Some(_), _, None) => Err(Error::invalid(
            "server.tls_key",
            "required when server.tls_listen is set: the PEM private key for HTTPS, \
             e.g. tls_key = \"/etc/outpost/tls.key\"",
        )),
        (None, Some(_), _) | (None, _, Some(_)) => Err(Error::invalid(
            "server.tls_listen",
            "missing while server.tls_cert/server.tls_key are set: add \
             tls_listen = \"0.0.0.0:8531\" to serve HTTPS, or remove the certificate keys",
        )),
        _ => Ok(server),
    }
}

/// Two listeners on the same port fail at start-up with a vague "address in use"; say which
/// keys collide instead. Port 0 (tests: "any free port") never collides.
fn check_listeners(server: &Server) -> Result<(), Error> {
    let mut seen: Vec<(&str, SocketAddr)> = vec![("server.listen", server.listen)];
    if let Some(tls) = server.tls_listen {
        seen.push(("server.tls_listen", tls));
    }
    seen.push(("server.admin_listen", server.admin_listen));
    for (i, (key, a)) in seen.iter().enumerate() {
        for (other, b) in &seen[..i] {
            let overlap = a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified();
            if a.port() != 0 && a.port() == b.port() && overlap {
                return Err(Error::invalid(
                    key,
                    format!(
                        "{a} uses the same port as {other} ({b}); give each listener its own port"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn upstream(raw: super::raw::RawUpstream) -> Result<Upstream, Error> {
    let Some(url) = raw.url else {
        return Err(Error::invalid(
            "upstream.url",
            "missing: it has no default. Set the upstream server (USS) under [upstream], \
             e.g. url = \"https://wsus.hq.example:8531\"",
        ));
    };
    let url = base_url("upstream.url", url)?;
    let d = Upstream::with_url(url);
    Ok(Upstream {
        ca_file: opt(raw.ca_file, "upstream.ca_file", existing_file)?,
        content_url: opt(raw.content_url, "upstream.content_url", base_url)?,
        timeout: opt(raw.timeout, "upstream.timeout", nonzero_duration)?.unwrap_or(d.timeout),
        max_requests_per_second: opt(
            raw.max_requests_per_second,
            "upstream.max_requests_per_second",
            positive_u32,
        )?
        .unwrap_or(d.max_requests_per_second),
        ..d
    })
}

fn storage(raw: super::raw::RawStorage) -> Result<Storage, Error> {
    Ok(Storage {
        data_dir: opt(raw.data_dir, "storage.data_dir", path)?
            .unwrap_or(Storage::default().data_dir),
    })
}

fn sync(raw: super::raw::RawSync) -> Result<Sync, Error> {
    let d = Sync::default();
    Ok(Sync {
        interval: opt(raw.interval, "sync.interval", duration)?.unwrap_or(d.interval),
        replica: raw.replica.unwrap_or(d.replica),
        languages: opt(raw.languages, "sync.languages", languages)?.unwrap_or(d.languages),
    })
}

fn languages(key: &str, list: Vec<String>) -> Result<Vec<String>, Error> {
    if list.is_empty() {
        return Err(Error::invalid(
            key,
            "empty: list at least one language code, e.g. [\"en\"], \
             or [\"all\"] for every language",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for code in list {
        let code = code.trim().to_ascii_lowercase();
        let ok = !code.is_empty()
            && code.len() <= 16
            && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(Error::invalid(
                key,
                format!(
                    "{code:?} is not a language code; use codes like \"en\", \"de\", \"pt-br\""
                ),
            ));
        }
        if out.contains(&code) {
            return Err(Error::invalid(key, format!("{code:?} is listed twice")));
        }
        out.push(code);
    }
    if out.len() > 1 && out.iter().any(|c| c == "all") {
        return Err(Error::invalid(
            key,
            "\"all\" already means every language: write [\"all\"] alone",
        ));
    }
    Ok(out)
}

fn content(raw: super::raw::RawContent) -> Result<Content, Error> {
    let d = Content::default();
    let policy = opt(raw.policy, "content.policy", |key, text| {
        one_of(
            key,
            &text,
            ContentPolicy::ALL,
            ContentPolicy::as_str,
            "a policy",
        )
    })?;
    let concurrency = opt(
        raw.download_concurrency,
        "content.download_concurrency",
        |k, v| usize::try_from(int(k, v, 1, 64)?).map_err(|_| Error::invalid(k, "out of range")),
    )?;
    Ok(Content {
        policy: policy.unwrap_or(d.policy),
        max_cache_size: opt(raw.max_cache_size, "content.max_cache_size", size)?
            .unwrap_or(d.max_cache_size),
        download_concurrency: concurrency.unwrap_or(d.download_concurrency),
        bandwidth_limit: opt(raw.bandwidth_limit, "content.bandwidth_limit", size)?
            .unwrap_or(d.bandwidth_limit),
    })
}

fn reporting(raw: super::raw::RawReporting) -> Result<Reporting, Error> {
    let d = Reporting::default();
    Ok(Reporting {
        rollup_interval: opt(
            raw.rollup_interval,
            "reporting.rollup_interval",
            nonzero_duration,
        )?
        .unwrap_or(d.rollup_interval),
        batch_size: opt(raw.batch_size, "reporting.batch_size", positive_u32)?
            .unwrap_or(d.batch_size),
        max_requests_per_second: opt(
            raw.max_requests_per_second,
            "reporting.max_requests_per_second",
            positive_u32,
        )?
        .unwrap_or(d.max_requests_per_second),
    })
}

fn log(raw: super::raw::RawLog) -> Result<Log, Error> {
    let d = Log::default();
    let format = opt(raw.format, "log.format", |key, text| {
        one_of(
            key,
            &text,
            LogFormat::ALL,
            LogFormat::as_str,
            "a log format",
        )
    })?;
    Ok(Log {
        format: format.unwrap_or(d.format),
        level: opt(raw.level, "log.level", log_level)?.unwrap_or(d.level),
    })
}

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// A `tracing_subscriber::EnvFilter` directive string. A bare word is a target name to
/// EnvFilter ("inof" would silently enable target `inof` at TRACE), so a bare word that is
/// one typo away from a level name is refused as the typo it almost certainly is.
fn log_level(key: &str, text: String) -> Result<String, Error> {
    let text = text.trim().to_owned();
    let fix = "use a level (off, error, warn, info, debug, trace) or directives like \
               \"info,outpost::sync=debug\"";
    if text.is_empty() {
        return Err(Error::invalid(key, format!("empty; {fix}")));
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&text) {
        return Err(Error::invalid(
            key,
            format!("{text:?} is not a valid filter ({e}); {fix}"),
        ));
    }
    for directive in text.split(',').map(str::trim) {
        let bare = !directive.contains(['=', '[', ':']);
        let lower = directive.to_ascii_lowercase();
        if bare && !LEVELS.contains(&lower.as_str()) {
            if let Some(level) = super::raw::suggest(&lower, &LEVELS) {
                return Err(Error::invalid(
                    key,
                    format!("{directive:?} is not a level; did you mean {level:?}? {fix}"),
                ));
            }
        }
    }
    Ok(text)
}

/// Applies `convert` to a value that is present, passing the dotted key for its errors.
fn opt<T, U>(
    value: Option<T>,
    key: &str,
    convert: impl FnOnce(&str, T) -> Result<U, Error>,
) -> Result<Option<U>, Error> {
    value.map(|v| convert(key, v)).transpose()
}

/// The value of `all` spelled `text`; the error names `what` was expected and lists the
/// spellings (`use "a", "b" or "c"`).
fn one_of<T: Copy, const N: usize>(
    key: &str,
    text: &str,
    all: [T; N],
    spelling: fn(T) -> &'static str,
    what: &str,
) -> Result<T, Error> {
    all.into_iter()
        .find(|v| spelling(*v) == text)
        .ok_or_else(|| {
            let words: Vec<String> = all.iter().map(|v| format!("{:?}", spelling(*v))).collect();
            let choices = match words.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => words.concat(),
            };
            Error::invalid(key, format!("{text:?} is not {what}; use {choices}"))
        })
}

fn addr(key: &str, text: String) -> Result<SocketAddr, Error> {
    text.trim().parse().map_err(|_| {
        Error::invalid(
            key,
            format!(
                "{text:?} is not an IP:port address; write e.g. \"0.0.0.0:8530\", \
                 \"127.0.0.1:9530\" or \"[::]:8530\" (host names are not resolved)"
            ),
        )
    })
}

fn path(key: &str, text: String) -> Result<PathBuf, Error> {
    if text.trim().is_empty() {
        return Err(Error::invalid(key, "empty path; give a file system path"));
    }
    Ok(PathBuf::from(text))
}

fn existing_file(key: &str, text: String) -> Result<PathBuf, Error> {
    let p = path(key, text)?;
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() => Ok(p),
        Ok(_) => Err(Error::invalid(
            key,
            format!("{} is not a file", p.display()),
        )),
        Err(e) => Err(Error::invalid(
            key,
            format!(
                "cannot use {}: {e}; give the path of an existing PEM file",
                p.display()
            ),
        )),
    }
}

fn base_url(key: &str, text: String) -> Result<String, Error> {
    parse_base_url(&text, false)
        .map(|(base, _)| base.to_string())
        .map_err(|e| Error::invalid(key, e))
}

fn duration(key: &str, text: String) -> Result<Duration, Error> {
    units::parse_duration(&text).map_err(|e| {
        Error::invalid(
            key,
            format!("expected a duration like \"90s\", \"30m\" or \"6h\" ({e})"),
        )
    })
}

fn nonzero_duration(key: &str, text: String) -> Result<Duration, Error> {
    let d = duration(key, text)?;
    if d.is_zero() {
        return Err(Error::invalid(key, "must be greater than 0s"));
    }
    Ok(d)
}

fn size(key: &str, raw: RawSize) -> Result<u64, Error> {
    match raw {
        RawSize::Bytes(n) => u64::try_from(n).map_err(|_| {
            Error::invalid(key, format!("{n} is negative; sizes are 0 or more bytes"))
        }),
        RawSize::Text(text) => units::parse_size(&text).map_err(|e| {
            Error::invalid(
                key,
                format!(
                    "{e}; write a size like \"200GiB\", \"512MiB\", \"10KiB\" or a number of bytes"
                ),
            )
        }),
    }
}

fn int(key: &str, n: i64, min: i64, max: i64) -> Result<i64, Error> {
    if n < min {
        Err(Error::invalid(
            key,
            format!("{n} is too small; the minimum is {min}"),
        ))
    } else if n > max {
        Err(Error::invalid(
            key,
            format!("{n} is too large; the maximum is {max}"),
        ))
    } else {
        Ok(n)
    }
}

/// A rate or count that must be at least 1 and fit a `u32`.
fn positive_u32(key: &str, n: i64) -> Result<u32, Error> {
    let n = int(key, n, 1, u32::MAX.into())?;
    u32::try_from(n).map_err(|_| Error::invalid(key, format!("{n} is too large")))
}
