//! The HTTP endpoint of `run` (`metrics_listen`): `/metrics`, `/healthz`, `/readyz` and
//! `/status`, for Prometheus and Kubernetes probes.
//!
//! The cycle publishes its state into a [`Published`] (a `Mutex` held only to copy values in
//! or out); the endpoint reads it and never calls into the cycle, so it answers during a
//! multi-GB download and never blocks a cycle.
//!
//! One thread of its own serves every connection, without async and without a thread per
//! client: connections are non-blocking and polled, at most [`MAX_CONNECTIONS`] at a time
//! (the oldest is dropped to make room for a new one once it has had [`MIN_AGE`]), each with [`MAX_HEAD`] bytes of
//! request head and [`CONNECTION_DEADLINE`] to send it and read the answer. So neither slow
//! nor many nor huge requests hold memory or threads without bound, and a probe is answered
//! while they try. With no connection open the thread waits in `accept`, with no wake-ups.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::config::ConfigError;
use crate::metrics::{Metrics, unix_seconds};
use crate::snapshot_name::utc_timestamp;

/// The most connections held open at once; a new one beyond it drops the oldest, once that
/// one has had [`MIN_AGE`] (until then new ones wait in the kernel's backlog).
pub const MAX_CONNECTIONS: usize = 256;
/// How long a connection is kept before a new one may push it out.
pub const MIN_AGE: Duration = Duration::from_millis(250);
/// The largest request head (request line and headers) read; a larger one gets 431.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a connection may take to send its request and read the answer.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(2);
/// How often open connections are polled.
const POLL: Duration = Duration::from_millis(5);

/// How a cycle ended, for `/status` and the `cycles_total` counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CycleResult {
    /// Stored everywhere.
    Success,
    /// Not the leader: nothing to do.
    NotLeader,
    /// No verified snapshot, or a storage did not store or prune it.
    Failed,
    /// A shutdown signal ended it.
    Stopped,
}

impl CycleResult {
    const ALL: [CycleResult; 4] = [
        CycleResult::Success,
        CycleResult::NotLeader,
        CycleResult::Failed,
        CycleResult::Stopped,
    ];

    /// The `outcome` label and `/status` value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CycleResult::Success => "success",
            CycleResult::NotLeader => "not_leader",
            CycleResult::Failed => "failed",
            CycleResult::Stopped => "stopped",
        }
    }
}

/// What one storage did with the last cycle's snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageStatus {
    /// Its name as `list` shows it.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its credential-free location.
    pub location: String,
    /// Whether the snapshot was stored and checked there.
    pub stored: bool,
    /// Snapshots held after pruning, when pruning ran.
    pub snapshots: Option<u64>,
    /// Why storing or pruning failed.
    pub error: Option<String>,
}

/// The last cycle, as `/status` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct LastCycle {
    /// How it ended.
    pub result: CycleResult,
    /// The error that ended it, or the summary of the storages that failed.
    pub error: Option<String>,
    /// The verified snapshot's name, when one was taken.
    pub snapshot: Option<String>,
    /// Per storage, when a snapshot was taken.
    pub storages: Vec<StorageStatus>,
}

/// What the loop of `run` is doing, for `/healthz`.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Not started yet.
    Starting,
    /// In a cycle since `since` (wall clock `at`).
    Cycle { since: Instant, at: SystemTime },
    /// Waiting for the next cycle, due at `until` (wall clock `at`).
    Waiting { until: Instant, at: SystemTime },
    /// A signal asked the agent to stop.
    Stopping,
}

struct State {
    /// How long a cycle may run, or a wait overrun, before `/healthz` fails.
    deadline: Duration,
    phase: Phase,
    metrics: Metrics,
    last: Option<(SystemTime, SystemTime, LastCycle)>,
    consecutive_errors: u64,
    /// Argelbargel's agent's gauges, when `metrics_vrsa_names` asks for them.
    vrsa: Option<Vrsa>,
    cycles: [u64; 4],
}

/// The values of Argelbargel's vault-raft-snapshot-agent's gauges (`metrics_vrsa_names`), in
/// Unix seconds and bytes; 0 until known.
#[derive(Clone, Copy, Debug, Default)]
struct Vrsa {
    last_snapshot_time: f64,
    last_successful_snapshot_time: f64,
    last_snapshot_success: bool,
    next_snapshot_time: f64,
    last_snapshot_size: u64,
}

