use std::collections::BTreeSet;
use std::time::Duration;

use super::raw::SCHEMA;
use super::*;

const MINIMAL: &str = "[upstream]\nurl = \"https://wsus.hq.example:8531\"\n";

fn defaults_with(url: &str) -> Config {
    Config {
        server: Server::default(),
        upstream: Upstream::with_url(url.to_owned()),
        storage: Storage::default(),
        sync: Sync::default(),
        content: Content::default(),
        reporting: Reporting::default(),
        log: Log::default(),
    }
}

fn err(text: &str) -> Error {
    match Config::from_toml(text) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

/// The defaults are exactly those written in INTERFACE.md.
#[test]
fn defaults_match_interface() {
    let c = Config::from_toml(MINIMAL).expect("minimal config");
    assert_eq!(c, defaults_with("https://wsus.hq.example:8531"));
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:8530");
    assert_eq!(c.server.admin_listen.to_string(), "127.0.0.1:9530");
    assert_eq!(c.upstream.timeout, Duration::from_secs(60));
    assert_eq!(c.upstream.max_requests_per_second, 20);
    assert_eq!(c.storage.data_dir, Path::new("/var/lib/outpost"));
    assert_eq!(c.sync.interval, Duration::from_secs(6 * 3600));
    assert!(c.sync.replica);
    assert_eq!(c.sync.languages, ["en"]);
    assert_eq!(c.content.policy, ContentPolicy::Approved);
    assert_eq!(c.content.max_cache_size, 200 * 1024 * 1024 * 1024);
    assert_eq!(c.content.download_concurrency, 4);
    assert_eq!(c.content.bandwidth_limit, 0);
    assert_eq!(c.reporting.rollup_interval, Duration::from_secs(30 * 60));
    assert_eq!(c.reporting.batch_size, 500);
    assert_eq!(c.reporting.max_requests_per_second, 5);
    assert_eq!(c.log.format, LogFormat::Auto);
    assert_eq!(c.log.level, "info");
}

/// The shipped, commented reference config documents the defaults: if a default changes
/// here or there, this fails.
#[test]
fn reference_config_is_the_defaults() {
    let c = Config::from_toml(include_str!("../../config/outpost.toml")).expect("outpost.toml");
    assert_eq!(c, defaults_with("https://wsus.hq.example:8531"));
}

#[test]
fn shipped_examples_parse() {
    for (name, text) in [
        ("config/demo.toml", include_str!("../../config/demo.toml")),
        ("config/test.toml", include_str!("../../config/test.toml")),
        (
            "docker/outpost.toml",
            include_str!("../../docker/outpost.toml"),
        ),
    ] {
        let c = Config::from_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Config::from_toml(&c.to_toml()).ok(), Some(c), "{name}");
    }
}

/// A config with every optional key set and every value away from its default.
fn everything(dir: &Path) -> Config {
    for name in ["tls.crt", "tls.key", "ca.pem"] {
        std::fs::write(dir.join(name), "pem").expect("write temp file");
    }
    let p = |name: &str| toml::Value::String(dir.join(name).to_string_lossy().into_owned());
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:18530"
tls_listen = "[::]:18531"
tls_cert = {}
tls_key = {}
public_url = "HTTP://Outpost.Branch.example:8530/wsus/"
admin_listen = "127.0.0.1:19530"

[upstream]
url = "http://wsus.hq.example:8530/"
ca_file = {}
content_url = "http://content.hq.example"
timeout = "1m 30s"
max_requests_per_second = 7

[storage]
data_dir = "relative/data dir"

[sync]
interval = "0s"
replica = false
languages = ["EN", "pt-br"]

[content]
policy = "on-demand"
max_cache_size = "1.5GiB"
download_concurrency = 64
bandwidth_limit = 1000

[reporting]
rollup_interval = "2h"
batch_size = 1
max_requests_per_second = 1

[log]
format = "json"
level = "info,outpost::sync=debug"
"#,
        p("tls.crt"),
        p("tls.key"),
        p("ca.pem"),
    );
    Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn everything_converts_and_normalizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = everything(dir.path());
    assert_eq!(
        c.server.tls_listen.map(|a| a.to_string()).as_deref(),
        Some("[::]:18531")
    );
    assert_eq!(
        c.server.public_url.as_deref(),
        Some("http://outpost.branch.example:8530/wsus")
    );
    assert_eq!(c.upstream.url, "http://wsus.hq.example:8530");
    assert_eq!(c.upstream.timeout, Duration::from_secs(90));
    assert_eq!(c.sync.interval, Duration::ZERO);
    assert_eq!(c.sync.languages, ["en", "pt-br"]);
    assert_eq!(c.content.policy, ContentPolicy::OnDemand);
    assert_eq!(c.content.max_cache_size, 3 << 29);
    assert_eq!(c.content.bandwidth_limit, 1000);
    assert_eq!(c.log.format, LogFormat::Json);
}

