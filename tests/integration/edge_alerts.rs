//! The alert rules of `contrib/prometheus/alerts.yaml`: promtool checks them and runs their unit
//! tests (`alerts_test.yaml`), every alert says what to do and links to its README runbook, and
//! once end to end: a real Prometheus scraping a real `run` agent's endpoint (`metrics_listen`)
//! fires nothing while the agent is healthy, `VaultRaftSnapshotFailing` when Vault fails and
//! `VaultRaftSnapshotStorageFailing` when one storage does.
//!
//! promtool and prometheus are Debian packages (of `prometheus`) that
//! `contrib/test-servers.sh` installs. Where they are missing the tests say so loudly and skip,
//! except in CI (`CI` set), where a missing tool fails them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::env::{TestEnv, valid_archive};
use crate::vault_stand_in::{Mode, VaultStandIn};

/// The alerts the issue asks for, each with a README runbook section.
const ALERTS: [&str; 6] = [
    "VaultRaftSnapshotStale",
    "VaultRaftSnapshotFailing",
    "VaultRaftSnapshotStorageFailing",
    "VaultRaftSnapshotNoLeaderAgent",
    "VaultRaftSnapshotShrank",
    "VaultRaftSnapshotDrillFailing",
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Whether every one of `tools` runs; when one does not, fails in CI and skips loudly elsewhere.
fn installed(tools: &[&str]) -> bool {
    for tool in tools {
        if Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "{tool} is missing in CI: contrib/test-servers.sh installs it (Debian's prometheus \
                 package)"
            );
            eprintln!(
                "\n*** SKIPPED: {tool} is not installed; the alert rules are NOT tested. \
                 Run contrib/test-servers.sh start (or apt-get install prometheus). ***\n"
            );
            return false;
        }
    }
    true
}

#[test]
fn promtool_checks_the_alert_rules_and_their_unit_tests_pass() {
    if !installed(&["promtool"]) {
        return;
    }
    for args in [
        ["check", "rules", "contrib/prometheus/alerts.yaml"],
        ["test", "rules", "contrib/prometheus/alerts_test.yaml"],
    ] {
        let output = Command::new("promtool")
            .args(args)
            .current_dir(repo(""))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success() && text.contains("SUCCESS"),
            "promtool {}:\n{text}",
            args.join(" ")
        );
        if args[0] == "check" {
            assert_contains!(text, &format!("SUCCESS: {} rules found", ALERTS.len()));
        }
    }
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The value of `key: value` on a line of the rule file, unquoted.
fn value_of<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.trim_start().strip_prefix(key)?.strip_prefix(':')?;
    Some(rest.trim().trim_matches('\''))
}

