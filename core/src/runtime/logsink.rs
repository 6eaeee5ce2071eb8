//! The per-worker access log sink. Lines are formatted by the chain into the worker's
//! buffer and written out in batches: when the buffer passes 32 KiB, and on every tick.
//! Files are opened with O_APPEND, so whole-batch writes from several workers do not
//! interleave within a line.

use std::fs::{File, OpenOptions};
use std::io::Write;

const FLUSH_AT: usize = 32 * 1024;

#[derive(Debug)]
pub enum LogSink {
    Off,
    Stdout,
    File(File),
}

impl LogSink {
    pub fn open(path: &str) -> std::io::Result<LogSink> {
        Ok(match path {
            "" => LogSink::Off,
            "stdout" | "-" => LogSink::Stdout,
            p => LogSink::File(OpenOptions::new().create(true).append(true).open(p)?),
        })
    }

    /// Writes `buf` out if it is large enough (or `force`), then clears it.
    pub fn flush(&mut self, buf: &mut Vec<u8>, force: bool) {
        if buf.is_empty() || (!force && buf.len() < FLUSH_AT) {
            return;
        }
        let res = match self {
            LogSink::Off => Ok(()),
            LogSink::Stdout => std::io::stdout().lock().write_all(buf),
            LogSink::File(f) => f.write_all(buf),
        };
        if let Err(e) = res {
            tracing::warn!(error = %e, "access log write failed; lines dropped");
        }
        buf.clear();
    }
}
