//! Trust at the edges (issue 18): credentials in URLs, tokens the agent obtained and must
//! revoke, cleartext addresses, secret references that are mistyped, and the messages an
//! operator reads when something failed or was stopped.

use std::time::Duration;

use serde_json::{Value, json};

use crate::env::{LiveRun, Outcome, TestEnv, assert_code, finish, list, valid_archive, wait_for};
use crate::http_stub::{HttpStub, Response};
use crate::openbao::Cluster;
use crate::vault_stand_in::{SnapshotFault, VaultStandIn};

/// An agent of the OpenBao node `addr` with `auth` keys, storing into its own directory.
fn openbao_agent(addr: &str, auth: &Value) -> TestEnv {
    let env = TestEnv::new();
    let mut config = json!({
        "addr": addr,
        "local_storage": {"path": env.snaps},
        "temp_dir": env.tmp,
        "frequency": "1h",
        "retain": 1000,
    });
    for (k, v) in auth.as_object().unwrap() {
        config[k] = v.clone();
    }
    env.write_config_json(&config);
    env
}

/// How many tokens the cluster holds (their accessors, listed with the root token).
fn live_tokens(cluster: &Cluster) -> usize {
    let listed = cluster.root("GET", "auth/token/accessors?list=true", None);
    listed["data"]["keys"].as_array().map_or(0, Vec::len)
}

#[test]
fn credentials_in_the_vault_address_are_refused_and_never_printed() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let with_password = vault.url().replace("http://", "http://admin:hunter2@");
    env.write_config(&vault, json!({"addr": with_password}));
    for args in [&["check"][..], &["check", "--connect"], &["once"]] {
        let outcome = env.run(args);
        assert_code(&outcome, 2);
        assert_contains!(
            outcome.stderr,
            "key \"addr\": credentials in the URL are not supported"
        );
        assert_not_contains!(outcome.stderr, "hunter2");
        assert_not_contains!(outcome.stdout, "hunter2");
    }

    // The same from VAULT_ADDR, named as the variable.
    env.write_config(&vault, json!({"addr": null}));
    let mut command = env.command(&["check"]);
    command.env("VAULT_ADDR", &with_password);
    let outcome = crate::env::finish(command.spawn().unwrap(), std::time::Duration::from_secs(60));
    assert_code(&outcome, 2);
    assert_contains!(
        outcome.stderr,
        "environment variable VAULT_ADDR: credentials in the URL"
    );
    assert_not_contains!(outcome.stderr, "hunter2");
    assert!(
        vault.requests_to("/v1/").is_empty(),
        "a refused run reached Vault"
    );
}

#[test]
fn a_push_url_with_a_query_keeps_it_after_the_path_and_out_of_the_logs() {
    let gateway = HttpStub::start(|_| Response::new(500).body("gateway down"));
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let url = format!("{}/gw?token=s3cr3t", gateway.url());
    env.write_config(&vault, json!({"metrics_push_url": url}));

    let checked = env.run(&["check"]);
    assert_code(&checked, 0);
    assert_contains!(checked.stdout, "?token=<redacted>");
    assert_not_contains!(checked.stdout, "s3cr3t");

    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    let pushed = gateway.requests();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let group = vault_raft_snapshot::metrics::push_url("", &host);
    assert_eq!(pushed[0].path, format!("/gw{group}?token=s3cr3t"));
    // The failed push is a warning naming the URL, without the query's value.
    assert_contains!(outcome.stderr, "pushing the metrics to");
    assert_contains!(outcome.stderr, "token=<redacted>");
    assert_not_contains!(outcome.stderr, "s3cr3t");
}

#[test]
fn plain_http_to_another_host_is_warned_about_naming_the_address() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    env.write_config(&vault, json!({"addr": "http://vault.invalid:8200"}));
    let outcome = env.run(&["check"]);
    assert_contains!(
        outcome.stderr,
        "addr http://vault.invalid:8200 is plain http:// to a host that is not this one"
    );
    // Loopback (the stand-in) and https:// are not warned about.
    for addr in [vault.url(), "https://vault.invalid:8200".to_string()] {
        env.write_config(&vault, json!({ "addr": addr }));
        let outcome = env.run(&["check"]);
        assert_not_contains!(outcome.stderr, "plain http://");
    }
}

