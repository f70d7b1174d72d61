//! ureq agents that give up: on a peer that stops sending for `idle_timeout` (ureq's per-read
//! and per-write timeouts), and at once on a shutdown request, even in the middle of a read
//! that would otherwise block until that timeout.
//!
//! A signal cannot interrupt a blocked `read(2)` (the handlers restart it), so the transport
//! that ureq reads through ([`StoppableTransport`], chained after ureq's own TCP, proxy and
//! TLS connectors) waits for input in slices of [`SLICE`], and between two slices looks at the
//! [`StopFlag`], the idle deadline and ureq's own deadline. A timed-out wait has consumed
//! nothing, so waiting again is safe. Writes are not sliced (a write cut short cannot be
//! resumed); they are bounded by the per-write timeout.

use std::fmt;
use std::time::{Duration, Instant};

use ureq::Timeout;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};

use crate::shutdown::{INTERRUPTED, StopFlag};

/// The longest a wait for input goes on without looking at the stop flag.
pub const SLICE: Duration = Duration::from_millis(200);

/// The trust every HTTPS client of ours starts from (Vault without `ca_cert`/`ca_path`, GCS
/// and its token endpoints): what the OS trusts, through `rustls-platform-verifier`, which on
/// Linux reads the system store and honours `SSL_CERT_FILE` and `SSL_CERT_DIR`. ureq's own
/// default is the built-in public roots only, which rejects a private CA (`UnknownIssuer`).
/// The Azure client (reqwest) uses the same verifier.
#[must_use]
pub fn system_tls() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build()
}

/// An agent for `config` (which should set `timeout_per_read` and `timeout_per_write` to the
/// idle timeout) whose reads end when `stop` is raised.
#[must_use]
pub fn agent(config: ureq::config::Config, stop: StopFlag) -> ureq::Agent {
    let connector = DefaultConnector::new().chain(StopConnector { stop });
    ureq::Agent::with_parts(config, connector, DefaultResolver::default())
}

/// Wraps whatever transport the connectors before it made.
#[derive(Debug)]
struct StopConnector {
    stop: StopFlag,
}

impl Connector<Box<dyn Transport>> for StopConnector {
    type Out = StoppableTransport;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<Box<dyn Transport>>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| StoppableTransport {
            inner,
            stop: self.stop.clone(),
        }))
    }
}

/// A transport whose waits for input end on a stop request.
pub struct StoppableTransport {
    inner: Box<dyn Transport>,
    stop: StopFlag,
}

impl fmt::Debug for StoppableTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoppableTransport").finish_non_exhaustive()
    }
}

/// What is left of `limit` after `waited`, or `None` when there is no limit.
fn left(limit: Option<Duration>, waited: Duration) -> Option<Duration> {
    limit.map(|l| l.saturating_sub(waited))
}

impl Transport for StoppableTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.stop.requested() {
            return Err(interrupted());
        }
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let started = Instant::now();
        // ureq's own budget for this wait (a global or body timeout), and the idle limit.
        let budget = (!timeout.after.is_not_happening()).then(|| *timeout.after);
        let idle = timeout
            .per_read
            .filter(|d| !d.is_not_happening())
            .map(|d| *d);
        loop {
            if self.stop.requested() {
                return Err(interrupted());
            }
            let waited = started.elapsed();
            let budget_left = left(budget, waited);
            let idle_left = left(idle, waited);
            if budget_left.is_some_and(|d| d.is_zero()) {
                return Err(ureq::Error::Timeout(timeout.reason));
            }
            if idle_left.is_some_and(|d| d.is_zero()) {
                return Err(ureq::Error::Timeout(Timeout::PerRead));
            }
            let slice = [Some(SLICE), budget_left, idle_left]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(SLICE);
            let next = NextTimeout {
                after: slice.into(),
                reason: timeout.reason,
                per_read: None,
                per_write: timeout.per_write,
            };
            match self.inner.await_input(next) {
                Err(ureq::Error::Timeout(_)) => {}
                other => return other,
            }
        }
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// The error a stop turns a wait into. Not `ErrorKind::Interrupted`: `read_exact` and
/// `read_to_end` retry those, and would call again and again.
fn interrupted() -> ureq::Error {
    ureq::Error::Io(std::io::Error::other(INTERRUPTED))
}