/// The state the cycle publishes and the endpoint reads.
#[derive(Clone)]
pub struct Published(Arc<Mutex<State>>);

/// How long a cycle may run before `/healthz` fails: twice `frequency`, plus `timeout`
/// (the download's bound) when it is set. A loop that does not start its next cycle within
/// the same time after it was due fails it too.
#[must_use]
pub fn deadline(frequency: Duration, timeout: Option<Duration>) -> Duration {
    frequency
        .saturating_mul(2)
        .saturating_add(timeout.unwrap_or_default())
}

impl Published {
    /// Empty state for a loop whose cycles may take `deadline`.
    #[must_use]
    pub fn new(deadline: Duration, metrics: Metrics) -> Self {
        Self(Arc::new(Mutex::new(State {
            deadline,
            phase: Phase::Starting,
            metrics,
            last: None,
            consecutive_errors: 0,
            cycles: [0; 4],
            vrsa: None,
        })))
    }

    /// Also serves Argelbargel's agent's `vrsa_*` gauges (`metrics_vrsa_names`).
    #[must_use]
    pub fn with_vrsa_names(self) -> Self {
        self.lock().vrsa = Some(Vrsa::default());
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding it leaves plain values: still fine to read.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A cycle starts now.
    pub fn cycle_started(&self) {
        let mut state = self.lock();
        if !matches!(state.phase, Phase::Stopping) {
            state.phase = Phase::Cycle {
                since: Instant::now(),
                at: SystemTime::now(),
            };
        }
    }

    /// A cycle that started at `started` ended; the metrics after it are `metrics`, and the
    /// next cycle starts after `wait`.
    pub fn cycle_ended(
        &self,
        started: SystemTime,
        cycle: LastCycle,
        metrics: &Metrics,
        wait: Duration,
    ) {
        let mut state = self.lock();
        let index = CycleResult::ALL
            .iter()
            .position(|r| *r == cycle.result)
            .unwrap_or(0);
        state.cycles[index] += 1;
        match cycle.result {
            CycleResult::Failed => state.consecutive_errors += 1,
            CycleResult::Stopped => {}
            CycleResult::Success | CycleResult::NotLeader => state.consecutive_errors = 0,
        }
        if let Some(vrsa) = &mut state.vrsa {
            // Theirs: a snapshot attempt at `started`; success when it was not empty. Ours:
            // success is stored everywhere (or a standby); a stop is no attempt.
            let at = unix_seconds(started);
            match cycle.result {
                CycleResult::Success | CycleResult::NotLeader => {
                    vrsa.last_snapshot_time = at;
                    vrsa.last_successful_snapshot_time = at;
                    vrsa.last_snapshot_success = true;
                    if cycle.result == CycleResult::Success {
                        vrsa.last_snapshot_size = metrics.agent.snapshot_bytes;
                    }
                }
                CycleResult::Failed => {
                    vrsa.last_snapshot_time = at;
                    vrsa.last_snapshot_success = false;
                }
                CycleResult::Stopped => {}
            }
            vrsa.next_snapshot_time = unix_seconds(SystemTime::now() + wait);
        }
        state.last = Some((started, SystemTime::now(), cycle));
        state.metrics = metrics.clone();
        if !matches!(state.phase, Phase::Stopping) {
            state.phase = Phase::Waiting {
                until: Instant::now() + wait,
                at: SystemTime::now() + wait,
            };
        }
    }

    /// The metrics changed between cycles (a restore drill ended).
    pub fn metrics_changed(&self, metrics: &Metrics) {
        self.lock().metrics = metrics.clone();
    }

    /// A signal asked the agent to stop: `/readyz` fails from now on.
    pub fn stopping(&self) {
        self.lock().phase = Phase::Stopping;
    }

    /// `/healthz`: `None` when alive, else why not.
    fn unhealthy(&self) -> Option<String> {
        let state = self.lock();
        let limit = state.deadline;
        match state.phase {
            Phase::Cycle { since, .. } if since.elapsed() > limit => Some(format!(
                "the cycle has been running for {}s, past its deadline of {}s",
                since.elapsed().as_secs(),
                limit.as_secs()
            )),
            Phase::Waiting { until, .. } if until.elapsed() > limit => Some(format!(
                "the next cycle is {}s overdue, past the deadline of {}s",
                until.elapsed().as_secs(),
                limit.as_secs()
            )),
            _ => None,
        }
    }

    /// `/readyz`: `None` when ready, else why not.
    fn unready(&self) -> Option<&'static str> {
        match self.lock().phase {
            Phase::Starting => Some("the agent has not started its loop yet"),
            Phase::Stopping => Some("the agent is shutting down"),
            Phase::Cycle { .. } | Phase::Waiting { .. } => None,
        }
    }

