//! The content-serving benchmark: Outpost's `/Content` side by side with nginx serving the
//! same files from the same disk (hard links to Outpost's cache files: same inodes, same page
//! cache), in one run.
//!
//! usage: content-bench [--outpost PATH] [--nginx PATH] [--total-mib N] [--passes N]
//!        [--range-requests N] [--connections N] [--rounds N] [--miss-files N] [--miss-mib N]
//!        [--herd N] [--seed N] [--keep] [--nginx-only]
//! (`benches/content.sh` installs nginx, builds the release binaries and runs this.)
//!
//! 1. A lab upstream (in this process) gets `--total-mib` of update files of 1–100 MiB;
//!    `outpost sync` with `content.policy = "all"` downloads them into a fresh cache (timed:
//!    prefetch throughput).
//! 2. nginx (a child, with a generated config, as the current user) and `outpost serve` (a
//!    child) serve those files; both are checked once per file (SHA-1, ranges, HEAD) outside
//!    the timed runs.
//! 3. Alternately nginx, outpost, nginx, outpost …: (a) full GETs of every file `--passes`
//!    times, (b) `--range-requests` aligned 1 MiB `Range` GETs at random offsets (like
//!    Delivery Optimization), both over `--connections` keep-alive connections of one load
//!    generator (raw HTTP/1.1 over tokio, bodies counted and dropped). (c) Outpost's peak RSS
//!    (VmHWM) after each.
//! 4. A second replica with an empty cache and `content.policy = "on-demand"`: (d) time to
//!    first body byte of a GET for an uncached file, through Outpost vs straight to the lab;
//!    (e) `--herd` concurrent GETs for one uncached file, and how many bytes of it the lab
//!    served.
//!
//! `--nginx-only` skips Outpost and the lab: nginx serves generated files (a check of the
//! load generator and the nginx setup).

use anyhow::{bail, ensure, Context};
use outpost::lab::{Lab, LabOptions, LabServer};
use outpost::model::{DeploymentAction, UpdateFile, ALL_COMPUTERS};
use sha1::{Digest, Sha1};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: u64 = 1 << 20;
/// Read buffer of one load-generator connection.
const READ_BUF: usize = 256 << 10;

struct Args {
    outpost: PathBuf,
    nginx: Option<PathBuf>,
    total_mib: u64,
    passes: usize,
    range_requests: usize,
    connections: usize,
    rounds: usize,
    miss_files: usize,
    miss_mib: u64,
    herd: usize,
    seed: u64,
    keep: bool,
    nginx_only: bool,
}

