//! SIGTERM, SIGINT and SIGHUP: stop cleanly, within a second or two, leaving no temporary
//! file. SIGHUP does not reload the config (restart the agent for that); left to its default
//! it would end the process at once and leave the staging file behind.
//!
//! A signal sets a flag. [`Shutdown::flag`] hands out a [`StopFlag`] that is passed down to
//! whatever runs long (the download checks it between reads, each storage between parts, the
//! cycle between steps), so the temporary file is removed by the normal error path. There is
//! no global flag: code that can be stopped takes a `StopFlag`, and tests pass
//! [`StopFlag::never`] or one they raise themselves. Between cycles
//! `run` waits on a socket the signal handler writes to, so it sleeps without waking up
//! periodically and still reacts at once. A second signal while the first is being handled
//! ends the process immediately (exit 1), for the case where Vault stops sending mid-stream.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The message of the error that a stop request turns into.
pub const INTERRUPTED: &str = "interrupted by a shutdown signal";

/// A request to stop, as seen by code that runs long: cheap to clone, checked between steps.
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag nothing raises except [`StopFlag::raise`] (tests, and code without signals).
    #[must_use]
    pub fn never() -> Self {
        Self::default()
    }

    /// True once a stop was requested.
    #[must_use]
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Requests a stop.
    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// `Err` once a stop was requested, for the `?` between two steps.
    ///
    /// # Errors
    /// [`INTERRUPTED`], once a stop was requested.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.requested() {
            anyhow::bail!(INTERRUPTED);
        }
        Ok(())
    }
}

/// The exit status when a second SIGTERM, SIGINT or SIGHUP arrives while the first is handled.
pub const SECOND_SIGNAL_EXIT: i32 = 1;

/// Shutdown requests from signals.
pub struct Shutdown {
    flag: StopFlag,
    wake: UnixStream,
}

impl Shutdown {
    /// Installs handlers for SIGTERM, SIGINT and SIGHUP.
    ///
    /// # Errors
    /// When the handlers or the wake-up socket cannot be set up.
    pub fn install() -> io::Result<Self> {
        let flag = StopFlag::never();
        let (wake, notify) = UnixStream::pair()?;
        for signal in [SIGTERM, SIGINT, SIGHUP] {
            // Order matters: the conditional exit must see the flag of an earlier signal.
            signal_hook::flag::register_conditional_shutdown(
                signal,
                SECOND_SIGNAL_EXIT,
                Arc::clone(&flag.0),
            )?;
            signal_hook::flag::register(signal, Arc::clone(&flag.0))?;
            signal_hook::low_level::pipe::register(signal, notify.try_clone()?)?;
        }
        Ok(Self { flag, wake })
    }

    /// The flag the signals raise, to pass to code that runs long.
    #[must_use]
    pub fn flag(&self) -> &StopFlag {
        &self.flag
    }

    /// True once a signal asked the process to stop.
    #[must_use]
    pub fn requested(&self) -> bool {
        self.flag.requested()
    }

    /// The last resort for a stop that the code cannot see in time (a storage client blocked
    /// in a read of its own, which only its timeout ends): `grace` after a signal, if the
    /// process is still running, `give_up` runs on a thread of its own (it should remove this
    /// process's temporary files and exit). A process that ends in time never runs it.
    pub fn watchdog(&self, grace: Duration, give_up: impl FnOnce() + Send + 'static) {
        let flag = self.flag.clone();
        std::thread::spawn(move || {
            while !flag.requested() {
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(grace);
            give_up();
        });
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