#[test]
fn a_relative_file_reference_or_an_unknown_scheme_is_a_config_error() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    for (secret_id, expected) in [
        (
            "file://run/secrets/secret-id",
            "key \"secret_id\": \"file://run/secrets/secret-id\" is not an absolute path",
        ),
        (
            "FILE:///run/secrets/hunter2",
            "write the scheme in lowercase",
        ),
        ("File://hunter2", "write the scheme in lowercase"),
        ("vault://secret/hunter2", "unknown scheme"),
    ] {
        env.write_config(&vault, json!({ "secret_id": secret_id }));
        let outcome = env.run(&["once"]);
        assert_code(&outcome, 2);
        assert_contains!(outcome.stderr, expected);
        assert_contains!(outcome.stderr, "key \"secret_id\"");
        assert_not_contains!(outcome.stderr, "hunter2");
    }
    assert!(
        vault.requests_to("/v1/").is_empty(),
        "a refused run reached Vault"
    );
}

#[test]
fn tokens_the_agent_logged_in_for_are_revoked_and_given_ones_are_not() {
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    let addr = cluster.nodes[0].addr();
    let (role_id, secret_id) = cluster.approle("agent", &["snapshot"], "1h", "32d");
    let agent = openbao_agent(&addr, &json!({"role_id": role_id, "secret_id": secret_id}));
    let before = live_tokens(&cluster);
    for _ in 0..3 {
        let outcome = agent.run(&["once"]);
        assert_code(&outcome, 0);
    }
    for _ in 0..2 {
        let checked = agent.run(&["check", "--connect"]);
        assert_code(&checked, 0);
    }
    assert_eq!(agent.files().len(), 3);
    assert_eq!(live_tokens(&cluster), before, "once and check left tokens");

    // A failed cycle: the role may not read snapshots; the 403 makes the agent log in again
    // (the first token is revoked then) and the second is revoked at the end.
    let (role_id, secret_id) = cluster.approle("weak", &["default"], "1h", "32d");
    let weak = openbao_agent(&addr, &json!({"role_id": role_id, "secret_id": secret_id}));
    let failed = weak.run(&["once"]);
    assert_code(&failed, 1);
    assert_contains!(failed.stderr, "403");
    assert_not_contains!(failed.stderr, "could not revoke");
    assert_eq!(live_tokens(&cluster), before, "a failed cycle left tokens");

    // `run`, ended by a signal after its first cycle, revokes at exit.
    let live = LiveRun::start(agent.command(&["run"]));
    live.wait_for(0, &["Verified snapshot"], Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(live_tokens(&cluster), before + 1, "run holds one token");
    let stopped = live.stop();
    assert_code(&stopped, 0);
    assert_not_contains!(stopped.stderr, "could not revoke");
    assert_eq!(live_tokens(&cluster), before, "run left its token at exit");

    // A token the agent was given (token_path, VAULT_TOKEN) belongs to someone else: it is
    // used and stays valid.
    let given = cluster.token(&["snapshot"], Some("1h"));
    let token_file = agent.root.path().join("token");
    std::fs::write(&token_file, format!("{given}\n")).unwrap();
    let with_file = openbao_agent(&addr, &json!({"token_path": token_file}));
    assert_code(&with_file.run(&["once"]), 0);
    assert_code(&with_file.run(&["check", "--connect"]), 0);
    let from_env = openbao_agent(&addr, &json!({}));
    let mut command = from_env.command(&["once"]);
    command.env("VAULT_TOKEN", &given);
    assert_code(
        &finish(command.spawn().unwrap(), Duration::from_secs(60)),
        0,
    );
    let (status, _) = cluster.call_with(
        cluster.leader(),
        Some(&given),
        "GET",
        "auth/token/lookup-self",
        None,
    );
    assert_eq!(status, 200, "a given token was revoked");
}

/// Starts `args` against a Vault that streams 400 KB slowly, sends SIGTERM once the download
/// is under way, and returns how the command ended.
fn stopped_during_a_download(args: &[&str]) -> (TestEnv, Outcome) {
    let vault = VaultStandIn::start(valid_archive(400_000));
    {
        let mut state = vault.state();
        state.chunk_size = 4096;
        state.chunk_delay = Duration::from_millis(50);
    }
    let env = TestEnv::new();
    env.write_config(&vault, json!({"frequency": "1h"}));
    let child = env.command(args).spawn().unwrap();
    wait_for("the download to start", Duration::from_secs(20), || {
        !list(&env.tmp).is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let outcome = finish(child, Duration::from_secs(10));
    (env, outcome)
}

#[test]
fn a_stop_during_a_download_is_logged_as_a_stop_not_an_error() {
    let (env, once) = stopped_during_a_download(&["once"]);
    // `once` still says it did not take the snapshot (1), as documented for a signal.
    assert_code(&once, 1);
    assert_contains!(once.stderr, "WARN");
    assert_contains!(once.stderr, "Stopped by a shutdown signal");
    assert_not_contains!(once.stderr, "ERROR");
    assert!(env.staging_is_empty() && env.files().is_empty());

    let (_env, run) = stopped_during_a_download(&["run"]);
    assert_code(&run, 0);
    assert_contains!(run.stderr, "Snapshot cycle stopped by a shutdown signal");
    assert_not_contains!(run.stderr, "ERROR");
}

/// The line of `stderr` that holds `part`.
fn line_with<'a>(stderr: &'a str, part: &str) -> &'a str {
    stderr
        .lines()
        .find(|l| l.contains(part))
        .unwrap_or_else(|| panic!("no line with {part:?} in:\n{stderr}"))
}

#[test]
fn a_failed_cycle_says_what_failed_first_not_where_it_was_staging() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let tmp = env.tmp.display().to_string();

    env.write_config(&vault, json!({"secret_id": "wrong"}));
    let refused = env.run(&["once"]);
    assert_code(&refused, 1);
    let line = line_with(&refused.stderr, "invalid role or secret ID");
    assert_contains!(line, "ERROR] AppRole login at");
    assert_not_contains!(line, &tmp);
    assert_not_contains!(line, "staging");

    env.write_config(&vault, json!({}));
    vault.state().fault = SnapshotFault::ServerError;
    let failed = env.run(&["once"]);
    assert_code(&failed, 1);
    let line = line_with(&failed.stderr, "500");
    assert_contains!(line, "ERROR] Vault answered 500 to GET");
    assert_not_contains!(line, &tmp);

    // A secret file that is gone by the second cycle of `run`.
    vault.state().fault = SnapshotFault::None;
    let secret_file = env.root.path().join("secret-id");
    std::fs::write(&secret_file, "test-secret-id\n").unwrap();
    env.write_config(
        &vault,
        json!({"frequency": "1s", "secret_id": format!("file://{}", secret_file.display())}),
    );
    // Each cycle logs in anew once the token is gone.
    vault.state().token_ttl = 1;
    vault.state().renewable = false;
    let live = LiveRun::start(env.command(&["run"]));
    live.wait_for(0, &["Verified snapshot"], Duration::from_secs(30));
    std::fs::remove_file(&secret_file).unwrap();
    live.wait_for(0, &["cannot read"], Duration::from_secs(30));
    let log = live.stop().stderr;
    let line = line_with(&log, "cannot read");
    assert_contains!(line, "Snapshot cycle failed: key \"secret_id\": file://");
    assert_not_contains!(line, &tmp);
}