    /// `/metrics`: the metrics file's text, plus the loop's own.
    fn metrics_text(&self) -> String {
        use std::fmt::Write as _;
        let state = self.lock();
        let mut out = state.metrics.render();
        let next = match state.phase {
            Phase::Waiting { at, .. } => unix_seconds(at),
            _ => 0.0,
        };
        let running = u8::from(matches!(state.phase, Phase::Cycle { .. }));
        let p = "vault_raft_snapshot";
        let _ = writeln!(
            out,
            "# HELP {p}_next_cycle_timestamp_seconds When the next cycle starts (0: one is running, or none is planned).\n\
             # TYPE {p}_next_cycle_timestamp_seconds gauge\n{p}_next_cycle_timestamp_seconds {next}\n\
             # HELP {p}_cycle_running 1 while a cycle runs.\n\
             # TYPE {p}_cycle_running gauge\n{p}_cycle_running {running}\n\
             # HELP {p}_cycles_total Cycles since the agent started, by outcome.\n\
             # TYPE {p}_cycles_total counter"
        );
        for (result, count) in CycleResult::ALL.iter().zip(state.cycles) {
            let _ = writeln!(
                out,
                "{p}_cycles_total{{outcome=\"{}\"}} {count}",
                result.as_str()
            );
        }
        if let Some(v) = state.vrsa {
            // Argelbargel's agent's names, help texts and types (all gauges).
            for (name, help, value) in [
                (
                    "vrsa_last_snapshot_time",
                    "Unix timestamp of the last snapshot time",
                    v.last_snapshot_time,
                ),
                (
                    "vrsa_last_successful_snapshot_time",
                    "Unix timestamp of the last successful snapshot time",
                    v.last_successful_snapshot_time,
                ),
                (
                    "vrsa_last_snapshot_success",
                    "Returns 1 if the last snapshot was successful and 0 if not",
                    f64::from(u8::from(v.last_snapshot_success)),
                ),
                (
                    "vrsa_next_snapshot_time",
                    "Unix timestamp of the next scheduled snapshot time",
                    v.next_snapshot_time,
                ),
                (
                    "vrsa_last_snapshot_size",
                    "Size of the last snapshot in bytes",
                    #[allow(clippy::cast_precision_loss)]
                    {
                        v.last_snapshot_size as f64
                    },
                ),
            ] {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                    value.trunc()
                );
            }
        }
        out
    }

    /// `/status`: JSON, with the names of Vault Enterprise's automated-snapshot status where
    /// it has one for the same thing.
    fn status(&self) -> Value {
        let state = self.lock();
        let time = |t: SystemTime| Value::String(utc_timestamp(t));
        let (snapshot_start, next) = match state.phase {
            Phase::Cycle { at, .. } => (time(at), Value::Null),
            Phase::Waiting { at, .. } => (Value::Null, time(at)),
            _ => (Value::Null, Value::Null),
        };
        let mut status = json!({
            "snapshot_start": snapshot_start,
            "next_snapshot_start": next,
            "consecutive_errors": state.consecutive_errors,
            "last_snapshot_start": null,
            "last_snapshot_end": null,
            "last_snapshot_error": "",
            "last_snapshot_outcome": null,
            "last_snapshot_name": null,
            "storages": [],
        });
        if let Some((start, end, last)) = &state.last {
            status["last_snapshot_start"] = time(*start);
            status["last_snapshot_end"] = time(*end);
            status["last_snapshot_error"] = json!(last.error.clone().unwrap_or_default());
            status["last_snapshot_outcome"] = json!(last.result.as_str());
            status["last_snapshot_name"] = json!(last.snapshot);
            status["storages"] = last
                .storages
                .iter()
                .map(|s| {
                    json!({
                        "name": s.name,
                        "kind": s.kind,
                        "location": s.location,
                        "stored": s.stored,
                        "snapshots": s.snapshots,
                        "error": s.error.clone().unwrap_or_default(),
                    })
                })
                .collect();
        }
        status
    }

    /// The answer to one request head.
    fn answer(&self, head: &[u8]) -> Vec<u8> {
        let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        let head_only = method == "HEAD";
        if method != "GET" && !head_only {
            return response(
                "405 Method Not Allowed",
                "text/plain",
                "only GET and HEAD\n",
                head_only,
            );
        }
        let (status, kind, body) = match path {
            "/metrics" => (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics_text(),
            ),
            "/healthz" => match self.unhealthy() {
                None => ("200 OK", "text/plain", "ok\n".to_string()),
                Some(why) => ("503 Service Unavailable", "text/plain", format!("{why}\n")),
            },
            "/readyz" => match self.unready() {
                None => ("200 OK", "text/plain", "ok\n".to_string()),
                Some(why) => ("503 Service Unavailable", "text/plain", format!("{why}\n")),
            },
            "/status" => (
                "200 OK",
                "application/json",
                format!("{:#}\n", self.status()),
            ),
            _ => (
                "404 Not Found",
                "text/plain",
                "not found: try /metrics, /healthz, /readyz or /status\n".to_string(),
            ),
        };
        response(status, kind, &body, head_only)
    }
}

