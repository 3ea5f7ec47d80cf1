//! The one integration-test binary: every test here talks over real sockets or real files.

mod architecture;
mod cli;
mod config;
mod content;
mod lab;
mod serve;
mod support;
mod sync;
mod tls;
mod upstream_real;
