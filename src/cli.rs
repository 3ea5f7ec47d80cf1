//! The `outpost` command line (= INTERFACE.md): clap commands, exit codes, and error printing
//! (one line on stderr, `outpost: <reason>`).

use crate::app;
use crate::config::{self, Config, LogFormat};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "outpost", version, about = "A replica downstream WSUS server")]
pub struct Cli {
    /// Log format on stderr (overrides `log.format`).
    #[arg(long, global = true, value_parser = ["auto", "human", "json"])]
    pub log_format: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The TOML config file.
    #[arg(long, env = "OUTPOST_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve `/Content` to local clients on `server.listen` until SIGTERM/SIGINT.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Run one full sync pass now (config, categories, updates, groups and approvals, then
    /// content per `content.policy`).
    Sync {
        #[command(flatten)]
        config: ConfigArg,
        /// Skip the content phase (metadata only).
        #[arg(long)]
        no_content: bool,
    },
    /// Show what the replica holds and how it is doing.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-hash every cached content file against its metadata; quarantine bad ones.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
        /// Fetch quarantined and lost files again.
        #[arg(long)]
        repair: bool,
    },
    /// Parse and validate the config and print the effective config.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Start a lab upstream and a replica on this machine and sync it, with no setup.
    Demo {
        /// Software updates in the lab catalog.
        #[arg(long, default_value_t = 200)]
        updates: usize,
        /// Keep the lab upstream running afterwards and print its URL.
        #[arg(long)]
        keep_running: bool,
    },
}

/// Exit code for an invalid config (`check-config` and every command that loads one).
const EXIT_CONFIG: u8 = 2;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let cli_format = cli.log_format.as_deref().and_then(parse_format);
    match cli.command {
        Command::CheckConfig { config } => match Config::load(&config.config) {
            Ok(c) => {
                print!("{}", c.to_toml());
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        },
        Command::Status { config, json } => {
            let c = match load(&config, cli_format) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match app::status(&c) {
                Ok(s) if json => {
                    println!("{}", s.to_json());
                    ExitCode::SUCCESS
                }
                Ok(s) => {
                    print!("{s}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Sync { config, no_content } => {
            let c = match load(&config, cli_format) {
                Ok(c) => c,
                Err(code) => return code,
            };
            run_async(app::sync_command(c, no_content))
        }
        Command::Serve { config } => match load(&config, cli_format) {
            Ok(c) => run_async(app::serve_command(c)),
            Err(code) => code,
        },
        Command::Verify { config, repair } => match load(&config, cli_format) {
            Ok(c) => run_async(app::verify_command(c, repair)),
            Err(code) => code,
        },
        Command::Demo {
            updates,
            keep_running,
        } => {
            crate::telemetry::init(cli_format.unwrap_or(LogFormat::Human), "warn");
            run_async(app::demo::run(updates, keep_running))
        }
    }
}

fn parse_format(s: &str) -> Option<LogFormat> {
    match s {
        "json" => Some(LogFormat::Json),
        "human" => Some(LogFormat::Human),
        "auto" => Some(LogFormat::Auto),
        _ => None,
    }
}

/// Load the config and set up logging from it.
fn load(arg: &ConfigArg, cli_format: Option<LogFormat>) -> Result<Config, ExitCode> {
    let c = Config::load(&arg.config).map_err(|e| config_error(&e))?;
    crate::telemetry::init(cli_format.unwrap_or(c.log.format), &c.log.level);
    Ok(c)
}

fn config_error(e: &config::Error) -> ExitCode {
    eprintln!("outpost: invalid config: {e}");
    ExitCode::from(EXIT_CONFIG)
}

fn fail(e: &anyhow::Error) -> ExitCode {
    // One line: the chain joined, as operators read it in a journal.
    eprintln!("outpost: {}", one_line(e));
    ExitCode::FAILURE
}

fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

fn run_async(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e.into()),
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}
