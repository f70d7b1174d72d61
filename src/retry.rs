//! Retrying a storage request that failed in a way the provider documents as transient.
//!
//! S3 (`SlowDown`, `InternalError`, `ServiceUnavailable`), GCS ("retry strategy") and HTTP
//! itself name the same set: an answer of 408, 429, 500, 502, 503 or 504, or a connection that
//! was refused, reset, closed early or timed out. Anything else (403, 404, a bad checksum, a
//! file that cannot be read) fails at once: trying again would give the same answer.
//!
//! One request is retried, never a whole upload: the S3 storage retries one `UploadPart`, the
//! GCS storage one chunk of its resumable session, so one failed part of a multi-GB snapshot
//! costs that part again and nothing more. Every upload is still checked after it lands
//! (size and checksum), retried or not.
//!
//! [`POLICY`] bounds the retries twice: at most [`Policy::attempts`] tries of one request, and
//! no new try once [`Policy::budget`] has passed since the first. Between tries the wait
//! grows exponentially (`first_delay`, doubled each time up to `max_delay`) with "equal
//! jitter" (half the delay fixed, half random), so agents that failed together do not retry
//! together. A stop request ends the wait at once. The waits add up to about 7.5 s at most
//! with the defaults; a storage that fails every time thus fails that cycle within seconds
//! plus its requests' own timeouts (`idle_timeout`).
//!
//! The policy itself is pure ([`Policy::delay`], [`is_retryable_status`], [`is_transient`]);
//! [`Policy::run`] is the one loop the storages share.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::time::{Duration, Instant};

use anyhow::Result;
use log::warn;

use crate::shutdown::StopFlag;

/// How often and how long a request is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Tries of one request in all, the first included.
    pub attempts: u32,
    /// The wait before the first retry (before jitter).
    pub first_delay: Duration,
    /// The longest wait between two tries (before jitter).
    pub max_delay: Duration,
    /// No new try starts once this much time has passed since the first.
    pub budget: Duration,
}

/// The storages' policy: 5 tries, waits of about 0.5, 1, 2 and 4 s, within 60 s.
pub const POLICY: Policy = Policy {
    attempts: 5,
    first_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(8),
    budget: Duration::from_secs(60),
};

impl Policy {
    /// The wait before retry number `retry` (1 for the first retry), given `jitter` in
    /// `[0, 1]`: half of `first_delay * 2^(retry-1)` (capped at `max_delay`) plus `jitter`
    /// times the other half.
    #[must_use]
    pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let full = self
            .first_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// Whether retry number `retry` may start after `elapsed` since the first try, waiting
    /// `delay` first.
    #[must_use]
    pub fn allows(&self, retry: u32, elapsed: Duration, delay: Duration) -> bool {
        retry < self.attempts && elapsed.saturating_add(delay) <= self.budget
    }

