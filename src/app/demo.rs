//! `outpost demo`: the mission on one machine with no setup. Starts the built-in lab upstream
//! on 127.0.0.1, syncs a replica into a fresh temporary data dir (metadata, then the approved
//! content), changes the lab's catalog and approvals, syncs again incrementally, serves
//! `/Content` to scripted downloads (cached files, a range, an on-demand miss) and prints what
//! crossed the WAN next to what clients got.

use super::{sync_once, BarProgress};
use crate::config::Config;
use crate::lab::{CatalogCounts, Lab, LabOptions};
use crate::model::{DeploymentAction, ALL_COMPUTERS};
use anyhow::Context as _;
use std::path::Path;
use std::time::Instant;

pub async fn run(updates: usize, keep_running: bool) -> anyhow::Result<()> {
    let lab = Lab::new(LabOptions {
        updates,
        ..LabOptions::default()
    })
    .start()
    .await
    .context("starting the lab upstream")?;
    let data_dir = std::env::temp_dir().join(format!("outpost-demo-{}", std::process::id()));
    let config = demo_config(&lab.url, &data_dir)?;
    println!("Outpost demo");
    println!("  lab upstream  {}  ({updates} software updates)", lab.url);
    println!("  replica data  {}", data_dir.display());

    let cancel = super::shutdown_token();
    let progress = BarProgress::new();

    let started = Instant::now();
    let first = sync_once(&config, &progress, &cancel, true).await?;
    let first_time = started.elapsed();
    let first_requests = lab.lab.requests().len();
    let first_bytes = lab.lab.bytes_sent();
    println!(
        "\n1. initial sync: {} categories, {} updates, {} bundle members, {} approved content files ({} KiB) in {:.2?} ({} requests, {} KiB received)",
        first.metadata.categories_fetched,
        first.metadata.updates_fetched,
        first.metadata.bundle_members_fetched,
        first.content.as_ref().map_or(0, |c| c.fetched),
        first.content_bytes / 1024,
        first_time,
        first_requests,
        first_bytes / 1024
    );
    compare(&config, &lab.lab.counts())?;

    // Change the upstream the way an admin at HQ would, then sync again.
    let added = lab.lab.add_updates(5);
    let approved = added.first().copied().context("the lab added no update")?;
    lab.lab
        .approve(approved, ALL_COMPUTERS, DeploymentAction::Install);
    let revoked = lab.lab.deployments().first().map(|d| d.deployment_id);
    if let Some(d) = revoked {
        lab.lab.revoke(d);
    }
    lab.lab.add_group("Branch Kiosks", ALL_COMPUTERS);
    lab.lab.clear_requests();
    let started = Instant::now();
    let second = sync_once(&config, &progress, &cancel, true).await?;
    let fetched: usize = lab.lab.requests().iter().map(|r| r.update_ids.len()).sum();
    println!(
        "\n2. upstream changed (5 updates added, 1 approved, 1 approval revoked, group \"Branch Kiosks\" added)\n   incremental sync: {} new updates, {} new content files in {:.2?}, GetUpdateData asked for {fetched} revisions",
        second.metadata.updates_fetched,
        second.content.as_ref().map_or(0, |c| c.fetched),
        started.elapsed()
    );
    compare(&config, &lab.lab.counts())?;

    let served = serve_clients(&config, &lab.lab, &cancel).await?;
    println!(
        "\n3. clients downloaded {} files, {} range, {} on demand: {} KiB served; the upstream sent {} KiB of content in all ({:.1}x saved)",
        served.files,
        served.ranges,
        served.on_demand,
        served.bytes / 1024,
        served.upstream_bytes / 1024,
        served.bytes as f64 / served.upstream_bytes.max(1) as f64
    );

    let status = super::status(&config)?;
    println!("\n4. outpost status\n{status}");

    if keep_running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let replica = format!("http://{}", listener.local_addr()?);
        let example = super::open_store(&config)?
            .content_in_state(crate::store::ContentState::Verified)?
            .first()
            .map(|e| e.file.content_path());
        println!("Lab upstream still serving at {}", lab.url);
        println!("Replica serving /Content at {replica} — press Ctrl-C to stop.");
        if let Some(path) = example {
            println!("Try: curl -sI {replica}{path}");
        }
        println!(
            "     OUTPOST_CONFIG={}/outpost.toml outpost status",
            data_dir.display()
        );
        super::serve_on(&config, listener, cancel.clone()).await?;
    }
    lab.stop().await;
    if !keep_running {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    Ok(())
}