impl Args {
    fn parse() -> anyhow::Result<Args> {
        let mut a = Args {
            outpost: std::env::current_exe()?
                .parent()
                .context("exe dir")?
                .join("outpost"),
            nginx: None,
            total_mib: 1024,
            passes: 4,
            range_requests: 10_000,
            connections: 16,
            rounds: 2,
            miss_files: 3,
            miss_mib: 100,
            herd: 50,
            seed: 1,
            keep: false,
            nginx_only: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |what: &str| args.next().with_context(|| format!("{arg} {what}"));
            match arg.as_str() {
                "--outpost" => a.outpost = value("PATH")?.into(),
                "--nginx" => a.nginx = Some(value("PATH")?.into()),
                "--total-mib" => a.total_mib = value("N")?.parse()?,
                "--passes" => a.passes = value("N")?.parse()?,
                "--range-requests" => a.range_requests = value("N")?.parse()?,
                "--connections" => a.connections = value("N")?.parse()?,
                "--rounds" => a.rounds = value("N")?.parse()?,
                "--miss-files" => a.miss_files = value("N")?.parse()?,
                "--miss-mib" => a.miss_mib = value("N")?.parse()?,
                "--herd" => a.herd = value("N")?.parse()?,
                "--seed" => a.seed = value("N")?.parse()?,
                "--keep" => a.keep = true,
                "--nginx-only" => a.nginx_only = true,
                "-h" | "--help" => {
                    println!(
                        "usage: content-bench [--outpost PATH] [--nginx PATH] [--total-mib 1024] \
                         [--passes 4] [--range-requests 10000] [--connections 16] [--rounds 2] \
                         [--miss-files 3] [--miss-mib 100] [--herd 50] [--seed 1] [--keep] \
                         [--nginx-only]"
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other} (try --help)"),
            }
        }
        ensure!(a.total_mib >= 1, "--total-mib must be at least 1");
        ensure!(
            a.passes >= 1 && a.connections >= 1 && a.rounds >= 1,
            "--passes, --connections and --rounds must be at least 1"
        );
        ensure!(a.miss_mib >= 1, "--miss-mib must be at least 1");
        Ok(a)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse()?;
    // On Ctrl-C the run is dropped: children stopped, bench dir removed (unless --keep).
    tokio::select! {
        r = run(args) => r,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let nginx_bin = find_nginx(args.nginx.as_deref())?;
    let dir = BenchDir::create(args.keep)?;
    println!("bench dir: {}", dir.path.display());

    // 1. The data set: in Outpost's cache (filled by `outpost sync`), or generated.
    let sizes = file_sizes(args.total_mib, args.seed);
    let mut lab: Option<LabServer> = None;
    let mut prefetch = None;
    let files = if args.nginx_only {
        generate_files(&dir.path.join("files"), &sizes, args.seed)?
    } else {
        let server = Lab::new(LabOptions {
            updates: 0,
            seed: args.seed,
            ..LabOptions::default()
        })
        .start()
        .await?;
        let added: Vec<UpdateFile> = sizes
            .iter()
            .map(|&s| server.lab.add_update_with_file(s).1)
            .collect();
        let data = dir.path.join("data");
        let config = write_config(&dir.path, "prefetch", &server.url, &data, "all")?;
        let before = server.lab.content_bytes_sent();
        let started = Instant::now();
        run_outpost_sync(&args.outpost, &config, &dir.path.join("sync-prefetch.log")).await?;
        let took = started.elapsed();
        let fetched = server.lab.content_bytes_sent() - before;
        prefetch = Some((fetched, took));
        lab = Some(server);
        added
            .iter()
            .map(|f| BenchFile::cached(&data, f))
            .collect::<anyhow::Result<Vec<_>>>()
            .with_context(|| {
                format!(
                    "outpost sync (policy all) did not fill the cache; see {}",
                    dir.path.join("sync-prefetch.log").display()
                )
            })?
    };
    let total: u64 = files.iter().map(|f| f.size).sum();
    let (smallest, largest) = (
        files.iter().map(|f| f.size).min().unwrap_or(0),
        files.iter().map(|f| f.size).max().unwrap_or(0),
    );
    println!(
        "data set: {} files, {:.1} MiB ({:.1}–{:.1} MiB each)",
        files.len(),
        mib(total),
        mib(smallest),
        mib(largest)
    );
    let prefetch = prefetch.map(|(bytes, took)| {
        format!(
            "prefetch (outpost sync, policy all, metadata included): {:.1} MiB in {:.2} s = \
             {:.0} MB/s",
            mib(bytes),
            took.as_secs_f64(),
            mbps(bytes, took)
        )
    });
    if let Some(p) = &prefetch {
        println!("{p}");
    }

    // 2. The servers.
    let root = dir.path.join("nginx-root");
    for f in &files {
        let link = root.join(f.path.trim_start_matches('/'));
        std::fs::create_dir_all(link.parent().context("link dir")?)?;
        std::fs::hard_link(&f.disk, &link)
            .with_context(|| format!("hard link {} -> {}", link.display(), f.disk.display()))?;
    }
    let mut servers = vec![Server::nginx(&nginx_bin, &dir.path, &root).await?];
    if !args.nginx_only {
        let lab = lab.as_ref().context("lab")?;
        let config = write_config(&dir.path, "serve", &lab.url, &dir.path.join("data"), "all")?;
        servers.push(Server::outpost(&args.outpost, &config, &dir.path, "serve").await?);
    }
    for s in &mut servers {
        s.baseline_rss = s.peak_rss_kib();
        s.verify(&files).await?;
    }
    println!(
        "checked: {} serve every file with the right SHA-1, ranges and HEAD",
        servers
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(" and ")
    );

    // 3. (a) full GETs and (b) ranges, alternating the servers.
    let full_jobs = Arc::new(full_jobs(&files, args.passes, args.seed));
    let range_jobs = Arc::new(range_jobs(&files, args.range_requests, args.seed));
    let mut full: Vec<Vec<Load>> = vec![Vec::new(); servers.len()];
    let mut ranges: Vec<Vec<Load>> = vec![Vec::new(); servers.len()];
    for round in 1..=args.rounds {
        for (i, s) in servers.iter_mut().enumerate() {
            let l = run_load(s.addr, args.connections, full_jobs.clone()).await?;
            s.check_running()?;
            s.rss_after_full = s.rss_after_full.max(s.peak_rss_kib());
            println!(
                "(a) round {round} {:<8} {:>6} full GETs {:>8.1} MiB in {:>6.2} s = {:>7.0} MB/s",
                s.name,
                l.requests,
                mib(l.bytes),
                l.elapsed.as_secs_f64(),
                l.mbps()
            );
            full[i].push(l);
        }
    }
    for round in 1..=args.rounds {
        for (i, s) in servers.iter_mut().enumerate() {
            let l = run_load(s.addr, args.connections, range_jobs.clone()).await?;
            s.check_running()?;
            s.rss_after_ranges = s.rss_after_ranges.max(s.peak_rss_kib());
            println!(
                "(b) round {round} {:<8} {:>6} range GETs in {:>6.2} s = {:>7.0} req/s {:>7.0} MB/s  p50 {:.2} ms  p99 {:.2} ms",
                s.name,
                l.requests,
                l.elapsed.as_secs_f64(),
                l.rps(),
                l.mbps(),
                ms(l.percentile(0.50)),
                ms(l.percentile(0.99))
            );
            ranges[i].push(l);
        }
    }
    let mut rss = None;
    for s in &mut servers {
        if s.pid_for_rss {
            rss = Some((s.baseline_rss, s.rss_after_full, s.rss_after_ranges));
        }
        s.stop()?;
    }

    // 4. (d) cold-miss time to first byte and (e) the thundering herd, on an empty cache.
    let mut miss = None;
    if let Some(lab) = &lab {
        miss = Some(cold_miss(&args, lab, &dir.path).await?);
    }

    // The table.
    let best = |loads: &[Load], f: fn(&Load) -> f64| loads.iter().map(f).fold(0.0, f64::max);
    let median = |loads: &[Load], f: fn(&Load) -> f64| median(loads.iter().map(f).collect());
    println!();
    println!(
        "content bench: {} files, {:.0} MiB ({:.1}–{:.1} MiB), {} connections, {} rounds \
         alternating nginx/outpost; runs listed in order, then best",
        files.len(),
        mib(total),
        mib(smallest),
        mib(largest),
        args.connections,
        args.rounds
    );
    if let Some(p) = &prefetch {
        println!("{p}");
    }
    let names: Vec<&str> = servers.iter().map(|s| s.name).collect();
    let mut table = Table::new(&names);
    table.row(
        &format!("(a) full GETs MB/s (x{} passes)", args.passes),
        full.iter()
            .map(|l| cell(l, Load::mbps, best(l, Load::mbps)))
            .collect(),
        ratio(&full, |l| best(l, Load::mbps), "≥ 1.0"),
    );
    table.row(
        "(b) 1 MiB ranges req/s",
        ranges
            .iter()
            .map(|l| cell(l, Load::rps, best(l, Load::rps)))
            .collect(),
        ratio(&ranges, |l| best(l, Load::rps), "≥ 1.0"),
    );
    table.row(
        "(b) 1 MiB ranges MB/s",
        ranges
            .iter()
            .map(|l| cell(l, Load::mbps, best(l, Load::mbps)))
            .collect(),
        ratio(&ranges, |l| best(l, Load::mbps), "≥ 1.0"),
    );
    table.row(
        "(b) range latency p50 / p99 ms",
        ranges
            .iter()
            .map(|l| {
                format!(
                    "{:.2} / {:.2}",
                    median(l, |l| ms(l.percentile(0.5))),
                    median(l, |l| ms(l.percentile(0.99)))
                )
            })
            .collect(),
        String::new(),
    );
    table.print();
    if let Some((base, after_full, after_ranges)) = rss {
        println!(
            "(c) outpost peak RSS (VmHWM): {:.1} MiB after start, {:.1} MiB after (a), {:.1} MiB \
             after (b); largest file {:.1} MiB, data set {:.0} MiB",
            base as f64 / 1024.0,
            after_full as f64 / 1024.0,
            after_ranges as f64 / 1024.0,
            mib(largest),
            mib(total)
        );
    }
    if let Some(m) = miss {
        m.print();
    }
    if let Some(lab) = lab {
        lab.stop().await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Data set

/// One file both servers serve.
struct BenchFile {
    /// `/Content/XX/SHA1HEX.ext`.
    path: String,
    /// Lower-case SHA-1 hex of the bytes.
    sha1: String,
    size: u64,
    /// The file on disk (Outpost's cache file, or a generated file).
    disk: PathBuf,
}

impl BenchFile {
    /// The cacache file of `f` under Outpost's data dir.
    fn cached(data_dir: &Path, f: &UpdateFile) -> anyhow::Result<BenchFile> {
        let h = f.sha1.to_hex();
        let disk = data_dir
            .join("content/content-v2/sha1")
            .join(&h[0..2])
            .join(&h[2..4])
            .join(&h[4..]);
        let len = std::fs::metadata(&disk)
            .with_context(|| {
                format!(
                    "{} (size {}) is not in Outpost's cache at {}",
                    f.content_path(),
                    f.size,
                    disk.display()
                )
            })?
            .len();
        ensure!(
            len == f.size,
            "{} is {len} bytes in the cache, {} upstream",
            disk.display(),
            f.size
        );
        Ok(BenchFile {
            path: f.content_path(),
            sha1: h,
            size: f.size,
            disk,
        })
    }
}

/// splitmix64: deterministic sizes, shuffles and offsets from `--seed`.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        Rng(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.range(0, i as u64) as usize);
        }
    }
}

/// File sizes of 1–100 MiB (not MiB-aligned: odd tails) adding up to exactly `total_mib` MiB;
/// 1 GiB gives about 20 files.
fn file_sizes(total_mib: u64, seed: u64) -> Vec<u64> {
    let (lo, hi) = (MIB, 100 * MIB);
    let mut rng = Rng::new(seed, 1);
    let mut left = total_mib * MIB;
    let mut sizes = Vec::new();
    while left > hi {
        let mut s = rng.range(lo, hi);
        if left - s < lo {
            s = left - lo;
        }
        sizes.push(s);
        left -= s;
    }
    sizes.push(left);
    sizes
}

/// `--nginx-only`: files of deterministic pseudo-random bytes under `dir`.
fn generate_files(dir: &Path, sizes: &[u64], seed: u64) -> anyhow::Result<Vec<BenchFile>> {
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    let mut buf = vec![0u8; MIB as usize];
    for (i, &size) in sizes.iter().enumerate() {
        let disk = dir.join(format!("file-{i}"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&disk)?);
        let mut rng = Rng::new(seed, 1000 + i as u64);
        let mut hash = Sha1::new();
        let mut left = size;
        while left > 0 {
            let n = left.min(MIB) as usize;
            for chunk in buf[..n].chunks_mut(8) {
                let r = rng.next().to_le_bytes();
                chunk.copy_from_slice(&r[..chunk.len()]);
            }
            hash.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            left -= n as u64;
        }
        out.flush()?;
        let sha1 = hex(&hash.finalize());
        let upper = sha1.to_uppercase();
        files.push(BenchFile {
            path: format!("/Content/{}/{}.cab", &upper[38..], upper),
            sha1,
            size,
            disk,
        });
    }
    Ok(files)
}

// ---------------------------------------------------------------------------------------------
// Servers and child processes

/// A child process stopped (SIGTERM, then SIGKILL after 10 s) when dropped, also on errors.
struct ChildGuard {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl ChildGuard {
    fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> anyhow::Result<ChildGuard> {
        let out = std::fs::File::create(&log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(ChildGuard {
            name,
            child: Some(child),
            log,
        })
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// An error naming the child and the tail of its log if it has exited.
    fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(c) = &mut self.child {
            if let Some(status) = c.try_wait()? {
                self.child = None;
                bail!(
                    "{} exited ({status}); its log ends:\n{}",
                    self.name,
                    log_tail(&self.log)
                );
            }
        }
        Ok(())
    }

    fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A server under test.
struct Server {
    name: &'static str,
    addr: SocketAddr,
    child: ChildGuard,
    /// Whether to read the child's VmHWM (Outpost; nginx's master does not serve).
    pid_for_rss: bool,
    baseline_rss: u64,
    rss_after_full: u64,
    rss_after_ranges: u64,
}

impl Server {
    async fn nginx(bin: &Path, dir: &Path, root: &Path) -> anyhow::Result<Server> {
        let addr = free_addr()?;
        let tmp = dir.join("nginx-tmp");
        std::fs::create_dir_all(&tmp)?;
        // As root nginx would switch its workers to `nobody`; stay the current user.
        let user = if is_root() { "user root;\n" } else { "" };
        let mut temp_paths = String::new();
        for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            let _ = writeln!(temp_paths, "    {t}_temp_path {};", tmp.join(t).display());
        }
        let conf = format!(
            "{user}worker_processes auto;\ndaemon off;\nmaster_process on;\npid {pid};\n\
             error_log {log} warn;\n\
             events {{\n    worker_connections 1024;\n}}\n\
             http {{\n    access_log off;\n    sendfile on;\n    tcp_nopush on;\n\
             \x20   keepalive_requests 1000000;\n    keepalive_timeout 300s;\n\
             \x20   default_type application/octet-stream;\n{temp_paths}\
             \x20   server {{\n        listen {addr};\n        root {root};\n\
             \x20       location /Content/ {{ }}\n    }}\n}}\n",
            pid = dir.join("nginx.pid").display(),
            log = dir.join("nginx-error.log").display(),
            root = root.display(),
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let mut cmd = Command::new(bin);
        cmd.arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("nginx-error.log"))
            .arg("-c")
            .arg(&conf_path);
        let child = ChildGuard::spawn("nginx", &mut cmd, dir.join("nginx.out"))?;
        let mut s = Server {
            name: "nginx",
            addr,
            child,
            pid_for_rss: false,
            baseline_rss: 0,
            rss_after_full: 0,
            rss_after_ranges: 0,
        };
        s.wait_ready().await.with_context(|| {
            format!(
                "nginx did not start; {}:\n{}",
                dir.join("nginx-error.log").display(),
                log_tail(&dir.join("nginx-error.log"))
            )
        })?;
        Ok(s)
    }

    async fn outpost(
        bin: &Path,
        config: &(PathBuf, SocketAddr),
        dir: &Path,
        tag: &str,
    ) -> anyhow::Result<Server> {
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--log-format", "json", "--config"])
            .arg(&config.0);
        let child = ChildGuard::spawn(
            "outpost serve",
            &mut cmd,
            dir.join(format!("outpost-{tag}.log")),
        )?;
        let mut s = Server {
            name: "outpost",
            addr: config.1,
            child,
            pid_for_rss: true,
            baseline_rss: 0,
            rss_after_full: 0,
            rss_after_ranges: 0,
        };
        s.wait_ready().await?;
        Ok(s)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.check_running()?;
            if TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} does not accept connections on {}", self.name, self.addr);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn check_running(&mut self) -> anyhow::Result<()> {
        self.child.check_running()
    }

    fn stop(&mut self) -> anyhow::Result<()> {
        self.check_running()?;
        self.child.stop();
        Ok(())
    }

    /// VmHWM of the child in KiB (0 when not tracked or unreadable).
    fn peak_rss_kib(&self) -> u64 {
        if self.pid_for_rss {
            vm_hwm_kib(self.child.pid()).unwrap_or(0)
        } else {
            0
        }
    }

    /// Every file whole (SHA-1), HEAD, and a few ranges against the bytes on disk.
    async fn verify(&mut self, files: &[BenchFile]) -> anyhow::Result<()> {
        let mut conn = Conn::new(self.addr);
        for f in files {
            let mut hash = Sha1::new();
            let r = conn
                .request("GET", &f.path, None, |b| hash.update(b))
                .await?;
            ensure!(
                r.status == 200 && r.content_length == f.size,
                "{} GET {}: status {} Content-Length {}, want 200 and {}",
                self.name,
                f.path,
                r.status,
                r.content_length,
                f.size
            );
            let got = hex(&hash.finalize());
            ensure!(
                got == f.sha1,
                "{} GET {}: body SHA-1 {got}, want {}",
                self.name,
                f.path,
                f.sha1
            );
            let r = conn.request("HEAD", &f.path, None, |_| {}).await?;
            ensure!(
                r.status == 200 && r.content_length == f.size,
                "{} HEAD {}: status {} Content-Length {}, want 200 and {}",
                self.name,
                f.path,
                r.status,
                r.content_length,
                f.size
            );
            // The first, a middle and the last (usually short) 1 MiB piece.
            let pieces = f.size.div_ceil(MIB);
            for k in [0, pieces / 2, pieces - 1] {
                let (a, b) = (k * MIB, ((k + 1) * MIB).min(f.size) - 1);
                let mut body = Vec::new();
                let r = conn
                    .request("GET", &f.path, Some((a, b)), |d| body.extend_from_slice(d))
                    .await?;
                let mut want = vec![0u8; (b - a + 1) as usize];
                std::fs::File::open(&f.disk)?.read_exact_at(&mut want, a)?;
                ensure!(
                    r.status == 206 && r.content_length == b - a + 1 && body == want,
                    "{} GET {} Range bytes={a}-{b}: status {} Content-Length {}, body {} the file's bytes",
                    self.name,
                    f.path,
                    r.status,
                    r.content_length,
                    if body == want { "matches" } else { "differs from" }
                );
            }
        }
        Ok(())
    }
}

fn find_nginx(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("nginx"))
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|p| p.is_file())
        .context("nginx not found on PATH or at /usr/sbin/nginx (run scripts/install-nginx)")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Writes `outpost-<tag>.toml` with fresh ports; returns its path and the `/Content` address.
fn write_config(
    dir: &Path,
    tag: &str,
    upstream: &str,
    data_dir: &Path,
    policy: &str,
) -> anyhow::Result<(PathBuf, SocketAddr)> {
    let listen = free_addr()?;
    let admin = free_addr()?;
    let path = dir.join(format!("outpost-{tag}.toml"));
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"{listen}\"\nadmin_listen = \"{admin}\"\n\
             [upstream]\nurl = \"{upstream}\"\nmax_requests_per_second = 100000\n\
             [storage]\ndata_dir = \"{}\"\n\
             [sync]\ninterval = \"0s\"\n\
             [content]\npolicy = \"{policy}\"\nmax_cache_size = \"100GiB\"\ndownload_concurrency = 4\n\
             [log]\nlevel = \"warn\"\n",
            data_dir.display()
        ),
    )?;
    Ok((path, listen))
}

