//! `metrics_listen`: the HTTP endpoint of `run` (`/metrics`, `/healthz`, `/readyz`,
//! `/status`), asked over real sockets while the real binary runs cycles against the Vault
//! stand-in: what it says after a cycle, while Vault is down, during a slow download, and
//! that slow, many or huge requests hold neither its threads nor its memory.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::env::{TestEnv, finish, valid_archive, wait_for};
use crate::vault_stand_in::VaultStandIn;

/// A port free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `run` of the binary, SIGTERMed (by its own PID) on drop; its log goes to a file.
struct Agent {
    child: Option<Child>,
    addr: String,
    log: std::path::PathBuf,
}

impl Agent {
    fn start(env: &TestEnv) -> Self {
        let log = env.root.path().join("agent.log");
        let mut command = env.command(&["run"]);
        command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = command.spawn().expect("spawn the binary");
        let config: Value =
            serde_json::from_slice(&std::fs::read(env.config_path()).unwrap()).unwrap();
        let addr = config["metrics_listen"].as_str().unwrap().to_string();
        let agent = Self {
            child: Some(child),
            addr,
            log,
        };
        wait_for("the endpoint to answer", Duration::from_secs(20), || {
            TcpStream::connect(&agent.addr).is_ok()
        });
        agent
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A field of `/proc/<pid>/status` (`Threads`, `VmRSS`), as a number.
    fn proc_status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn get(&self, path: &str) -> Response {
        request(
            &self.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: agent\r\n\r\n"),
        )
    }

    fn status(&self) -> Value {
        let response = self.get("/status");
        assert_eq!(response.code, 200, "{response:?}");
        serde_json::from_str(&response.body).unwrap()
    }

    /// Waits until `/status` satisfies `condition`; returns it.
    fn wait_status(&self, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let status = self.status();
            if condition(&status) {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no status with {what}: {status:#}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(mut self) -> crate::env::Outcome {
        let child = self.child.take().unwrap();
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        finish(child, Duration::from_secs(10))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

#[derive(Debug)]
struct Response {
    code: u16,
    head: String,
    body: String,
}

/// Sends `raw` to `addr` and reads the whole answer (the endpoint closes after it).
fn request(addr: &str, raw: &str) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {answer:?}"));
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    Response {
        code,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn config(env: &TestEnv, vault: &VaultStandIn, extra: Value) {
    let mut keys = json!({"metrics_listen": format!("127.0.0.1:{}", free_port())});
    for (key, value) in extra.as_object().unwrap() {
        keys[key] = value.clone();
    }
    env.write_config(vault, keys);
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The value of the sample `series` (name and labels, exactly) in a `/metrics` text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn after_a_cycle_metrics_and_status_say_what_it_stored_where_and_when_the_next_one_is() {
    let vault = VaultStandIn::start(valid_archive(5000));
    let env = TestEnv::new();
    config(&env, &vault, json!({"frequency": "1h"}));
    let agent = Agent::start(&env);
    let status = agent.wait_status("a last snapshot", |s| {
        s["last_snapshot_outcome"] == "success"
    });
    let stored = env.files();
    assert_eq!(stored.len(), 1, "{stored:?}");

    // `/status`: Vault Enterprise's automated-snapshot names where it has them.
    assert_eq!(
        status["last_snapshot_name"],
        stored[0].as_str(),
        "{status:#}"
    );
    assert_eq!(status["last_snapshot_error"], "", "{status:#}");
    assert_eq!(status["consecutive_errors"], 0, "{status:#}");
    assert_eq!(
        status["snapshot_start"],
        Value::Null,
        "no cycle runs: {status:#}"
    );
    let time = |key: &str| {
        let text = status[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key}: {status:#}"));
        vault_raft_snapshot::snapshot_name::parse_rfc3339(text)
            .unwrap_or_else(|| panic!("{key} is not RFC 3339: {text}"))
    };
    let (start, end, next) = (
        time("last_snapshot_start"),
        time("last_snapshot_end"),
        time("next_snapshot_start"),
    );
    assert!(start <= end && end < next, "{status:#}");
    let in_an_hour = next.duration_since(start).unwrap().as_secs();
    assert!((3598..=3600).contains(&in_an_hour), "{status:#}");
    assert_eq!(
        status["storages"],
        json!([{
            "name": "local-0",
            "kind": "local",
            "location": env.snaps.display().to_string(),
            "stored": true,
            "snapshots": 1,
            "error": "",
        }]),
        "{status:#}"
    );

    // `/metrics`: the textfile's metrics, storages by name, the next cycle and the counters.
    let metrics = agent.get("/metrics");
    assert_eq!(metrics.code, 200);
    assert_contains!(metrics.head, "Content-Type: text/plain; version=0.0.4");
    let text = &metrics.body;
    assert_eq!(sample(text, "vault_raft_snapshot_raft_index"), 1234.0);
    assert_eq!(sample(text, "vault_raft_snapshot_leader"), 1.0);
    assert_eq!(
        sample(text, "vault_raft_snapshot_consecutive_failures"),
        0.0
    );
    let labels = format!(
        "{{storage=\"local-0\",kind=\"local\",location=\"{}\"}}",
        env.snaps.display()
    );
    assert_eq!(
        sample(
            text,
            &format!("vault_raft_snapshot_storage_snapshots{labels}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            text,
            "vault_raft_snapshot_cycles_total{outcome=\"success\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(text, "vault_raft_snapshot_cycles_total{outcome=\"failed\"}"),
        0.0
    );
    assert_eq!(sample(text, "vault_raft_snapshot_cycle_running"), 0.0);
    let next = sample(text, "vault_raft_snapshot_next_cycle_timestamp_seconds");
    assert!(next > now() + 3500.0, "{text}");
    assert_contains!(text, "# TYPE vault_raft_snapshot_cycles_total counter\n");

    for path in ["/healthz", "/readyz"] {
        assert_eq!(agent.get(path).code, 200, "{path}");
    }
    let head = request(&agent.addr, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!((head.code, head.body.as_str()), (200, ""));
    assert_eq!(agent.get("/metrics/../etc").code, 404);

    // Only GET and HEAD; anything else is told what is allowed.
    for method in ["POST", "PUT", "DELETE"] {
        let refused = request(
            &agent.addr,
            &format!("{method} /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
        );
        assert_eq!(refused.code, 405, "{method}: {refused:?}");
        assert_contains!(refused.head, "\r\nAllow: GET, HEAD");
    }
    let outcome = agent.stop();
    assert_eq!(outcome.code, 0, "{outcome:?}");
}

#[test]
fn while_vault_is_down_the_agent_is_alive_and_ready_and_status_says_why_cycles_fail() {
    let vault = VaultStandIn::start(valid_archive(5000));
    let env = TestEnv::new();
    let down = format!("http://127.0.0.1:{}", free_port());
    config(
        &env,
        &vault,
        json!({"addr": down, "frequency": "1h", "retry_interval": "1s"}),
    );
    let agent = Agent::start(&env);
    let status = agent.wait_status("two failed cycles", |s| {
        s["consecutive_errors"].as_u64() >= Some(2)
    });
    assert_eq!(status["last_snapshot_outcome"], "failed", "{status:#}");
    let error = status["last_snapshot_error"].as_str().unwrap();
    assert_contains!(error, "127.0.0.1");
    assert_eq!(status["last_snapshot_name"], Value::Null);
    assert_eq!(status["storages"], json!([]));
    // The retry, not the hour: the next cycle is seconds away.
    let next = status["next_snapshot_start"].as_str().unwrap();
    let next = vault_raft_snapshot::snapshot_name::parse_rfc3339(next).unwrap();
    assert!(
        next.duration_since(SystemTime::now()).unwrap_or_default() < Duration::from_secs(10),
        "{status:#}"
    );
    // A Vault outage restarts no pod: both probes pass.
    for path in ["/healthz", "/readyz"] {
        let response = agent.get(path);
        assert_eq!(
            (response.code, response.body.as_str()),
            (200, "ok\n"),
            "{path}"
        );
    }
    let text = agent.get("/metrics").body;
    assert!(
        sample(
            &text,
            "vault_raft_snapshot_cycles_total{outcome=\"failed\"}"
        ) >= 2.0
    );
    assert!(sample(&text, "vault_raft_snapshot_consecutive_failures") >= 2.0);
    assert!(env.files().is_empty());
}

#[test]
fn a_slow_download_does_not_slow_the_probes_and_a_cycle_past_its_deadline_fails_healthz() {
    // 40 chunks of 250 ms: a download of 10 s.
    let archive = valid_archive(40_000);
    let vault = VaultStandIn::start(archive.clone());
    {
        let mut state = vault.state();
        state.chunk_size = archive.len() / 40 + 1;
        state.chunk_delay = Duration::from_millis(250);
    }
    let env = TestEnv::new();
    // `frequency` 1s: the cycle's deadline is 2 s (twice frequency, no `timeout`).
    config(&env, &vault, json!({"frequency": "1s"}));
    let agent = Agent::start(&env);
    let status = agent.wait_status("a cycle running", |s| s["snapshot_start"].is_string());
    assert_eq!(status["next_snapshot_start"], Value::Null, "{status:#}");
    assert_eq!(
        sample(
            &agent.get("/metrics").body,
            "vault_raft_snapshot_cycle_running"
        ),
        1.0
    );
    // During the download, every path answers at once.
    let mut unhealthy = None;
    for _ in 0..20 {
        for path in ["/healthz", "/readyz", "/metrics", "/status"] {
            let asked = Instant::now();
            let response = agent.get(path);
            let took = asked.elapsed();
            assert!(took < Duration::from_millis(500), "{path} took {took:?}");
            if path == "/healthz" && response.code == 503 {
                unhealthy.get_or_insert(response.body);
            } else {
                assert_eq!(response.code, 200, "{path}: {response:?}");
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(env.files().is_empty(), "the download is still running");
    // Over 4 s into a cycle allowed 2 s: the loop is stuck, as far as a liveness probe knows.
    let why = unhealthy.expect("healthz failed once the cycle ran past its deadline");
    assert_contains!(why, "past its deadline of 2s");
    assert_eq!(agent.get("/readyz").code, 200);
}

#[test]
fn many_slow_or_huge_requests_hold_no_thread_and_a_probe_is_still_answered() {
    let vault = VaultStandIn::start(valid_archive(5000));
    let env = TestEnv::new();
    config(&env, &vault, json!({"frequency": "1h"}));
    let agent = Agent::start(&env);
    agent.wait_status("a last snapshot", |s| {
        s["last_snapshot_outcome"] == "success"
    });
    let threads = agent.proc_status("Threads");
    let rss = agent.proc_status("VmRSS");

    // 300 connections that send nothing, 50 that send a request a byte at a time.
    let mut silent: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(&agent.addr).unwrap())
        .collect();
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(&agent.addr).unwrap())
        .collect();
    for round in 0..5 {
        for stream in &mut slow {
            let _ = stream.write_all(&b"GET /metrics HTTP/1.1\r\n"[round..=round]);
        }
        let asked = Instant::now();
        let response = agent.get("/healthz");
        assert_eq!(response.code, 200);
        let took = asked.elapsed();
        assert!(took < Duration::from_secs(1), "healthz took {took:?}");
        assert_eq!(agent.proc_status("Threads"), threads, "round {round}");
    }
    // A head beyond 8 KiB is refused, not read on.
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let mut stream = TcpStream::connect(&agent.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(huge.as_bytes());
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:.200}");
    // Many at once, each waiting for its answer: all answered.
    let clients: Vec<_> = (0..100)
        .map(|_| {
            let addr = agent.addr.clone();
            std::thread::spawn(move || request(&addr, "GET /status HTTP/1.1\r\n\r\n").code)
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), 200);
    }
    // The silent ones were dropped after their deadline.
    std::thread::sleep(Duration::from_millis(2500));
    let mut dropped = 0;
    for stream in silent.iter_mut().chain(&mut slow) {
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        match stream.read(&mut [0u8; 64]) {
            Ok(0) => dropped += 1,
            Err(e) if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                dropped += 1;
            }
            _ => {}
        }
    }
    assert_eq!(dropped, 350);
    assert_eq!(agent.proc_status("Threads"), threads);
    let grown = agent.proc_status("VmRSS").saturating_sub(rss);
    assert!(grown < 8 * 1024, "RSS grew by {grown} KiB");
    assert_eq!(agent.get("/readyz").code, 200);
}

#[test]
fn a_port_in_use_is_a_config_error_naming_the_key() {
    let vault = VaultStandIn::start(valid_archive(5000));
    let env = TestEnv::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    env.write_config(&vault, json!({"metrics_listen": addr}));
    let outcome = env.run(&["run"]);
    assert_eq!(outcome.code, 2, "{outcome:?}");
    assert_contains!(
        outcome.stderr,
        &format!("key \"metrics_listen\": cannot listen on {addr}")
    );
    assert!(env.files().is_empty(), "no cycle ran");
}