#[test]
fn round_trip_defaults_and_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    for c in [
        defaults_with("https://wsus.hq.example:8531"),
        everything(dir.path()),
    ] {
        let text = c.to_toml();
        let back = Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, c, "{text}");
    }
}

/// The printer writes exactly the keys of SCHEMA, in its tables, and nothing else.
#[test]
fn printer_covers_every_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = everything(dir.path()).to_toml();
    assert!(!text.contains("MISSING"), "{text}");
    let doc: toml::Table = text.parse().expect("printed TOML parses");
    let printed: BTreeSet<String> = doc
        .iter()
        .flat_map(|(t, v)| {
            let keys: Vec<String> = v
                .as_table()
                .map(|tbl| tbl.keys().map(|k| format!("{t}.{k}")).collect())
                .unwrap_or_default();
            keys
        })
        .collect();
    let schema: BTreeSet<String> = SCHEMA
        .iter()
        .flat_map(|t| t.keys.iter().map(move |k| format!("{}.{}", t.name, k.name)))
        .collect();
    assert_eq!(printed, schema);

    // With defaults, the optional keys are comments that say so.
    let defaults = defaults_with("https://wsus.hq.example:8531").to_toml();
    assert!(defaults.contains("# tls_listen is not set"), "{defaults}");
    assert!(
        defaults
            .contains("# content_url is not set: content comes from http://wsus.hq.example:8530"),
        "{defaults}"
    );
    assert!(
        defaults.contains("max_cache_size = \"200GiB\""),
        "{defaults}"
    );
    assert!(defaults.contains("bandwidth_limit = \"0\""), "{defaults}");
    assert!(defaults.contains("interval = \"6h\""), "{defaults}");
}

#[test]
fn content_url_rule() {
    let url = |u: &str| Upstream::with_url(u.to_owned()).effective_content_url();
    assert_eq!(url("http://wsus:8530"), "http://wsus:8530");
    assert_eq!(url("http://wsus"), "http://wsus");
    assert_eq!(url("https://wsus"), "http://wsus:80");
    assert_eq!(url("https://wsus:443"), "http://wsus:80");
    assert_eq!(url("https://wsus:8531"), "http://wsus:8530");
    assert_eq!(url("https://[::1]:9443"), "http://[::1]:9442");
    let mut u = Upstream::with_url("https://wsus:8531".to_owned());
    u.content_url = Some("http://cdn.example:81".to_owned());
    assert_eq!(u.effective_content_url(), "http://cdn.example:81");
}