async fn run_outpost_sync(
    outpost: &Path,
    config: &(PathBuf, SocketAddr),
    log: &Path,
) -> anyhow::Result<()> {
    let out = tokio::process::Command::new(outpost)
        .args(["sync", "--log-format", "json", "--config"])
        .arg(&config.0)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("running {}", outpost.display()))?;
    std::fs::write(log, [&out.stdout[..], &out.stderr[..]].concat())?;
    if !out.status.success() {
        bail!(
            "outpost sync failed ({}); {} ends:\n{}",
            out.status,
            log.display(),
            log_tail(log)
        );
    }
    Ok(())
}

/// The temporary bench directory, removed on drop unless `--keep`.
struct BenchDir {
    path: PathBuf,
    keep: bool,
}

impl BenchDir {
    fn create(keep: bool) -> anyhow::Result<BenchDir> {
        let path =
            std::env::temp_dir().join(format!("outpost-content-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(BenchDir { path, keep })
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        if self.keep {
            println!("kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The load generator: raw HTTP/1.1 keep-alive over tokio, identical for both servers.

#[derive(Debug, Clone)]
struct Job {
    path: Arc<str>,
    range: Option<(u64, u64)>,
    /// Content-Length (and body bytes) expected.
    len: u64,
}

/// Every file `passes` times, in a deterministic shuffled order.
fn full_jobs(files: &[BenchFile], passes: usize, seed: u64) -> Vec<Job> {
    let mut jobs: Vec<Job> = (0..passes)
        .flat_map(|_| files.iter())
        .map(|f| Job {
            path: f.path.as_str().into(),
            range: None,
            len: f.size,
        })
        .collect();
    Rng::new(seed, 2).shuffle(&mut jobs);
    jobs
}

/// `n` aligned 1 MiB pieces chosen uniformly among all pieces of all files (the last piece of
/// a file may be short).
fn range_jobs(files: &[BenchFile], n: usize, seed: u64) -> Vec<Job> {
    let paths: Vec<Arc<str>> = files.iter().map(|f| f.path.as_str().into()).collect();
    let mut starts = Vec::with_capacity(files.len());
    let mut pieces = 0u64;
    for f in files {
        starts.push(pieces);
        pieces += f.size.div_ceil(MIB);
    }
    let mut rng = Rng::new(seed, 3);
    (0..n)
        .map(|_| {
            let p = rng.range(0, pieces - 1);
            let i = starts.partition_point(|&s| s <= p) - 1;
            let k = p - starts[i];
            let (a, b) = (k * MIB, ((k + 1) * MIB).min(files[i].size) - 1);
            Job {
                path: paths[i].clone(),
                range: Some((a, b)),
                len: b - a + 1,
            }
        })
        .collect()
}

/// One keep-alive connection.
struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Box<[u8]>,
    head: Vec<u8>,
}

struct Resp {
    status: u16,
    content_length: u64,
    /// When the first body byte was read (None for an empty body).
    first_byte: Option<Instant>,
}

/// A reused connection the server had closed before answering: reconnect and send again.
#[derive(Debug)]
struct Stale;

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed before a response")
    }
}

impl std::error::Error for Stale {}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            stream: None,
            buf: vec![0u8; READ_BUF].into_boxed_slice(),
            head: Vec::with_capacity(256),
        }
    }