/// A tmpfs of `size` mounted at `dir` (we are root in the test container), unmounted on drop;
/// `None` where mounting is not allowed.
struct SmallFilesystem(std::path::PathBuf);

impl SmallFilesystem {
    fn mount(dir: &std::path::Path, size: &str) -> Option<Self> {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .ok()?;
        if !status.success() {
            eprintln!("cannot mount a tmpfs here; skipping");
            return None;
        }
        Some(Self(dir.to_path_buf()))
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_staging_directory_is_named_after_the_cause() {
    let vault = VaultStandIn::start(valid_archive(3 << 20));
    let env = TestEnv::new();
    let Some(_full) = SmallFilesystem::mount(&env.tmp, "1m") else {
        return;
    };
    env.write_config(&vault, json!({}));
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 1);
    let line = line_with(&outcome.stderr, "No space left on device");
    assert_contains!(line, "ERROR] downloading the snapshot from");
    assert_contains!(line, format!("(the temporary file {}/", env.tmp.display()));
    assert!(env.staging_is_empty() && env.files().is_empty());
}

#[test]
fn restore_with_an_invalid_token_says_the_token_is_invalid_not_that_a_policy_is_missing() {
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    let addr = cluster.nodes[0].addr();
    let (role_id, secret_id) = cluster.approle("agent", &["snapshot"], "1h", "1h");
    let agent = openbao_agent(&addr, &json!({"role_id": role_id, "secret_id": secret_id}));
    assert_code(&agent.run(&["once"]), 0);
    let revoked = cluster.token(&["default"], None);
    cluster.root(
        "PUT",
        "auth/token/revoke",
        Some(json!({ "token": revoked })),
    );
    for token in ["s.not-a-token-at-all", revoked.as_str()] {
        let mut command = agent.command(&["restore", "latest", "--yes"]);
        command.env("VAULT_TOKEN", token);
        let outcome = finish(command.spawn().unwrap(), Duration::from_secs(120));
        assert_code(&outcome, 1);
        assert_contains!(outcome.stderr, "403");
        assert_contains!(outcome.stderr, "does not accept the token at all");
        assert_not_contains!(outcome.stderr, "may not restore");
        assert_not_contains!(outcome.stderr, token);
    }
    // A valid token without the policy still hears about the policy.
    let weak = cluster.token(&["default"], None);
    let mut command = agent.command(&["restore", "latest", "--yes"]);
    command.env("VAULT_TOKEN", &weak);
    let outcome = finish(command.spawn().unwrap(), Duration::from_secs(120));
    assert_code(&outcome, 1);
    assert_contains!(outcome.stderr, "may not restore");
    assert_not_contains!(outcome.stderr, "does not accept the token");
}

#[test]
fn fetch_onto_a_full_filesystem_says_so_and_tries_no_other_copy() {
    let vault = VaultStandIn::start(valid_archive(3 << 20));
    let env = TestEnv::new();
    let second = env.root.path().join("second");
    std::fs::create_dir(&second).unwrap();
    env.write_config(
        &vault,
        json!({"local_storage": [{"path": env.snaps}, {"path": second}]}),
    );
    assert_code(&env.run(&["once"]), 0);
    let out = env.root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let Some(_full) = SmallFilesystem::mount(&out, "2m") else {
        return;
    };
    let target = out.join("fetched.snap");
    let outcome = env.run(&["fetch", "latest", "--output", target.to_str().unwrap()]);
    assert_code(&outcome, 1);
    assert_contains!(
        outcome.stderr,
        format!("no space left on the filesystem of {}", out.display())
    );
    assert_contains!(outcome.stderr, "other copies were not tried");
    assert_not_contains!(outcome.stderr, "no good copy");
    assert_eq!(
        outcome.stderr.matches("Fetching ").count(),
        1,
        "{}",
        outcome.stderr
    );
    assert!(list(&out).is_empty(), "{:?}", list(&out));
}

#[test]
fn status_fails_when_the_last_success_is_older_than_the_bound() {
    let vault = VaultStandIn::start(valid_archive(1000));
    let env = TestEnv::new();
    let metrics = env.root.path().join("metrics.prom");
    env.write_config(&vault, json!({"metrics_file": metrics, "frequency": "1h"}));
    assert_code(&env.run(&["once"]), 0);
    let fresh = env.run(&["status"]);
    assert_code(&fresh, 0);
    assert_not_contains!(fresh.stdout, "STALE");

    // The same success, 30 days ago: a timer that stopped running.
    let month_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 30 * 86_400;
    let text = std::fs::read_to_string(&metrics).unwrap();
    let aged: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("vault_raft_snapshot_last_success_timestamp_seconds ") {
                format!("vault_raft_snapshot_last_success_timestamp_seconds {month_ago}")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&metrics, aged.join("\n") + "\n").unwrap();
    let stale = env.run(&["status"]);
    assert_code(&stale, 1);
    assert_contains!(stale.stdout, "STALE: no success within 2h");
    // A wider bound given on the command line accepts it.
    assert_code(&env.run(&["status", "--max-age", "744h"]), 0);
    assert_code(&env.run(&["status", "--max-age", "696h"]), 1);
}