    /// Runs `attempt` until it succeeds, fails in a way that is not transient
    /// ([`is_transient`]), the bounds are reached, or `stop` is raised during a wait. Each
    /// retry is logged as a warning naming `what` and the error.
    ///
    /// # Errors
    /// The last attempt's error, or the stop request's.
    pub fn run<T>(
        &self,
        what: &dyn fmt::Display,
        stop: &StopFlag,
        mut attempt: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let started = Instant::now();
        let mut retry = 0;
        loop {
            let error = match attempt() {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            retry += 1;
            let delay = self.delay(retry, jitter());
            if !is_transient(&error) || !self.allows(retry, started.elapsed(), delay) {
                return Err(error);
            }
            warn!(
                "{what} failed ({error:#}); retry {retry} of {} in {:.1}s",
                self.attempts - 1,
                delay.as_secs_f64()
            );
            wait(delay, stop)?;
        }
    }
}

/// Sleeps `delay`, or less when `stop` is raised meanwhile (then the stop's error).
fn wait(delay: Duration, stop: &StopFlag) -> Result<()> {
    let until = Instant::now() + delay;
    loop {
        stop.check()?;
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// A random number in `[0, 1]`: std's randomly keyed hasher, so no RNG crate is needed.
fn jitter() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    // 53 bits: exact in an f64.
    #[allow(clippy::cast_precision_loss)]
    let value = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    value
}

/// HTTP statuses the providers document as worth retrying: 408 Request Timeout, 429 Too Many
/// Requests (GCS's rate limit), 500, 502, 503 (S3's `SlowDown`) and 504.
#[must_use]
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// I/O failures of a connection that a new connection may not meet: refused, reset,
/// aborted, closed early, timed out.
#[must_use]
pub fn is_retryable_io(kind: io::ErrorKind) -> bool {
    use io::ErrorKind::{
        BrokenPipe, ConnectionAborted, ConnectionRefused, ConnectionReset, NotConnected, TimedOut,
        UnexpectedEof, WouldBlock,
    };
    matches!(
        kind,
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | BrokenPipe
            | NotConnected
            | TimedOut
            | UnexpectedEof
            | WouldBlock
    )
}

/// An HTTP answer with an unexpected status, as an error the policy can classify.
#[derive(Debug)]
pub struct HttpStatus {
    /// The status received.
    pub status: u16,
    /// What was asked and what came back, for the log.
    pub message: String,
}

impl fmt::Display for HttpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpStatus {}

/// Whether `error` (anywhere in its chain) is a failure the providers document as
/// transient: a retryable [`HttpStatus`] or S3 answer (status, or S3's `SlowDown` code), or
/// a connection refused, reset or timed out (`std::io`, ureq's or rust-s3's client).
#[must_use]
pub fn is_transient(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if let Some(status) = cause.downcast_ref::<HttpStatus>() {
            return is_retryable_status(status.status);
        }
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return is_retryable_io(io.kind());
        }
        if let Some(e) = cause.downcast_ref::<ureq::Error>() {
            return match e {
                ureq::Error::Io(io) => is_retryable_io(io.kind()),
                ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => true,
                ureq::Error::StatusCode(status) => is_retryable_status(*status),
                _ => false,
            };
        }
        #[cfg(feature = "s3")]
        if let Some(e) = cause.downcast_ref::<s3::error::S3Error>() {
            return match e {
                s3::error::S3Error::HttpFailWithBody(status, body) => {
                    // The document as S3 sent it, or as storage/s3 shortens it ("Code: ...").
                    is_retryable_status(*status)
                        || body.contains("<Code>SlowDown</Code>")
                        || body == "SlowDown"
                        || body.starts_with("SlowDown: ")
                }
                s3::error::S3Error::Atto(e) => match e.kind() {
                    attohttpc::ErrorKind::Io(io) => is_retryable_io(io.kind()),
                    _ => false,
                },
                s3::error::S3Error::Io(io) => is_retryable_io(io.kind()),
                _ => false,
            };
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::{Duration, Instant};

    use anyhow::anyhow;

    use super::{HttpStatus, POLICY, Policy, is_retryable_status, is_transient};
    use crate::shutdown::StopFlag;

    fn fast() -> Policy {
        Policy {
            attempts: 4,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
            budget: Duration::from_secs(5),
        }
    }

    fn status(code: u16) -> anyhow::Error {
        anyhow::Error::new(HttpStatus {
            status: code,
            message: format!("answered {code}"),
        })
        .context("UploadPart 3")
    }

    #[test]
    fn delays_double_up_to_the_cap_with_half_of_each_random() {
        let ms = |retry, jitter| POLICY.delay(retry, jitter).as_millis();
        assert_eq!(
            [ms(1, 0.0), ms(2, 0.0), ms(3, 0.0), ms(4, 0.0)],
            [250, 500, 1000, 2000]
        );
        assert_eq!(
            [ms(1, 1.0), ms(2, 1.0), ms(3, 1.0), ms(4, 1.0)],
            [500, 1000, 2000, 4000]
        );
        assert_eq!(ms(5, 1.0), 8000);
        assert_eq!(ms(30, 1.0), 8000);
        assert_eq!(ms(1, 7.0), 500, "jitter is clamped");
        for _ in 0..100 {
            let d = POLICY.delay(2, super::jitter());
            assert!(d >= Duration::from_millis(500) && d <= Duration::from_secs(1));
        }
    }

    #[test]
    fn the_bounds_are_a_count_and_a_total_time() {
        let second = Duration::from_secs(1);
        assert!(POLICY.allows(4, Duration::ZERO, second));
        assert!(!POLICY.allows(5, Duration::ZERO, second));
        assert!(POLICY.allows(1, Duration::from_secs(59), second));
        assert!(!POLICY.allows(1, Duration::from_secs(60), second));
        // The longest the default waits add up to.
        let worst: Duration = (1..POLICY.attempts).map(|r| POLICY.delay(r, 1.0)).sum();
        assert_eq!(worst, Duration::from_millis(7500));
    }

    #[test]
    fn which_failures_are_transient() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(code), "{code}");
            assert!(is_transient(&status(code)), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 412, 501] {
            assert!(!is_transient(&status(code)), "{code}");
        }
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_transient(&anyhow::Error::new(reset).context("sending")));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(!is_transient(&anyhow::Error::new(denied)));
        assert!(!is_transient(&anyhow!("the object landed with size 3")));
        #[cfg(feature = "s3")]
        {
            use s3::error::S3Error;
            let slow = "<Error><Code>SlowDown</Code></Error>".to_string();
            assert!(is_transient(&anyhow::Error::new(
                S3Error::HttpFailWithBody(503, slow.clone())
            )));
            assert!(is_transient(&anyhow::Error::new(
                S3Error::HttpFailWithBody(400, slow)
            )));
            assert!(!is_transient(&anyhow::Error::new(
                S3Error::HttpFailWithBody(403, "<Code>AccessDenied</Code>".into())
            )));
            assert!(is_transient(&anyhow::Error::new(
                S3Error::HttpFailWithBody(400, "SlowDown: Please reduce your request rate".into())
            )));
            assert!(!is_transient(&anyhow::Error::new(
                S3Error::HttpFailWithBody(403, "AccessDenied: SlowDown".into())
            )));
        }
    }

    #[test]
    fn retries_a_transient_failure_until_it_succeeds() {
        let tries = Cell::new(0);
        let result = fast().run(&"UploadPart 1", &StopFlag::never(), || {
            tries.set(tries.get() + 1);
            if tries.get() < 3 {
                Err(status(503))
            } else {
                Ok(7)
            }
        });
        assert_eq!(result.unwrap(), 7);
        assert_eq!(tries.get(), 3);
    }

    #[test]
    fn gives_up_after_the_count_or_at_once_when_not_transient() {
        let tries = Cell::new(0);
        let result: anyhow::Result<()> = fast().run(&"x", &StopFlag::never(), || {
            tries.set(tries.get() + 1);
            Err(status(500))
        });
        assert_eq!(tries.get(), 4);
        assert!(format!("{:#}", result.unwrap_err()).contains("answered 500"));
        tries.set(0);
        let result: anyhow::Result<()> = fast().run(&"x", &StopFlag::never(), || {
            tries.set(tries.get() + 1);
            Err(status(403))
        });
        assert_eq!(tries.get(), 1);
        assert!(result.is_err());
    }

    #[test]
    fn gives_up_when_the_time_budget_is_spent() {
        let policy = Policy {
            attempts: 100,
            budget: Duration::from_millis(100),
            ..fast()
        };
        let started = Instant::now();
        let _ = policy.run(&"x", &StopFlag::never(), || -> anyhow::Result<()> {
            Err(status(503))
        });
        assert!(started.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn a_stop_ends_the_wait_at_once() {
        let policy = Policy {
            first_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(60),
            budget: Duration::from_secs(600),
            ..fast()
        };
        let stop = StopFlag::never();
        let raiser = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            raiser.raise();
        });
        let started = Instant::now();
        let result: anyhow::Result<()> = policy.run(&"x", &stop, || Err(status(503)));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(result.unwrap_err().to_string().contains("interrupted"));
    }
}