    async fn connect(&mut self) -> anyhow::Result<()> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connecting to {}", self.addr))?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
        }
        Ok(())
    }

    /// Sends one request and reads the whole response, handing body bytes to `body`.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        range: Option<(u64, u64)>,
        mut body: impl FnMut(&[u8]),
    ) -> anyhow::Result<Resp> {
        let reused = self.stream.is_some();
        match self.try_request(method, path, range, &mut body).await {
            Err(e) if reused && e.is::<Stale>() => {
                self.stream = None;
                self.try_request(method, path, range, &mut body).await
            }
            Err(e) => {
                self.stream = None;
                Err(e.context(format!("{method} {path} on {}", self.addr)))
            }
            ok => ok,
        }
    }

    async fn try_request(
        &mut self,
        method: &str,
        path: &str,
        range: Option<(u64, u64)>,
        body: &mut impl FnMut(&[u8]),
    ) -> anyhow::Result<Resp> {
        self.connect().await?;
        self.head.clear();
        let _ = write!(
            self.head,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: content-bench\r\n",
            self.addr
        );
        if let Some((a, b)) = range {
            let _ = write!(self.head, "Range: bytes={a}-{b}\r\n");
        }
        self.head.extend_from_slice(b"\r\n");
        let stream = self.stream.as_mut().context("no connection")?;
        if let Err(e) = stream.write_all(&self.head).await {
            return Err(anyhow::Error::new(Stale).context(e));
        }

        // The head.
        let mut filled = 0;
        let (head_len, status, content_length, close) = loop {
            let n = match stream.read(&mut self.buf[filled..]).await {
                Ok(0) if filled == 0 => return Err(Stale.into()),
                Ok(0) => bail!("connection closed inside the response head"),
                Ok(n) => n,
                Err(e) if filled == 0 => return Err(anyhow::Error::new(Stale).context(e)),
                Err(e) => return Err(e.into()),
            };
            filled += n;
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&self.buf[..filled])? {
                httparse::Status::Complete(len) => {
                    let status = resp.code.unwrap_or(0);
                    let mut content_length = None;
                    let mut close = resp.version == Some(0);
                    for h in resp.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            content_length = Some(std::str::from_utf8(h.value)?.trim().parse()?);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            bail!("Transfer-Encoding in the response (want Content-Length)");
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close |= h.value.eq_ignore_ascii_case(b"close");
                        }
                    }
                    let content_length = content_length.context("no Content-Length")?;
                    break (len, status, content_length, close);
                }
                httparse::Status::Partial if filled == self.buf.len() => {
                    bail!("response head larger than {} bytes", self.buf.len())
                }
                httparse::Status::Partial => {}
            }
        };

        // The body.
        let want = if method == "HEAD" { 0 } else { content_length };
        let mut first_byte = None;
        let early = (filled - head_len) as u64;
        ensure!(early <= want, "more bytes than Content-Length");
        if early > 0 {
            first_byte = Some(Instant::now());
            body(&self.buf[head_len..filled]);
        }
        let mut left = want - early;
        while left > 0 {
            let cap = (left as usize).min(self.buf.len());
            let n = stream.read(&mut self.buf[..cap]).await?;
            ensure!(n > 0, "connection closed with {left} body bytes to come");
            first_byte.get_or_insert_with(Instant::now);
            body(&self.buf[..n]);
            left -= n as u64;
        }
        if close {
            self.stream = None;
        }
        Ok(Resp {
            status,
            content_length,
            first_byte,
        })
    }
}

