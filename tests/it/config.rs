//! Config files from disk: every invalid fixture is refused with an error naming its key, and
//! every shipped example loads and survives print → parse unchanged.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use outpost::config::Config;

/// Each fixture in tests/fixtures/config and the key its error must name (None: not TOML, so
/// there is no key; the message gives the line instead). A fixture missing from this table,
/// or an entry without a fixture, fails `every_invalid_fixture_names_its_key`.
const EXPECTED: &[(&str, Option<&str>)] = &[
    ("not_toml", None),
    ("unknown_table", Some("sever")),
    ("unknown_top_level_key", Some("data_dir")),
    ("unknown_nested_table", Some("server.tls")),
    ("server_not_a_table", Some("server")),
    ("unknown_key_server", Some("server.lisen")),
    ("unknown_key_upstream", Some("upstream.proxy")),
    ("unknown_key_storage", Some("storage.path")),
    ("unknown_key_sync", Some("sync.intervall")),
    ("unknown_key_content", Some("content.cache_size")),
    ("unknown_key_reporting", Some("reporting.interval")),
    ("unknown_key_log", Some("log.levels")),
    ("bad_listen", Some("server.listen")),
    ("admin_listen_integer", Some("server.admin_listen")),
    ("listen_conflict", Some("server.admin_listen")),
    ("tls_listen_without_cert", Some("server.tls_cert")),
    ("missing_tls_cert_file", Some("server.tls_cert")),
    ("bad_public_url", Some("server.public_url")),
    ("missing_upstream_url", Some("upstream.url")),
    ("missing_upstream_table", Some("upstream.url")),
    ("bad_url_scheme", Some("upstream.url")),
    ("url_without_scheme", Some("upstream.url")),
    ("url_with_path", Some("upstream.url")),
    ("url_bad_port", Some("upstream.url")),
    ("missing_ca_file", Some("upstream.ca_file")),
    ("bad_content_url", Some("upstream.content_url")),
    ("zero_timeout", Some("upstream.timeout")),
    ("timeout_integer", Some("upstream.timeout")),
    ("zero_rate", Some("upstream.max_requests_per_second")),
    ("rate_string", Some("upstream.max_requests_per_second")),
    ("empty_data_dir", Some("storage.data_dir")),
    ("bad_duration", Some("sync.interval")),
    ("duration_without_unit", Some("sync.interval")),
    ("replica_string", Some("sync.replica")),
    ("empty_languages", Some("sync.languages")),
    ("languages_string", Some("sync.languages")),
    ("bad_policy", Some("content.policy")),
    ("bad_size", Some("content.max_cache_size")),
    ("negative_size", Some("content.max_cache_size")),
    ("bad_bandwidth", Some("content.bandwidth_limit")),
    ("concurrency_zero", Some("content.download_concurrency")),
    ("concurrency_too_high", Some("content.download_concurrency")),
    ("zero_rollup_interval", Some("reporting.rollup_interval")),
    ("zero_batch_size", Some("reporting.batch_size")),
    (
        "zero_rollup_rate",
        Some("reporting.max_requests_per_second"),
    ),
    ("bad_log_format", Some("log.format")),
    ("bad_log_level", Some("log.level")),
    ("log_level_typo", Some("log.level")),
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn fixture_names() -> BTreeSet<String> {
    let dir = repo("tests/fixtures/config");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect()
}

#[test]
fn every_fixture_has_an_expectation() {
    let on_disk = fixture_names();
    let expected: BTreeSet<String> = EXPECTED.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(
        EXPECTED.len(),
        expected.len(),
        "a fixture is listed twice in EXPECTED"
    );
    let unlisted: Vec<_> = on_disk.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&on_disk).collect();
    assert!(
        unlisted.is_empty(),
        "fixtures without an entry in EXPECTED: {unlisted:?}"
    );
    assert!(
        missing.is_empty(),
        "EXPECTED entries without a fixture file: {missing:?}"
    );
}

#[test]
fn every_invalid_fixture_names_its_key() {
    let mut failures = Vec::new();
    for (name, key) in EXPECTED {
        let path = repo(&format!("tests/fixtures/config/{name}.toml"));
        match Config::load(&path) {
            Ok(_) => failures.push(format!("{name}: loaded, but it is invalid")),
            Err(e) => {
                let message = e.to_string();
                if e.key() != *key {
                    failures.push(format!(
                        "{name}: key {:?}, expected {key:?} ({message})",
                        e.key()
                    ));
                }
                match key {
                    Some(key) if !message.contains(key) => {
                        failures.push(format!("{name}: message does not name {key}: {message}"));
                    }
                    None if !message.contains("line") => {
                        failures.push(format!("{name}: syntax error without a line: {message}"));
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The shipped configs load from disk, and printing the effective config then parsing it
/// gives the same config.
#[test]
fn shipped_configs_round_trip() {
    for path in [
        "config/outpost.toml",
        "config/demo.toml",
        "config/test.toml",
        "docker/outpost.toml",
    ] {
        let config = Config::load(&repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let printed = config.to_toml();
        let back = Config::from_toml(&printed).unwrap_or_else(|e| panic!("{path}: {e}\n{printed}"));
        assert_eq!(back, config, "{path}:\n{printed}");
    }
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent.toml");
    let e = Config::load(&path).expect_err("no such file");
    assert_eq!(e.key(), None);
    assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
}
