//! Outpost: a replica downstream WSUS server.
//!
//! # Layout
//! - `cli`: clap commands (= INTERFACE.md), exit codes, error printing.
//! - `app`: composition root: opens the store, wires upstream, sync, content and serve, runs
//!   commands and the demo.
//! - `config`: TOML config: raw serde shapes → units → validated `Config`.
//! - `model`: pure domain types (ids, digests, update documents, groups, approvals).
//! - `xml`: hardened XML reader/writer, SOAP envelope and fault, update-document parser.
//! - `upstream`: MS-WSUSSS client: auth + cookie lifecycle, messages, rate limit, retry.
//! - `store`: SQLite replica (WAL, migrations): revisions, files, groups, deployments, anchors,
//!   runs, and the content cache's index.
//! - `sync`: one sync pass as atomic phases, with progress reporting.
//! - `content`: the content cache: cacache + verification, single flight, downloads, verify,
//!   eviction.
//! - `serve`: the client-facing side (MS-WUSP, `/Content`); so far `/Content`.
//! - `status`: one `Status` struct rendered as JSON and text.
//! - `telemetry`: tracing setup.
//! - `lab`: built-in lab upstream (fake USS over a synthetic catalog) for the demo, tests, benches.

pub mod app;
pub mod cli;
pub mod config;
pub mod content;
pub mod lab;
pub mod model;
pub mod serve;
pub mod status;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod upstream;
pub mod xml;
