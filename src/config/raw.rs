//! Parse step: TOML text → raw serde shapes, with every unknown key and wrong type reported by
//! its full dotted name. The key list below is the one source for "which keys exist"; a test
//! checks it against the raw shapes and the printer.

use serde::Deserialize;
use toml::{Table, Value};

use super::Error;

/// One key of a table and a phrase describing what it takes (used in type errors).
pub(crate) struct KeySpec {
    pub name: &'static str,
    pub expect: &'static str,
}

/// One table of the config file and its keys, in the order the printer writes them.
pub(crate) struct TableSpec {
    pub name: &'static str,
    pub keys: &'static [KeySpec],
}

const fn key(name: &'static str, expect: &'static str) -> KeySpec {
    KeySpec { name, expect }
}

const ADDR: &str = r#"an address string like "0.0.0.0:8530" (IP:port)"#;
const PATH: &str = r#"a path string like "/etc/outpost/tls.crt""#;
const URL: &str = r#"a URL string like "https://wsus.hq.example:8531""#;
const DURATION: &str = r#"a duration string like "90s", "30m" or "6h""#;
const SIZE: &str = r#"a size like "200GiB", "512MiB" or an integer number of bytes"#;
const COUNT: &str = "an integer like 20";
const BOOL: &str = "true or false";

