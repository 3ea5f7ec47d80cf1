//! Sync progress: an indicatif bar per phase when stderr is a terminal; otherwise one log
//! line per finished phase (no bars in journals or CI logs).

use crate::sync::{Phase, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

pub struct BarProgress {
    bar: Mutex<Option<ProgressBar>>,
    tty: bool,
}

impl BarProgress {
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn with_bar(&self, f: impl FnOnce(&mut Option<ProgressBar>)) {
        let mut guard = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard);
    }
}

impl Default for BarProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for BarProgress {
    fn start(&self, phase: Phase, total: u64) {
        if !self.tty {
            return;
        }
        self.with_bar(|slot| {
            if let Some(old) = slot.take() {
                old.finish_and_clear();
            }
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let template = match phase {
                Phase::Content => {
                    "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
                }
                _ => "{prefix:>12} [{bar:30}] {human_pos}/{human_len} eta {eta}",
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(phase.as_str());
            *slot = Some(bar);
        });
    }

    fn advance(&self, n: u64) {
        self.with_bar(|slot| {
            if let Some(bar) = slot {
                bar.inc(n);
            }
        });
    }

    fn finish(&self, phase: Phase, summary: &str) {
        self.with_bar(|slot| {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        });
        tracing::info!(phase = phase.as_str(), "{summary}");
    }
}