/// What the scripted clients did.
struct Served {
    files: usize,
    ranges: usize,
    on_demand: usize,
    bytes: u64,
    upstream_bytes: u64,
}

/// Serve `/Content` on a loopback port and download from it the way branch clients would:
/// three clients fetch every cached file, one fetches a 1 KiB range of one, and one asks for
/// a file that was never prefetched (fetched on demand). Every body is checked against its
/// SHA-1.
async fn serve_clients(
    config: &Config,
    lab: &Lab,
    cancel: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<Served> {
    use sha1::{Digest as _, Sha1};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let stop = cancel.child_token();
    let server = {
        let (config, stop) = (config.clone(), stop.clone());
        tokio::spawn(async move { super::serve_on(&config, listener, stop).await })
    };
    let store = super::open_store(config)?;
    let cached = store.content_in_state(crate::store::ContentState::Verified)?;
    let uncached = store.content_wanted(crate::store::Wanted::All)?;
    let http = reqwest::Client::new();
    let mut served = Served {
        files: 0,
        ranges: 0,
        on_demand: 0,
        bytes: 0,
        upstream_bytes: 0,
    };
    let get = |path: String, range: Option<&'static str>| {
        let mut req = http.get(format!("{base}{path}"));
        if let Some(r) = range {
            req = req.header(reqwest::header::RANGE, r);
        }
        async move {
            let resp = req.send().await?.error_for_status()?;
            anyhow::Ok(resp.bytes().await?)
        }
    };
    for _client in 0..3 {
        for entry in &cached {
            let body = get(entry.file.content_path(), None).await?;
            anyhow::ensure!(
                Sha1::digest(&body)[..] == entry.file.sha1.0[..],
                "{} came back with other bytes",
                entry.file.content_path()
            );
            served.files += 1;
            served.bytes += body.len() as u64;
        }
    }
    if let Some(entry) = cached.first() {
        let body = get(entry.file.content_path(), Some("bytes=0-1023")).await?;
        served.ranges += 1;
        served.bytes += body.len() as u64;
    }
    if let Some(file) = uncached.first() {
        let body = get(file.content_path(), None).await?;
        anyhow::ensure!(
            Sha1::digest(&body)[..] == file.sha1.0[..],
            "on-demand {} came back with other bytes",
            file.content_path()
        );
        served.on_demand += 1;
        served.files += 1;
        served.bytes += body.len() as u64;
    }
    stop.cancel();
    server.await??;
    // The prefetching syncs' content counts too: everything that crossed the WAN.
    served.upstream_bytes = lab.content_bytes_sent();
    Ok(served)
}

/// A config pointing at the lab, written into the data dir so `outpost status` can use it.
fn demo_config(url: &str, data_dir: &Path) -> anyhow::Result<Config> {
    std::fs::create_dir_all(data_dir)?;
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\n[upstream]\nurl = \"{url}\"\nmax_requests_per_second = 1000\n\n[storage]\ndata_dir = \"{}\"\n\n[log]\nlevel = \"warn\"\n",
        data_dir.display()
    );
    std::fs::write(data_dir.join("outpost.toml"), &text)?;
    Ok(Config::from_toml(&text)?)
}

/// Print replica vs lab counts; any difference is a failed demo.
fn compare(config: &Config, lab: &CatalogCounts) -> anyhow::Result<()> {
    let s = super::status(config)?;
    let rows = [
        ("updates", s.updates, lab.updates),
        ("categories", s.categories, lab.categories),
        ("target groups", s.target_groups, lab.target_groups),
        ("approvals", s.approvals, lab.approvals),
    ];
    println!("   {:<14} {:>8} {:>8}", "", "replica", "lab");
    let mut ok = true;
    for (name, replica, upstream) in rows {
        let same = replica == upstream as u64;
        ok &= same;
        println!(
            "   {name:<14} {replica:>8} {upstream:>8} {}",
            if same { "ok" } else { "MISMATCH" }
        );
    }
    anyhow::ensure!(ok, "the replica does not match the lab upstream");
    Ok(())
}