/// One timed run of a job list.
#[derive(Debug, Clone)]
struct Load {
    requests: usize,
    bytes: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Load {
    fn mbps(&self) -> f64 {
        mbps(self.bytes, self.elapsed)
    }

    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile(&self, q: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort_unstable();
        l.get(((l.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    }
}

/// `connections` connections (opened before the clock starts) take jobs from one queue;
/// every response must have the job's status and length.
async fn run_load(
    addr: SocketAddr,
    connections: usize,
    jobs: Arc<Vec<Job>>,
) -> anyhow::Result<Load> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(tokio::sync::Barrier::new(connections + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (next, start, jobs) = (next.clone(), start.clone(), jobs.clone());
        tasks.spawn(async move {
            let mut conn = Conn::new(addr);
            let connected = conn.connect().await;
            start.wait().await;
            connected?;
            let (mut bytes, mut latencies) = (0u64, Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let t = Instant::now();
                let mut got = 0u64;
                let r = conn
                    .request("GET", &job.path, job.range, |b| got += b.len() as u64)
                    .await?;
                let want = if job.range.is_some() { 206 } else { 200 };
                ensure!(
                    r.status == want && r.content_length == job.len && got == job.len,
                    "GET {} {:?}: status {} Content-Length {} body {} bytes, want {want} and {}",
                    job.path,
                    job.range,
                    r.status,
                    r.content_length,
                    got,
                    job.len
                );
                latencies.push(t.elapsed());
                bytes += got;
            }
            Ok::<_, anyhow::Error>((bytes, latencies, Instant::now()))
        });
    }
    start.wait().await;
    let started = Instant::now();
    let mut load = Load {
        requests: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(jobs.len()),
    };
    while let Some(r) = tasks.join_next().await {
        let (bytes, latencies, ended) = r??;
        load.bytes += bytes;
        load.requests += latencies.len();
        load.latencies.extend(latencies);
        load.elapsed = load.elapsed.max(ended - started);
    }
    Ok(load)
}

// ---------------------------------------------------------------------------------------------
// (d) cold-miss time to first byte and (e) the herd

struct Miss {
    file_mib: f64,
    /// Per file: (upstream TTFB, outpost TTFB, upstream whole, outpost whole).
    ttfb: Vec<(Duration, Duration, Duration, Duration)>,
    herd: usize,
    herd_time: Duration,
    herd_ttfb_max: Duration,
    herd_upstream_bytes: u64,
    herd_upstream_gets: usize,
    herd_file_size: u64,
    rss_kib: u64,
}

async fn cold_miss(args: &Args, lab: &LabServer, dir: &Path) -> anyhow::Result<Miss> {
    let size = args.miss_mib * MIB;
    let mut added = Vec::new();
    for _ in 0..args.miss_files + usize::from(args.herd > 0) {
        let (rev, f) = lab.lab.add_update_with_file(size);
        lab.lab
            .approve(rev, ALL_COMPUTERS, DeploymentAction::Install);
        added.push(f);
    }
    let data = dir.join("data-on-demand");
    let config = write_config(dir, "on-demand", &lab.url, &data, "on-demand")?;
    run_outpost_sync(
        args.outpost.as_path(),
        &config,
        &dir.join("sync-on-demand.log"),
    )
    .await?;
    for f in &added {
        ensure!(
            BenchFile::cached(&data, f).is_err(),
            "policy on-demand: {} is in the cache after sync",
            f.content_path()
        );
    }
    let mut outpost = Server::outpost(&args.outpost, &config, dir, "on-demand").await?;
    let upstream: SocketAddr = lab
        .url
        .trim_start_matches("http://")
        .parse()
        .context("lab url")?;

    // (d): alternate which side goes first; a HEAD to the lab first so neither pays for
    // anything the lab does on a file's first use.
    let mut ttfb = Vec::new();
    for (i, f) in added.iter().take(args.miss_files).enumerate() {
        let path = f.content_path();
        Conn::new(upstream)
            .request("HEAD", &path, None, |_| {})
            .await?;
        let mut up = Duration::ZERO;
        let mut op = Duration::ZERO;
        let mut up_all = Duration::ZERO;
        let mut op_all = Duration::ZERO;
        for side in [i % 2, 1 - i % 2] {
            let addr = if side == 0 { upstream } else { outpost.addr };
            let (first, all) = timed_get(addr, f).await?;
            if side == 0 {
                (up, up_all) = (first, all);
            } else {
                (op, op_all) = (first, all);
            }
        }
        outpost.check_running()?;
        ttfb.push((up, op, up_all, op_all));
    }

    // (e): all connections open, then all GETs at once.
    let mut herd_time = Duration::ZERO;
    let mut herd_ttfb_max = Duration::ZERO;
    let mut served = (0, 0);
    let mut herd_file_size = 0;
    if let Some(f) = added.get(args.miss_files).filter(|_| args.herd > 0) {
        let before = lab.lab.content_served(&f.sha1);
        let start = Arc::new(tokio::sync::Barrier::new(args.herd + 1));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..args.herd {
            let (start, addr, path, size) = (start.clone(), outpost.addr, f.content_path(), f.size);
            tasks.spawn(async move {
                let mut conn = Conn::new(addr);
                let connected = conn.connect().await;
                start.wait().await;
                connected?;
                let t = Instant::now();
                let mut hash = (i == 0).then(Sha1::new);
                let mut got = 0u64;
                let r = conn
                    .request("GET", &path, None, |b| {
                        got += b.len() as u64;
                        if let Some(h) = &mut hash {
                            h.update(b);
                        }
                    })
                    .await?;
                ensure!(
                    r.status == 200 && r.content_length == size && got == size,
                    "herd GET {path}: status {} Content-Length {} body {got} bytes, want 200 and {size}",
                    r.status,
                    r.content_length
                );
                let first = r.first_byte.map_or(Duration::ZERO, |b| b - t);
                Ok::<_, anyhow::Error>((first, Instant::now(), hash.map(|h| hex(&h.finalize()))))
            });
        }
        start.wait().await;
        let started = Instant::now();
        while let Some(r) = tasks.join_next().await {
            let (first, ended, sha1) = r??;
            herd_ttfb_max = herd_ttfb_max.max(first);
            herd_time = herd_time.max(ended - started);
            if let Some(sha1) = sha1 {
                ensure!(
                    sha1 == f.sha1.to_hex(),
                    "herd GET: body SHA-1 {sha1}, want {}",
                    f.sha1.to_hex()
                );
            }
        }
        let after = lab.lab.content_served(&f.sha1);
        served = (
            after.body_bytes - before.body_bytes,
            after.gets - before.gets,
        );
        herd_file_size = f.size;
    }
    let rss_kib = outpost.peak_rss_kib();
    outpost.stop()?;
    Ok(Miss {
        file_mib: mib(size),
        ttfb,
        herd: args.herd,
        herd_time,
        herd_ttfb_max,
        herd_upstream_bytes: served.0,
        herd_upstream_gets: served.1,
        herd_file_size,
        rss_kib,
    })
}

/// GET `f` whole on a fresh connection (opened before the clock starts): time to the first
/// body byte and to the last; the body must have the file's SHA-1.
async fn timed_get(addr: SocketAddr, f: &UpdateFile) -> anyhow::Result<(Duration, Duration)> {
    let mut conn = Conn::new(addr);
    conn.connect().await?;
    let path = f.content_path();
    let mut hash = Sha1::new();
    let t = Instant::now();
    let r = conn.request("GET", &path, None, |b| hash.update(b)).await?;
    let all = t.elapsed();
    ensure!(
        r.status == 200 && r.content_length == f.size,
        "GET {path} on {addr}: status {} Content-Length {}, want 200 and {}",
        r.status,
        r.content_length,
        f.size
    );
    let got = hex(&hash.finalize());
    ensure!(
        got == f.sha1.to_hex(),
        "GET {path} on {addr}: body SHA-1 {got}, want {}",
        f.sha1.to_hex()
    );
    Ok((r.first_byte.context("empty body")? - t, all))
}

impl Miss {
    fn print(&self) {
        if !self.ttfb.is_empty() {
            let up = median(self.ttfb.iter().map(|t| ms(t.0)).collect());
            let op = median(self.ttfb.iter().map(|t| ms(t.1)).collect());
            let up_all = median(self.ttfb.iter().map(|t| t.2.as_secs_f64()).collect());
            let op_all = median(self.ttfb.iter().map(|t| t.3.as_secs_f64()).collect());
            let each = |f: fn(&(Duration, Duration, Duration, Duration)) -> Duration| {
                self.ttfb
                    .iter()
                    .map(|t| format!("{:.2}", ms(f(t))))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!(
                "(d) cold-miss time to first byte, {} uncached {:.0} MiB files (median): upstream \
                 {up:.2} ms [{}], outpost {op:.2} ms [{}] → ratio {:.2}x (goal ≤ 1.5x); whole \
                 file incl. SHA-1 check: upstream {up_all:.2} s, outpost {op_all:.2} s",
                self.ttfb.len(),
                self.file_mib,
                each(|t| t.0),
                each(|t| t.1),
                op / up.max(1e-9)
            );
        }
        if self.herd > 0 {
            println!(
                "(e) {} concurrent GETs through outpost for one uncached {:.0} MiB file: upstream \
                 served {} bytes in {} GET(s) = {:.2}x the file (goal 1.0); all done in {:.2} s, \
                 slowest first byte {:.1} ms; outpost peak RSS {:.1} MiB",
                self.herd,
                self.file_mib,
                self.herd_upstream_bytes,
                self.herd_upstream_gets,
                self.herd_upstream_bytes as f64 / self.herd_file_size.max(1) as f64,
                self.herd_time.as_secs_f64(),
                ms(self.herd_ttfb_max),
                self.rss_kib as f64 / 1024.0
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(servers: &[&str]) -> Table {
        let mut header = vec![String::new()];
        header.extend(servers.iter().map(|s| s.to_string()));
        header.push("outpost/nginx".into());
        Table {
            header,
            rows: Vec::new(),
        }
    }

    fn row(&mut self, label: &str, cells: Vec<String>, ratio: String) {
        let mut row = vec![label.to_string()];
        row.extend(cells);
        row.push(ratio);
        self.rows.push(row);
    }

    fn print(&self) {
        let mut widths = vec![0; self.header.len()];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        for r in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (c, w)) in r.iter().zip(&widths).enumerate() {
                let pad = w - c.chars().count();
                if i == 0 {
                    let _ = write!(line, "{c}{}", " ".repeat(pad));
                } else {
                    let _ = write!(line, "  {}{c}", " ".repeat(pad));
                }
            }
            println!("{}", line.trim_end());
        }
    }
}

/// Every run's figure in order, then the best: `812, 840 → 840`.
fn cell(loads: &[Load], f: fn(&Load) -> f64, best: f64) -> String {
    let runs: Vec<String> = loads.iter().map(|l| format!("{:.0}", f(l))).collect();
    format!("{} → {best:.0}", runs.join(", "))
}

/// Outpost's figure over nginx's (servers in that order), with the goal.
fn ratio(per_server: &[Vec<Load>], f: impl Fn(&[Load]) -> f64, goal: &str) -> String {
    match per_server {
        [nginx, outpost] => format!("{:.2} (goal {goal})", f(outpost) / f(nginx).max(1e-9)),
        _ => String::new(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
