//! Shared helpers: a lab upstream plus a replica config in a temp dir, and the real binary.

use outpost::config::Config;
use outpost::lab::{Lab, LabOptions, LabServer, RecordedRequest};
use outpost::sync::{NoProgress, Report};
use std::path::Path;
use std::process::Output;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// A lab upstream and a replica data dir pointing at it.
pub struct Setup {
    pub lab: LabServer,
    /// Keeps the replica's data dir alive for the test's duration.
    _dir: TempDir,
    pub config: Config,
    pub config_path: std::path::PathBuf,
}

pub async fn setup(updates: usize) -> Setup {
    setup_with(LabOptions {
        updates,
        ..LabOptions::default()
    })
    .await
}

pub async fn setup_with(options: LabOptions) -> Setup {
    setup_configured(options, "").await
}

/// A lab with `updates` plain updates and a replica with `content.policy = policy` plus the
/// `extra` `[content]` keys.
pub async fn replica(updates: usize, policy: &str, extra: &str) -> Setup {
    setup_configured(
        LabOptions {
            updates,
            ..LabOptions::default()
        },
        &format!("\n[content]\npolicy = \"{policy}\"\n{extra}"),
    )
    .await
}

/// Like `setup_with`, with `extra` TOML appended to the config (e.g. a `[content]` table).
pub async fn setup_configured(options: LabOptions, extra: &str) -> Setup {
    let lab = Lab::new(options).start().await.expect("lab starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!("{}{extra}", config_text(&lab.url, dir.path()));
    let config_path = dir.path().join("outpost.toml");
    std::fs::write(&config_path, &text).expect("write config");
    let config = Config::from_toml(&text).expect("test config is valid");
    Setup {
        lab,
        _dir: dir,
        config,
        config_path,
    }
}

/// A replica config for `url` with its data in `dir/data`; fast retries keep failure tests short.
pub fn config_text(url: &str, dir: &Path) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[upstream]
url = "{url}"
timeout = "20s"
max_requests_per_second = 1000

[storage]
data_dir = "{}"

[log]
level = "off"
"#,
        dir.join("data").display()
    )
}

impl Setup {
    pub async fn sync(&self) -> anyhow::Result<Report> {
        self.sync_with(&CancellationToken::new()).await
    }

    /// A metadata-only pass (`sync --no-content`).
    pub async fn sync_with(&self, cancel: &CancellationToken) -> anyhow::Result<Report> {
        outpost::app::sync_once(&self.config, &NoProgress, cancel, false)
            .await
            .map(|o| o.metadata)
    }

    /// A full pass: metadata, then content per policy.
    pub async fn sync_all(&self) -> anyhow::Result<outpost::app::SyncOutcome> {
        outpost::app::sync_once(&self.config, &NoProgress, &CancellationToken::new(), true).await
    }

    /// Start `serve` in this process on a loopback port (as `outpost serve` does); stops when
    /// the returned server is dropped.
    pub async fn serve(&self) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let cancel = CancellationToken::new();
        let task = {
            let (config, cancel) = (self.config.clone(), cancel.clone());
            tokio::spawn(async move { outpost::app::serve_on(&config, listener, cancel).await })
        };
        Served {
            url,
            cancel,
            task: Some(task),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.storage.data_dir
    }

    pub fn status(&self) -> outpost::status::Status {
        outpost::app::status(&self.config).expect("status")
    }

    pub fn store(&self) -> outpost::store::Store {
        outpost::app::open_store(&self.config).expect("store opens")
    }

    /// Start the real `outpost` binary with this setup's config without waiting for it
    /// (stderr piped, for `wait_with_output`; the test config logs nothing).
    pub fn spawn_outpost(&self, args: &[&str]) -> tokio::process::Child {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
            .args(args)
            .arg("--config")
            .arg(&self.config_path)
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("outpost starts")
    }

    /// Run the real `outpost` binary with this setup's config.
    pub async fn outpost(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        let path = self.config_path.to_string_lossy().into_owned();
        all.extend(["--config", &path]);
        run_outpost(&all).await
    }
}

/// A replica serving in this process.
pub struct Served {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Served {
    /// Stop and wait for the server to return; panics if it failed.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("serve task").expect("serve ends cleanly");
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub async fn run_outpost(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("outpost runs")
}

/// Send SIGTERM to a child, as systemd does on stop.
pub fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("the child is running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -TERM {pid}");
}

/// The one-line reason `outpost` prints on failure.
pub fn reason(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .filter(|l| l.starts_with("outpost: "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The calls of one operation the lab has received, in order.
pub fn calls(lab: &Lab, op: &str) -> Vec<RecordedRequest> {
    lab.requests()
        .into_iter()
        .filter(|r| r.operation == op)
        .collect()
}

/// Wait until the lab has received at least `n` calls of `op`.
pub async fn wait_for_calls(lab: &Lab, op: &str, n: usize) {
    while calls(lab, op).len() < n {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
