//! Progress of a long transfer, so that a multi-GB download or upload is never silent.
//!
//! On a terminal (fetch, restore) a bar with the bytes, the rate and the time left; anywhere
//! else (and always in `once` and `run`) a log line when the transfer starts, saying where
//! from and where to, then one every [`LOG_INTERVAL`] with the bytes and the rate. Nothing
//! else is written to a stderr that is not a terminal. There is no thread: the transfer's own
//! loop calls [`Progress::add`], which redraws or logs when it is time.

use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use log::info;

/// How often a transfer logs its progress when no bar is drawn.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// How a transfer shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Log lines only (`once`, `run`).
    Log,
    /// A bar when stderr is a terminal, else log lines (`fetch`, `restore`).
    BarOnTerminal,
}

/// One transfer's progress.
pub struct Progress {
    what: String,
    total: Option<u64>,
    done: u64,
    started: Instant,
    next_log: Instant,
    interval: Duration,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts showing a transfer; `what` says where from and where to (`the snapshot from
    /// https://... to /tmp/...`), `total` is its size when known.
    #[must_use]
    pub fn start(what: impl Into<String>, total: Option<u64>, show: Show) -> Self {
        let what = what.into();
        let bar = (show == Show::BarOnTerminal && std::io::stderr().is_terminal())
            .then(|| bar(&what, total));
        if bar.is_none() {
            info!("Transferring {what}");
        }
        let now = Instant::now();
        Self {
            what,
            total,
            done: 0,
            started: now,
            next_log: now + LOG_INTERVAL,
            interval: LOG_INTERVAL,
            bar,
        }
    }

    /// Counts `bytes` more; redraws the bar, or logs when the interval has passed.
    pub fn add(&mut self, bytes: u64) {
        self.done += bytes;
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        } else if let Some(line) = self.due(Instant::now()) {
            info!("{line}");
        }
    }

    /// The log line due at `now`, if the interval has passed since the last one.
    fn due(&mut self, now: Instant) -> Option<String> {
        if now < self.next_log {
            return None;
        }
        self.next_log = now + self.interval;
        Some(self.line(now.saturating_duration_since(self.started)))
    }

    /// `the snapshot from ... to ...: 1.5 GiB of 4.0 GiB (37%), 95.2 MiB/s`.
    fn line(&self, elapsed: Duration) -> String {
        let rate = rate(self.done, elapsed);
        match self.total {
            Some(total) if total > 0 => format!(
                "{}: {} of {} ({}%), {rate}",
                self.what,
                bytes(self.done),
                bytes(total),
                self.done.saturating_mul(100) / total
            ),
            _ => format!("{}: {} so far, {rate}", self.what, bytes(self.done)),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A reader that counts what is read through it into a [`Progress`] (an upload reading the
/// staged snapshot).
pub struct Reading<R> {
    inner: R,
    progress: Progress,
}

impl<R> Reading<R> {
    /// Counts what `inner` gives into `progress`.
    pub fn new(inner: R, progress: Progress) -> Self {
        Self { inner, progress }
    }
}

impl<R: Read> Read for Reading<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.add(n as u64);
        Ok(n)
    }
}

/// A writer that counts what is written through it into a [`Progress`] (a download written
/// to a file).
pub struct Writing<W> {
    inner: W,
    progress: Progress,
}

impl<W> Writing<W> {
    /// Counts what goes to `inner` into `progress`.
    pub fn new(inner: W, progress: Progress) -> Self {
        Self { inner, progress }
    }
}

impl<W: Write> Write for Writing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.progress.add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn bar(what: &str, total: Option<u64>) -> ProgressBar {
    let bar = total.map_or_else(ProgressBar::no_length, ProgressBar::new);
    bar.set_draw_target(ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        "{msg}\n[{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left"
    } else {
        "{msg}\n{bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// `512 B`, `3.2 MiB`, `1.5 GiB`.
#[must_use]
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Bytes per second over `elapsed`, as `95.2 MiB/s`.
fn rate(done: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return "- /s".into();
    }
    format!("{}/s", bytes((done as f64 / seconds) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(total: Option<u64>) -> Progress {
        let started = Instant::now();
        Progress {
            what: "the snapshot from https://vault:8200 to /tmp/x".into(),
            total,
            done: 0,
            started,
            next_log: started + Duration::from_secs(10),
            interval: Duration::from_secs(10),
            bar: None,
        }
    }

    #[test]
    fn logs_once_per_interval_with_bytes_and_rate() {
        let mut p = progress(None);
        let t0 = p.started;
        p.done = 5 << 20;
        assert_eq!(p.due(t0 + Duration::from_secs(9)), None);
        assert_eq!(
            p.due(t0 + Duration::from_secs(10)).as_deref(),
            Some("the snapshot from https://vault:8200 to /tmp/x: 5.0 MiB so far, 512.0 KiB/s")
        );
        // The next one is a whole interval later, however often `add` is called.
        assert_eq!(p.due(t0 + Duration::from_secs(15)), None);
        assert!(p.due(t0 + Duration::from_secs(20)).is_some());
    }

    #[test]
    fn a_known_size_gives_the_share_done() {
        let mut p = progress(Some(4 << 30));
        p.done = 1 << 30;
        let line = p.line(Duration::from_secs(8));
        assert!(
            line.ends_with(": 1.0 GiB of 4.0 GiB (25%), 128.0 MiB/s"),
            "{line}"
        );
    }

    #[test]
    fn the_adapters_count_every_byte_and_pass_it_on() {
        let mut reading = Reading::new(&b"0123456789"[..], progress(Some(10)));
        let mut read = Vec::new();
        reading.read_to_end(&mut read).unwrap();
        assert_eq!((read.len(), reading.progress.done), (10, 10));
        let mut writing = Writing::new(Vec::new(), progress(None));
        writing.write_all(b"abc").unwrap();
        writing.write_all(b"de").unwrap();
        assert_eq!(
            (writing.inner.as_slice(), writing.progress.done),
            (&b"abcde"[..], 5)
        );
    }

    #[test]
    fn sizes_read_as_an_operator_would_write_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(rate(100, Duration::ZERO), "- /s");
    }
}