#[test]
fn unknown_keys_name_the_dotted_key_and_suggest() {
    let e = err(&format!("{MINIMAL}[server]\nlisen = \"0.0.0.0:1\"\n"));
    assert_eq!(e.key(), Some("server.lisen"));
    let msg = e.to_string();
    assert!(msg.contains("unknown key server.lisen"), "{msg}");
    assert!(msg.contains("did you mean server.listen?"), "{msg}");

    let e = err(&format!("{MINIMAL}[sever]\nlisten = \"0.0.0.0:1\"\n"));
    assert_eq!(e.key(), Some("sever"));
    assert!(e.to_string().contains("did you mean [server]?"), "{e}");

    let e = err(&format!("interval = \"6h\"\n{MINIMAL}"));
    assert_eq!(e.key(), Some("interval"));
    assert!(e.to_string().contains("in [sync]"), "{e}");

    let e = err(&format!("{MINIMAL}interval = \"6h\"\n"));
    assert_eq!(e.key(), Some("upstream.interval"));
    assert!(e.to_string().contains("it belongs in [sync]"), "{e}");

    let e = err(&format!("{MINIMAL}[server.tls]\ncert = \"x\"\n"));
    assert_eq!(e.key(), Some("server.tls"));

    let e = err(&format!("server = 5\n{MINIMAL}"));
    assert_eq!(e.key(), Some("server"));
}

#[test]
fn type_errors_name_the_key() {
    let e = err(&format!("{MINIMAL}[sync]\ninterval = 6\n"));
    assert_eq!(e.key(), Some("sync.interval"));
    assert_eq!(
        e.to_string(),
        r#"sync.interval: expected a duration string like "6h" ("0s" disables the schedule), found integer 6"#
    );
    let e = err(&format!("{MINIMAL}[sync]\nlanguages = [\"en\", 1]\n"));
    assert_eq!(e.key(), Some("sync.languages"));
    let e = err(&format!("{MINIMAL}[content]\nmax_cache_size = 1.5\n"));
    assert_eq!(e.key(), Some("content.max_cache_size"));
    let e = err("[upstream]\nurl = [\"http://a\"]\n");
    assert_eq!(e.key(), Some("upstream.url"));
}

#[test]
fn syntax_errors_have_no_key() {
    let e = err("[upstream\nurl = 1");
    assert_eq!(e.key(), None);
    assert!(e.to_string().starts_with("not valid TOML"), "{e}");
}

#[test]
fn invalid_values_name_the_key() {
    let cases: &[(&str, &str)] = &[
        ("[server]\nlisten = \"localhost:8530\"", "server.listen"),
        (
            "[server]\nadmin_listen = \"0.0.0.0:8530\"",
            "server.admin_listen",
        ),
        ("[server]\npublic_url = \"ftp://x\"", "server.public_url"),
        ("[server]\ntls_listen = \"0.0.0.0:8531\"", "server.tls_cert"),
        (
            "[server]\ntls_cert = \"/nonexistent/outpost.crt\"",
            "server.tls_cert",
        ),
        ("ca_file = \"/nonexistent/ca.pem\"", "upstream.ca_file"),
        ("content_url = \"http://x/Content\"", "upstream.content_url"),
        ("timeout = \"0s\"", "upstream.timeout"),
        (
            "max_requests_per_second = 0",
            "upstream.max_requests_per_second",
        ),
        (
            "max_requests_per_second = 5000000000",
            "upstream.max_requests_per_second",
        ),
        ("[storage]\ndata_dir = \"\"", "storage.data_dir"),
        ("[sync]\ninterval = \"6 hourz\"", "sync.interval"),
        ("[sync]\nlanguages = []", "sync.languages"),
        ("[sync]\nlanguages = [\"\"]", "sync.languages"),
        ("[sync]\nlanguages = [\"en\", \"EN\"]", "sync.languages"),
        ("[sync]\nlanguages = [\"all\", \"en\"]", "sync.languages"),
        ("[content]\npolicy = \"ondemand\"", "content.policy"),
        (
            "[content]\nmax_cache_size = \"200GB\"",
            "content.max_cache_size",
        ),
        ("[content]\nmax_cache_size = -1", "content.max_cache_size"),
        (
            "[content]\ndownload_concurrency = 0",
            "content.download_concurrency",
        ),
        (
            "[content]\ndownload_concurrency = 65",
            "content.download_concurrency",
        ),
        (
            "[content]\nbandwidth_limit = \"fast\"",
            "content.bandwidth_limit",
        ),
        (
            "[reporting]\nrollup_interval = \"0s\"",
            "reporting.rollup_interval",
        ),
        ("[reporting]\nbatch_size = 0", "reporting.batch_size"),
        (
            "[reporting]\nmax_requests_per_second = -5",
            "reporting.max_requests_per_second",
        ),
        ("[log]\nformat = \"pretty\"", "log.format"),
        ("[log]\nlevel = \"outpost=loud\"", "log.level"),
        ("[log]\nlevel = \"inof\"", "log.level"),
        ("[log]\nlevel = \"\"", "log.level"),
    ];
    // Lines without a table header continue MINIMAL's [upstream] table.
    for (text, key) in cases {
        let e = err(&format!("{MINIMAL}{text}\n"));
        assert_eq!(e.key(), Some(*key), "{text}: {e}");
        assert!(e.to_string().starts_with(key), "{text}: {e}");
    }
    let e = err("");
    assert_eq!(e.key(), Some("upstream.url"));
    for bad in ["ftp://wsus", "wsus:8530", "https://wsus/path", "https://"] {
        let e = err(&format!("[upstream]\nurl = \"{bad}\"\n"));
        assert_eq!(e.key(), Some("upstream.url"), "{bad}");
    }
}