/// Every table and key the config file accepts.
pub(crate) const SCHEMA: &[TableSpec] = &[
    TableSpec {
        name: "server",
        keys: &[
            key("listen", ADDR),
            key("tls_listen", ADDR),
            key("tls_cert", PATH),
            key("tls_key", PATH),
            key(
                "public_url",
                r#"a URL string like "http://outpost.branch.example:8530""#,
            ),
            key(
                "admin_listen",
                r#"an address string like "127.0.0.1:9530" (IP:port)"#,
            ),
        ],
    },
    TableSpec {
        name: "upstream",
        keys: &[
            key("url", URL),
            key("ca_file", PATH),
            key(
                "content_url",
                r#"a URL string like "http://wsus.hq.example:8530""#,
            ),
            key("timeout", r#"a duration string like "60s""#),
            key("max_requests_per_second", COUNT),
        ],
    },
    TableSpec {
        name: "storage",
        keys: &[key("data_dir", r#"a path string like "/var/lib/outpost""#)],
    },
    TableSpec {
        name: "sync",
        keys: &[
            key(
                "interval",
                r#"a duration string like "6h" ("0s" disables the schedule)"#,
            ),
            key("replica", BOOL),
            key(
                "languages",
                r#"a list of language codes like ["en", "de"] (or ["all"])"#,
            ),
        ],
    },
    TableSpec {
        name: "content",
        keys: &[
            key("policy", r#"one of "approved", "all", "on-demand""#),
            key("max_cache_size", SIZE),
            key("download_concurrency", "an integer from 1 to 64"),
            key(
                "bandwidth_limit",
                r#"a size per second like "10MiB" or an integer ("0" = unlimited)"#,
            ),
        ],
    },
    TableSpec {
        name: "reporting",
        keys: &[
            key("rollup_interval", DURATION),
            key("batch_size", r#"an integer like 500"#),
            key("max_requests_per_second", COUNT),
        ],
    },
    TableSpec {
        name: "log",
        keys: &[
            key("format", r#"one of "auto", "human", "json""#),
            key(
                "level",
                r#"a tracing filter string like "info" or "info,outpost::sync=debug""#,
            ),
        ],
    },
];

/// A size as written: an integer of bytes or a string with a unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawSize {
    Bytes(i64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawConfig {
    pub server: RawServer,
    pub upstream: RawUpstream,
    pub storage: RawStorage,
    pub sync: RawSync,
    pub content: RawContent,
    pub reporting: RawReporting,
    pub log: RawLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawServer {
    pub listen: Option<String>,
    pub tls_listen: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub public_url: Option<String>,
    pub admin_listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawUpstream {
    pub url: Option<String>,
    pub ca_file: Option<String>,
    pub content_url: Option<String>,
    pub timeout: Option<String>,
    pub max_requests_per_second: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawStorage {
    pub data_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSync {
    pub interval: Option<String>,
    pub replica: Option<bool>,
    pub languages: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawContent {
    pub policy: Option<String>,
    pub max_cache_size: Option<RawSize>,
    pub download_concurrency: Option<i64>,
    pub bandwidth_limit: Option<RawSize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawReporting {
    pub rollup_interval: Option<String>,
    pub batch_size: Option<i64>,
    pub max_requests_per_second: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

/// Parses TOML text into the raw shapes. Errors name the dotted key they are about.
pub(crate) fn parse(text: &str) -> Result<RawConfig, Error> {
    let table: Table = text.parse().map_err(|e: toml::de::Error| Error::Parse {
        key: None,
        message: format!("not valid TOML: {}", e.to_string().trim_end()),
    })?;
    check_keys(&table)?;
    match RawConfig::deserialize(Value::Table(table.clone())) {
        Ok(raw) => Ok(raw),
        Err(e) => Err(locate_type_error(&table).unwrap_or_else(|| Error::Parse {
            key: None,
            message: e.message().to_owned(),
        })),
    }
}

/// Walks the document against [`SCHEMA`]: every table known, every key known.
fn check_keys(doc: &Table) -> Result<(), Error> {
    let table_names: Vec<&str> = SCHEMA.iter().map(|t| t.name).collect();
    for (name, value) in doc {
        let Some(spec) = SCHEMA.iter().find(|t| t.name == name) else {
            let message = if value.is_table() {
                let hint = suggest(name, &table_names)
                    .map(|s| format!("did you mean [{s}]? "))
                    .unwrap_or_default();
                format!(
                    "unknown table [{name}]; {hint}known tables: {}",
                    table_names.join(", ")
                )
            } else {
                let home = SCHEMA
                    .iter()
                    .find(|t| t.keys.iter().any(|k| k.name == name));
                match home {
                    Some(t) => format!(
                        "unknown key {name} at the top level; did you mean {name} in [{}]?",
                        t.name
                    ),
                    None => format!(
                        "unknown key {name} at the top level; keys belong in one of the tables: {}",
                        table_names.join(", ")
                    ),
                }
            };
            return Err(Error::Parse {
                key: Some(name.clone()),
                message,
            });
        };
        let Value::Table(section) = value else {
            return Err(Error::Parse {
                key: Some(name.clone()),
                message: format!(
                    "{name}: expected a table ([{name}] with keys under it), found {}",
                    describe(value)
                ),
            });
        };
        let known: Vec<&str> = spec.keys.iter().map(|k| k.name).collect();
        for key in section.keys() {
            if !known.contains(&key.as_str()) {
                let elsewhere = SCHEMA
                    .iter()
                    .find(|t| t.name != name && t.keys.iter().any(|k| k.name == key));
                let hint = match (suggest(key, &known), elsewhere) {
                    (Some(s), _) => format!("did you mean {name}.{s}? "),
                    (None, Some(t)) => format!("it belongs in [{}]; ", t.name),
                    (None, None) => String::new(),
                };
                return Err(Error::Parse {
                    key: Some(format!("{name}.{key}")),
                    message: format!(
                        "unknown key {name}.{key}; {hint}[{name}] accepts: {}",
                        known.join(", ")
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Finds the key whose value has the wrong type by deserializing each key on its own (every
/// raw field is optional, so a one-key document fails only because of that key).
fn locate_type_error(doc: &Table) -> Option<Error> {
    for spec in SCHEMA {
        let Some(Value::Table(section)) = doc.get(spec.name) else {
            continue;
        };
        for key in spec.keys {
            let Some(value) = section.get(key.name) else {
                continue;
            };
            let mut one = Table::new();
            one.insert(key.name.to_owned(), value.clone());
            let mut single = Table::new();
            single.insert(spec.name.to_owned(), Value::Table(one));
            if RawConfig::deserialize(Value::Table(single)).is_err() {
                let dotted = format!("{}.{}", spec.name, key.name);
                return Some(Error::Parse {
                    message: format!(
                        "{dotted}: expected {}, found {}",
                        key.expect,
                        describe(value)
                    ),
                    key: Some(dotted),
                });
            }
        }
    }
    None
}

/// A short description of a TOML value for error messages ("integer 6", "string \"x\"").
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("string {s:?}"),
        Value::Integer(i) => format!("integer {i}"),
        Value::Float(f) => format!("number {f}"),
        Value::Boolean(b) => format!("boolean {b}"),
        Value::Datetime(d) => format!("date-time {d}"),
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_table) => {
            "an array of tables ([[...]] instead of [...])".to_owned()
        }
        Value::Array(a) => match a.iter().find(|v| !v.is_str()) {
            Some(v) => format!("a list containing {}", describe(v)),
            None => "a list".to_owned(),
        },
        Value::Table(_) => "a table".to_owned(),
    }
}

/// The known name closest to a misspelt one, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(wrong: &str, known: &[&'a str]) -> Option<&'a str> {
    let wrong = wrong.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&wrong, k), *k))
        .filter(|(d, k)| {
            *d <= 2.max(k.len() / 4)
                || (wrong.len() >= 4 && (k.contains(&*wrong) || wrong.contains(k)))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over bytes (keys are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("lisen", &["listen", "admin_listen"]),
            Some("listen")
        );
        assert_eq!(
            suggest("listen_addr", &["listen", "tls_key"]),
            Some("listen")
        );
        assert_eq!(suggest("zzz", &["listen", "tls_key"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    /// Every key in SCHEMA is a field of the raw shapes: a one-key document with a value of
    /// the right type passes `deny_unknown_fields`.
    #[test]
    fn schema_matches_raw_shapes() {
        for spec in SCHEMA {
            for key in spec.keys {
                let sample = if key.expect == BOOL {
                    "true"
                } else if key.expect.starts_with("a list") {
                    r#"["en"]"#
                } else if key.expect.starts_with("an integer") {
                    "4"
                } else {
                    r#""x""#
                };
                let text = format!("[{}]\n{} = {sample}\n", spec.name, key.name);
                let table: Table = text.parse().expect("sample parses");
                RawConfig::deserialize(Value::Table(table))
                    .unwrap_or_else(|e| panic!("{}.{}: {e}", spec.name, key.name));
            }
        }
    }
}
