//! `outpost demo`: the mission on one machine with no setup. Starts the built-in lab upstream
//! on 127.0.0.1, syncs a replica into a fresh temporary data dir, changes the lab's catalog
//! and approvals, syncs again incrementally, and prints what crossed the wire and what the
//! replica holds next to what the lab holds.

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
    let first = sync_once(&config, &progress, &cancel).await?;
    let first_time = started.elapsed();
    let first_requests = lab.lab.requests().len();
    let first_bytes = lab.lab.bytes_sent();
    println!(
        "\n1. initial sync: {} categories, {} updates, {} bundle members in {:.2?} ({} requests, {} KiB received)",
        first.categories_fetched,
        first.updates_fetched,
        first.bundle_members_fetched,
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
    let second = sync_once(&config, &progress, &cancel).await?;
    let fetched: usize = lab.lab.requests().iter().map(|r| r.update_ids.len()).sum();
    println!(
        "\n2. upstream changed (5 updates added, 1 approved, 1 approval revoked, group \"Branch Kiosks\" added)\n   incremental sync: {} new updates in {:.2?}, GetUpdateData asked for {fetched} revisions",
        second.updates_fetched,
        started.elapsed()
    );
    compare(&config, &lab.lab.counts())?;

    let status = super::status(&config)?;
    println!("\n3. outpost status\n{status}");

    if keep_running {
        println!(
            "Lab upstream still serving at {} — press Ctrl-C to stop.",
            lab.url
        );
        println!(
            "Try: OUTPOST_CONFIG={}/outpost.toml outpost status",
            data_dir.display()
        );
        cancel.cancelled().await;
    }
    lab.stop().await;
    if !keep_running {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    Ok(())
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
