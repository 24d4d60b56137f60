//! A one-line progress indicator on stderr for long operations (connecting, starting a
//! cluster, publishing many events), shown only when stdout is a terminal, so pipes and
//! scripts see clean output.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static SHOWN: AtomicBool = AtomicBool::new(false);

fn enabled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("ZCLUSTER_NO_PROGRESS").is_none()
}

/// Replaces the progress line with `text`.
pub fn show(text: &str) {
    if !enabled() {
        return;
    }
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "\r\x1b[2K{text}");
    let _ = e.flush();
    SHOWN.store(true, Ordering::Relaxed);
}

/// Erases the progress line (before ordinary output or at the end).
pub fn clear() {
    if SHOWN.swap(false, Ordering::Relaxed) {
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[2K");
        let _ = e.flush();
    }
}