#[test]
fn every_alert_says_what_to_do_and_links_to_its_runbook_section_in_the_readme() {
    let rules = fs::read_to_string(repo("contrib/prometheus/alerts.yaml")).unwrap();
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    let anchors: Vec<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect();
    // Each alert's block: from its `- alert:` line to the next.
    let blocks: Vec<&str> = rules.split("- alert:").skip(1).collect();
    let names: Vec<&str> = blocks
        .iter()
        .map(|b| b.lines().next().unwrap().trim())
        .collect();
    assert_eq!(names, ALERTS);
    for (name, block) in names.iter().zip(&blocks) {
        let annotation = |key: &str| {
            block
                .lines()
                .find_map(|l| value_of(l, key))
                .unwrap_or_else(|| panic!("{name} has no {key}"))
        };
        assert!(annotation("summary").len() > 20, "{name}");
        // The description says what to do: it names a command of the agent to run.
        assert_contains!(annotation("description"), "`vault-raft-snapshot ");
        let url = annotation("runbook_url");
        let expected = format!("runbook-{}", name.to_lowercase());
        assert_eq!(url, format!("README.md#{expected}"), "{name}");
        assert!(
            anchors.contains(&expected),
            "README.md has no section \"Runbook: {name}\" for {name}'s runbook_url"
        );
    }
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server this test started; stopped by its own PID (SIGTERM, then SIGKILL) on drop.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(program: &str, args: &[String], log: PathBuf) -> Self {
        let out = fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Self { child, log }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let started = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() {
            if started.elapsed() > Duration::from_secs(5) {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> Option<String> {
    ureq::get(url).call().ok()?.body_mut().read_to_string().ok()
}

/// `data` of a Prometheus API answer.
fn api(base: &str, path: &str) -> Value {
    let text = get(&format!("{base}{path}")).unwrap_or_else(|| panic!("GET {path} failed"));
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["status"], "success", "{text}");
    value["data"].clone()
}

/// The alerts Prometheus holds (pending or firing), as (name, state).
fn active_alerts(base: &str) -> Vec<(String, String)> {
    api(base, "/api/v1/alerts")["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["labels"]["alertname"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[track_caller]
fn wait_until(
    what: &str,
    limit: Duration,
    logs: &dyn Fn() -> String,
    mut ok: impl FnMut() -> bool,
) {
    let started = Instant::now();
    while !ok() {
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The real rules with every `for:` set to 0s, so a test need not wait minutes: the
/// expressions and thresholds are the file's own.
fn rules_without_waiting() -> String {
    let rules = fs::read_to_string(repo("contrib/prometheus/alerts.yaml")).unwrap();
    let mut rewritten = 0;
    let text: Vec<String> = rules
        .lines()
        .map(|line| match value_of(line, "for") {
            Some(_) => {
                rewritten += 1;
                let indent = &line[..line.len() - line.trim_start().len()];
                format!("{indent}for: 0s")
            }
            None => line.to_string(),
        })
        .collect();
    assert_eq!(rewritten, ALERTS.len(), "a `for:` per alert");
    text.join("\n") + "\n"
}

#[test]
fn a_real_prometheus_fires_failing_when_vault_fails_and_nothing_while_healthy() {
    if !installed(&["prometheus"]) {
        return;
    }
    let vault = VaultStandIn::start(valid_archive(2000));
    let env = TestEnv::new();
    let second = env.root.path().join("second");
    fs::create_dir(&second).unwrap();
    // No metrics file: Prometheus scrapes the agent itself.
    let agent_port = free_port();
    env.write_config(
        &vault,
        json!({
            "frequency": "1s",
            "metrics_listen": format!("127.0.0.1:{agent_port}"),
            "local_storage": [{"path": env.snaps}, {"path": second}],
        }),
    );

    let rules = env.root.path().join("alerts.yaml");
    fs::write(&rules, rules_without_waiting()).unwrap();
    let config = env.root.path().join("prometheus.yml");
    fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: vault\n    static_configs:\n      - targets: ['127.0.0.1:{agent_port}']\n",
            rules.display()
        ),
    )
    .unwrap();
    let prometheus_port = free_port();
    let prometheus = Server::start(
        "prometheus",
        &[
            format!("--config.file={}", config.display()),
            format!(
                "--storage.tsdb.path={}",
                env.root.path().join("tsdb").display()
            ),
            format!("--web.listen-address=127.0.0.1:{prometheus_port}"),
        ],
        env.root.path().join("prometheus.log"),
    );
    let base = format!("http://127.0.0.1:{prometheus_port}");
    let logs = || format!("--- prometheus\n{}", prometheus.log());

    let run = crate::env::LiveRun::start(env.command(&["run"]));
    let limit = Duration::from_secs(15);
    run.wait_for(0, &["Successfully created local snapshot"], limit);

    // Healthy: the agent's series reach Prometheus from its endpoint, every rule is
    // evaluated without error after they did, and no alert is even pending.
    let query = format!(
        "{base}/api/v1/query?query=vault_raft_snapshot_storage_last_success_timestamp_seconds%3E0"
    );
    wait_until("the agent's series in Prometheus", limit, &logs, || {
        get(&query).is_some_and(|t| t.contains("\"storage\":\"local-0\""))
    });
    // The endpoint's own series and each storage's time are there too.
    let query = format!(
        "{base}/api/v1/query?query=vault_raft_snapshot_storage_last_duration_seconds%3E0\
         %20and%20on()%20vault_raft_snapshot_cycles_total%7Boutcome%3D%22success%22%7D%3E0"
    );
    wait_until(
        "the storages' durations in Prometheus",
        limit,
        &logs,
        || {
            get(&query).is_some_and(|t| {
                t.contains("\"storage\":\"local-0\"") && t.contains("\"storage\":\"local-1\"")
            })
        },
    );
    let seen = Instant::now();
    // Every rule evaluated without error ("unknown" before its first evaluation), and three
    // evaluations (1s apart) after the data was there.
    wait_until("three evaluations of the rules", limit, &logs, || {
        let group = api(&base, "/api/v1/rules")["groups"][0].clone();
        let rules = group["rules"].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = rules.iter().filter_map(|r| r["name"].as_str()).collect();
        names == ALERTS
            && rules.iter().all(|r| r["health"] == "ok")
            && seen.elapsed() > Duration::from_millis(3500)
    });
    let groups = api(&base, "/api/v1/rules");
    assert_eq!(active_alerts(&base), [], "healthy, yet:\n{groups:#}");

    // Vault sealed: each cycle fails; the third in a row fires the real rule.
    vault.state().mode = Mode::Sealed;
    wait_until(
        "VaultRaftSnapshotFailing to fire",
        Duration::from_secs(20),
        &|| format!("{}\n--- agent\n{}", logs(), run.log()),
        || {
            active_alerts(&base)
                .iter()
                .any(|(name, state)| name == "VaultRaftSnapshotFailing" && state == "firing")
        },
    );
    let alerts = api(&base, "/api/v1/alerts")["alerts"].clone();
    let failing = &alerts[0];
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts:#}");
    assert_eq!(failing["labels"]["job"], "vault", "{failing:#}");
    assert_eq!(failing["labels"]["severity"], "critical", "{failing:#}");
    assert_eq!(
        failing["annotations"]["runbook_url"],
        "README.md#runbook-vaultraftsnapshotfailing"
    );
    assert_contains!(
        failing["annotations"]["summary"].as_str().unwrap(),
        &format!("vault-raft-snapshot on 127.0.0.1:{agent_port} failed")
    );

    // Vault back, the second storage broken (its directory replaced by a file): snapshots are
    // stored in local-0 only, and after two failures in a row local-1 fires on its own.
    vault.state().mode = Mode::Leader;
    fs::rename(&second, env.root.path().join("second-gone")).unwrap();
    fs::write(&second, "not a directory").unwrap();
    let storage_failing = || {
        api(&base, "/api/v1/alerts")["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| {
                a["labels"]["alertname"] == "VaultRaftSnapshotStorageFailing"
                    && a["state"] == "firing"
            })
            .cloned()
    };
    wait_until(
        "VaultRaftSnapshotStorageFailing to fire",
        Duration::from_secs(20),
        &|| format!("{}\n--- agent\n{}", logs(), run.log()),
        || storage_failing().is_some(),
    );
    let alert = storage_failing().unwrap();
    assert_eq!(alert["labels"]["storage"], "local-1", "{alert:#}");
    assert_eq!(
        alert["labels"]["location"],
        second.display().to_string(),
        "{alert:#}"
    );
    let outcome = run.stop();
    assert_contains!(outcome.stderr, "Vault is sealed");
    assert_contains!(
        outcome.stderr,
        format!("storing the snapshot in local {} failed", second.display())
    );
}
