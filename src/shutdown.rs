//! SIGTERM and SIGINT: stop cleanly, within a second or two, leaving no temporary file.
//!
//! A signal sets a flag, which the download checks between reads and the cycle checks
//! between steps, so the temporary file is removed by the normal error path. Between cycles
//! `run` waits on a socket the signal handler writes to, so it sleeps without waking up
//! periodically and still reacts at once. A second signal while the first is being handled
//! ends the process immediately (exit 1), for the case where Vault stops sending mid-stream.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};

/// The flag of the installed handlers, for code far from the cycle (a storage's part loop).
static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// True once a signal asked the process to stop (false if no handler is installed).
/// Storages check it between parts, so a long upload stops promptly and is aborted cleanly.
#[must_use]
pub fn requested() -> bool {
    FLAG.get().is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// Shutdown requests from signals.
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    wake: UnixStream,
}

impl Shutdown {
    /// Installs handlers for SIGTERM and SIGINT.
    ///
    /// # Errors
    /// When the handlers or the wake-up socket cannot be set up.
    pub fn install() -> io::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        let (wake, notify) = UnixStream::pair()?;
        for signal in [SIGTERM, SIGINT] {
            // Order matters: the conditional exit must see the flag of an earlier signal.
            signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&flag))?;
            signal_hook::flag::register(signal, Arc::clone(&flag))?;
            signal_hook::low_level::pipe::register(signal, notify.try_clone()?)?;
        }
        let _ = FLAG.set(Arc::clone(&flag));
        Ok(Self { flag, wake })
    }

    /// True once a signal asked the process to stop.
    #[must_use]
    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps for `duration` or until a signal arrives. Returns true if one did.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut buffer = [0u8; 16];
        while !self.requested() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // A zero timeout is refused by set_read_timeout; a microsecond is harmless.
            let timeout = left.max(Duration::from_micros(1));
            if self.wake.set_read_timeout(Some(timeout)).is_err() {
                std::thread::sleep(left.min(Duration::from_millis(200)));
                continue;
            }
            // A read returns when a signal handler writes, or fails when the timeout ends.
            let _ = (&self.wake).read(&mut buffer);
        }
        self.requested()
    }
}
