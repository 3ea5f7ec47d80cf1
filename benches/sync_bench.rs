//! The sync benchmark: an initial sync of a large lab catalog by the real `outpost` binary,
//! against the time to merely download the same response bytes over loopback in the same run.
//!
//! usage: sync-bench [--updates N] [--outpost PATH]
//! (`benches/sync.sh` builds the release binaries and runs this.)
//!
//! The lab runs in this process so its memory is not counted; `outpost sync` runs as a child
//! and reports its own peak RSS (VmHWM) in its final log line.

use anyhow::{bail, Context};
use outpost::lab::{Lab, LabOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut updates = 20_000usize;
    let mut outpost = std::env::current_exe()?
        .parent()
        .context("exe dir")?
        .join("outpost");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--updates" => updates = args.next().context("--updates N")?.parse()?,
            "--outpost" => outpost = args.next().context("--outpost PATH")?.into(),
            other => bail!("unknown argument {other}"),
        }
    }
    let lab = Lab::new(LabOptions {
        updates,
        ..LabOptions::default()
    })
    .start()
    .await?;
    let catalog = lab.lab.counts();
    let dir = std::env::temp_dir().join(format!("outpost-sync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("outpost.toml");
    std::fs::write(
        &config,
        format!(
            "[upstream]\nurl = \"{}\"\nmax_requests_per_second = 100000\n[storage]\ndata_dir = \"{}\"\n[log]\nlevel = \"info\"\n",
            lab.url,
            dir.join("data").display()
        ),
    )?;

    println!(
        "catalog: {} update revisions, {} categories ({} revisions)",
        catalog.updates, catalog.categories, catalog.category_revisions
    );
    let started = Instant::now();
    let out = tokio::process::Command::new(&outpost)
        .args(["sync", "--no-content", "--log-format", "json", "--config"])
        .arg(&config)
        .output()
        .await
        .with_context(|| format!("running {}", outpost.display()))?;
    let sync_time = started.elapsed();
    if !out.status.success() {
        bail!("sync failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let peak_rss_kib = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("peak_rss_kib").and_then(|n| n.as_u64()))
        .unwrap_or(0);
    let bytes = lab.lab.bytes_sent();
    let requests = lab.lab.requests();

    // Reference: the same requests, in the same order and with the same GetUpdateData
    // parallelism (4), bodies read and dropped.
    let client = reqwest::Client::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    let mut raw_bytes = 0u64;
    for r in requests {
        let url = format!("{}{}", lab.url, r.path);
        let req = client
            .post(url)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", r.soap_action.clone().unwrap_or_default())
            .body(r.body.clone());
        if r.operation == "GetUpdateData" {
            let permit = limit.clone().acquire_owned().await?;
            tasks.spawn(async move {
                let n = req.send().await?.bytes().await?.len() as u64;
                drop(permit);
                Ok::<u64, reqwest::Error>(n)
            });
        } else {
            while let Some(n) = tasks.join_next().await {
                raw_bytes += n??;
            }
            raw_bytes += req.send().await?.bytes().await?.len() as u64;
        }
    }
    while let Some(n) = tasks.join_next().await {
        raw_bytes += n??;
    }
    let raw_time = started.elapsed();
    lab.stop().await;
    let _ = std::fs::remove_dir_all(&dir);

    let ratio = secs(sync_time) / secs(raw_time).max(1e-9);
    println!(
        "sync:      {:>8.2} s  peak RSS {:.1} MiB  {:.1} MiB received",
        secs(sync_time),
        peak_rss_kib as f64 / 1024.0,
        bytes as f64 / 1048576.0
    );
    println!(
        "raw fetch: {:>8.2} s  {:.1} MiB (same requests replayed, bodies discarded)",
        secs(raw_time),
        raw_bytes as f64 / 1048576.0
    );
    println!("ratio sync / raw transfer: {ratio:.2}x (goal <= 2x); peak RSS goal < 150 MiB");
    Ok(())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