fn response(status: &str, kind: &str, body: &str, head_only: bool) -> Vec<u8> {
    let allow = if status.starts_with("405") {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{allow}Connection: close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Binds `listen` (the value of `metrics_listen`).
///
/// # Errors
/// A [`ConfigError`] naming the key and the address when it cannot be bound (in use, not
/// this host's, a privileged port).
pub fn bind(listen: &str) -> Result<TcpListener> {
    TcpListener::bind(listen).map_err(|e| {
        ConfigError(format!(
            "key \"metrics_listen\": cannot listen on {listen}: {e}"
        ))
        .into()
    })
}

/// Serves `published` on `listener` from a thread of its own, for as long as the process
/// lives.
///
/// # Errors
/// When the thread cannot be started.
pub fn serve(listener: TcpListener, published: Published) -> Result<()> {
    std::thread::Builder::new()
        .name("endpoint".into())
        .stack_size(256 * 1024)
        .spawn(move || Server::new(listener, published).run())
        .context("cannot start the endpoint's thread")?;
    Ok(())
}

/// One client connection: the head read so far, then the answer being written.
struct Connection {
    stream: TcpStream,
    opened: Instant,
    head: Vec<u8>,
    out: Option<(Vec<u8>, usize)>,
}

impl Connection {
    /// Reads and writes what it can without blocking; false when it is done with.
    fn progress(&mut self, published: &Published) -> bool {
        if self.opened.elapsed() > CONNECTION_DEADLINE {
            return false;
        }
        if self.out.is_none() {
            let mut buf = [0u8; 1024];
            loop {
                match self.stream.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(n) => {
                        self.head.extend_from_slice(&buf[..n]);
                        if let Some(end) = find(&self.head, b"\r\n\r\n")
                            .or_else(|| find(&self.head, b"\n\n"))
                            .filter(|end| *end <= MAX_HEAD)
                        {
                            self.out = Some((published.answer(&self.head[..end]), 0));
                            break;
                        }
                        if self.head.len() > MAX_HEAD {
                            self.out = Some((
                                response(
                                    "431 Request Header Fields Too Large",
                                    "text/plain",
                                    "request head too large\n",
                                    false,
                                ),
                                0,
                            ));
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return false,
                }
            }
            self.head = Vec::new();
        }
        let Some((out, written)) = &mut self.out else {
            return true;
        };
        while *written < out.len() {
            match self.stream.write(&out[*written..]) {
                Ok(0) => return false,
                Ok(n) => *written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        false
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| at + needle.len())
}

struct Server {
    listener: TcpListener,
    published: Published,
    connections: Vec<Connection>,
}

impl Server {
    fn new(listener: TcpListener, published: Published) -> Self {
        Self {
            listener,
            published,
            connections: Vec::with_capacity(MAX_CONNECTIONS),
        }
    }

    fn run(mut self) {
        loop {
            // Nothing open: wait for a client without waking up.
            let idle = self.connections.is_empty();
            if self.listener.set_nonblocking(!idle).is_err() {
                std::thread::sleep(POLL);
                continue;
            }
            let mut busy = false;
            loop {
                if self.full() {
                    break;
                }
                match self.listener.accept() {
                    Ok((stream, _)) => {
                        busy = true;
                        self.add(stream);
                        if idle {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    // A client that went away before its accept, or out of descriptors:
                    // try again shortly.
                    Err(_) => {
                        std::thread::sleep(POLL);
                        break;
                    }
                }
            }
            let published = &self.published;
            let before = self.connections.len();
            self.connections.retain_mut(|c| c.progress(published));
            busy |= self.connections.len() != before;
            if !busy && !self.connections.is_empty() {
                std::thread::sleep(POLL);
            }
        }
    }

    /// Whether every slot holds a connection too young to be pushed out.
    fn full(&self) -> bool {
        self.connections.len() >= MAX_CONNECTIONS
            && self
                .connections
                .first()
                .is_some_and(|oldest| oldest.opened.elapsed() < MIN_AGE)
    }

    fn add(&mut self, stream: TcpStream) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        if self.connections.len() >= MAX_CONNECTIONS {
            // The oldest has had the longest to send its request.
            self.connections.remove(0);
        }
        self.connections.push(Connection {
            stream,
            opened: Instant::now(),
            head: Vec::new(),
            out: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(answer: &[u8]) -> (String, String) {
        let text = String::from_utf8_lossy(answer).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_string(), body.to_string())
    }

    #[test]
    fn only_get_and_head_are_answered_and_others_are_told_what_is_allowed() {
        let published = Published::new(Duration::from_secs(60), Metrics::default());
        let (head, _) = body(&published.answer(b"POST /metrics HTTP/1.1\r\nHost: x"));
        assert!(head.starts_with("HTTP/1.1 405 "), "{head}");
        assert!(head.contains("\r\nAllow: GET, HEAD\r\n"), "{head}");
        let (head, rest) = body(&published.answer(b"HEAD /healthz HTTP/1.1"));
        assert!(head.starts_with("HTTP/1.1 200 ") && head.contains("Content-Length: 3"));
        assert_eq!(rest, "");
        let (head, _) = body(&published.answer(b"GET /nothing HTTP/1.1"));
        assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    }

    #[test]
    fn readiness_follows_the_loop_and_health_its_deadline() {
        let published = Published::new(Duration::from_millis(50), Metrics::default());
        assert!(published.unready().is_some(), "not started");
        assert!(published.unhealthy().is_none());
        published.cycle_started();
        assert!(published.unready().is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(published.unhealthy().unwrap().contains("past its deadline"));
        let last = LastCycle {
            result: CycleResult::Failed,
            error: Some("Vault is sealed".into()),
            snapshot: None,
            storages: Vec::new(),
        };
        published.cycle_ended(
            SystemTime::now(),
            last,
            &Metrics::default(),
            Duration::from_secs(10),
        );
        assert!(published.unhealthy().is_none() && published.unready().is_none());
        assert_eq!(published.status()["consecutive_errors"], 1);
        assert_eq!(published.status()["last_snapshot_error"], "Vault is sealed");
        assert!(
            published
                .metrics_text()
                .contains("vault_raft_snapshot_cycles_total{outcome=\"failed\"} 1\n")
        );
        published.stopping();
        assert!(published.unready().is_some());
    }

    #[test]
    fn the_deadline_is_twice_frequency_plus_timeout() {
        let secs = Duration::from_secs;
        assert_eq!(deadline(secs(3600), None), secs(7200));
        assert_eq!(deadline(secs(60), Some(secs(600))), secs(720));
    }
}