#[test]
fn word_choices_list_every_spelling() {
    let e = err(&format!("{MINIMAL}[content]\npolicy = \"ondemand\"\n"));
    assert!(
        e.to_string()
            .ends_with("\"ondemand\" is not a policy; use \"approved\", \"all\" or \"on-demand\""),
        "{e}"
    );
    let e = err(&format!("{MINIMAL}[log]\nformat = \"pretty\"\n"));
    assert!(
        e.to_string()
            .ends_with("\"pretty\" is not a log format; use \"auto\", \"human\" or \"json\""),
        "{e}"
    );
}

#[test]
fn valid_edge_values() {
    for text in [
        "[log]\nlevel = \"warn,outpost::sync=debug,hyper=off\"",
        "[log]\nlevel = \"outpost\"",
        "[log]\nlevel = \"DEBUG\"",
        "[sync]\nlanguages = [\"all\"]",
        "[content]\nbandwidth_limit = \"0\"\nmax_cache_size = 0",
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"",
        "[server]\nlisten = \"127.0.0.1:8530\"\nadmin_listen = \"127.0.0.2:8530\"",
    ] {
        Config::from_toml(&format!("{MINIMAL}{text}\n")).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

#[test]
fn io_error_names_the_path() {
    let e = match Config::load(Path::new("/nonexistent/outpost.toml")) {
        Ok(_) => panic!("loaded a missing file"),
        Err(e) => e,
    };
    assert_eq!(e.key(), None);
    assert!(e.to_string().contains("/nonexistent/outpost.toml"), "{e}");
}

#[test]
fn tls_keys_go_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("tls.crt");
    std::fs::write(&cert, "pem").expect("write cert");
    let cert = toml::Value::String(cert.to_string_lossy().into_owned());
    let e = err(&format!(
        "{MINIMAL}[server]\ntls_listen = \"0.0.0.0:8531\"\ntls_cert = {cert}\n"
    ));
    assert_eq!(e.key(), Some("server.tls_key"), "{e}");
    let e = err(&format!("{MINIMAL}[server]\ntls_cert = {cert}\n"));
    assert_eq!(e.key(), Some("server.tls_listen"), "{e}");
    let e = err(&format!(
        "{MINIMAL}[server]\ntls_listen = \"0.0.0.0:8530\"\ntls_cert = {cert}\ntls_key = {cert}\n"
    ));
    assert_eq!(
        e.key(),
        Some("server.tls_listen"),
        "same port as listen: {e}"
    );
}
