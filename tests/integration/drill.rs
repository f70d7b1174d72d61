//! `drill` against the real OpenBao (`tests/support/openbao.rs`): a snapshot of a 3-node
//! cluster restored into a scratch `bao` server, unsealed with the cluster's key, read back;
//! failures name their step; the scratch server and its directory never outlive the drill.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::env::{Outcome, TestEnv, assert_code, finish, wait_for};
use crate::openbao::{Cluster, bao_binary};

const KEY_VAR: &str = "DRILL_TEST_UNSEAL_KEY";

/// An agent of the cluster's leader (AppRole), storing into its own directory, with a drill
/// of `expect` unsealed by the key in [`KEY_VAR`].
fn agent(cluster: &Cluster, expect: &[&str]) -> TestEnv {
    let env = TestEnv::new();
    // The agent's own role may read the canaries: the drill logs in as the agent.
    cluster.root(
        "PUT",
        "sys/policies/acl/canary",
        Some(json!({"policy": "path \"secret/app/*\" { capabilities = [\"read\"] }"})),
    );
    let (role_id, secret_id) = cluster.approle("drill-agent", &["snapshot", "canary"], "1h", "1h");
    write(&env, cluster, &role_id, &secret_id, expect);
    env
}

fn write(env: &TestEnv, cluster: &Cluster, role_id: &str, secret_id: &str, expect: &[&str]) {
    env.write_config_json(&json!({
        "addr": cluster.nodes[cluster.leader()].addr(),
        "role_id": role_id,
        "secret_id": secret_id,
        "local_storage": {"path": env.snaps},
        "temp_dir": env.tmp,
        "drill": {
            "server": bao_binary().unwrap(),
            "unseal_keys": [format!("env://{KEY_VAR}")],
            "expect": expect,
            "timeout": "3m",
        },
    }));
}

fn set_expect(env: &TestEnv, expect: &[&str]) {
    let mut config: Value =
        serde_json::from_str(&fs::read_to_string(env.config_path()).unwrap()).unwrap();
    config["drill"]["expect"] = json!(expect);
    env.write_config_json(&config);
}

fn drill_command(env: &TestEnv, key: &str, args: &[&str]) -> std::process::Command {
    let mut command = env.command(&["drill"]);
    command.args(args).env(KEY_VAR, key);
    command
}

fn drill(env: &TestEnv, key: &str, args: &[&str]) -> Outcome {
    finish(
        drill_command(env, key, args).spawn().unwrap(),
        Duration::from_secs(240),
    )
}

fn scratch_dirs(tmp: &Path) -> Vec<PathBuf> {
    fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| vault_raft_snapshot::commands::drill::is_scratch_dir(p))
        .collect()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn assert_no_secret(outcome: &Outcome, secrets: &[&str]) {
    for secret in secrets {
        assert_not_contains!(outcome.stdout, *secret);
        assert_not_contains!(outcome.stderr, *secret);
    }
}

#[test]
fn a_drill_restores_the_snapshot_unseals_reads_and_fails_naming_the_step() {
    let Some(cluster) = Cluster::start(3) else {
        return;
    };
    cluster.put_secret("app/before", "v1");
    cluster.put_secret("app/canary", "v1");
    let env = agent(&cluster, &["secret/app/before", "secret/app/canary"]);
    assert_code(&env.run(&["once"]), 0);
    cluster.put_secret("app/after", "v2");
    let key = cluster.unseal_key.clone();

    let passed = drill(&env, &key, &[]);
    assert_code(&passed, 0);
    for step in [
        "fetch", "start", "init", "restore", "unseal", "active", "login", "expect", "index",
    ] {
        assert!(
            passed
                .stdout
                .lines()
                .any(|l| l.starts_with(step) && l.contains(" ok ")),
            "no passed step {step}:\n{}",
            passed.stdout
        );
    }
    assert_contains!(passed.stdout, "total");
    assert_contains!(passed.stdout, "passed");
    assert_contains!(passed.stdout, "2 paths answered 200");
    assert_contains!(passed.stdout, "AppRole at auth/approle");
    assert_no_secret(&passed, &[&key, &cluster.root_token]);
    assert!(
        scratch_dirs(&env.tmp).is_empty(),
        "{:?}",
        scratch_dirs(&env.tmp)
    );
    assert!(env.staging_is_empty(), "{:?}", crate::env::list(&env.tmp));

    // --json: the same report, one object.
    let json_run = drill(&env, &key, &["--json"]);
    assert_code(&json_run, 0);
    let report: Value = serde_json::from_str(&json_run.stdout).expect(&json_run.stdout);
    assert_eq!(report["result"], "passed", "{report}");
    assert_eq!(report["failed_step"], Value::Null);
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "fetch", "start", "init", "restore", "unseal", "active", "login", "expect", "index"
        ]
    );
    for step in report["steps"].as_array().unwrap() {
        assert_eq!(step["ok"], true, "{step}");
        assert!(step["seconds"].as_f64().unwrap() >= 0.0, "{step}");
    }
    let snapshot_index = report["snapshot_index"].as_u64().unwrap();
    assert!(snapshot_index > 0, "{report}");
    assert!(
        report["restored_index"].as_u64().unwrap() >= snapshot_index,
        "{report}"
    );
    assert!(report["total_seconds"].as_f64().unwrap() > 0.0, "{report}");
    assert!(
        report["snapshot"]
            .as_str()
            .unwrap()
            .starts_with("raft_snapshot-")
    );

    // The secret written after the snapshot is absent: the drill naming it fails at expect.
    set_expect(&env, &["secret/app/before", "secret/app/after"]);
    let absent = drill(&env, &key, &[]);
    assert_code(&absent, 1);
    assert_contains!(absent.stderr, "failed at step expect");
    assert_contains!(absent.stderr, "secret/app/after");
    assert_contains!(absent.stderr, "404");
    assert_contains!(absent.stdout, "FAILED");
    assert!(scratch_dirs(&env.tmp).is_empty());

    // A wrong unseal key: exit 1 naming the unseal step, the key nowhere.
    set_expect(&env, &["secret/app/before"]);
    let wrong = "c2VjcmV0LWJ1dC13cm9uZy11bnNlYWwta2V5LTEyMzQ=";
    let refused = drill(&env, wrong, &[]);
    assert_code(&refused, 1);
    assert_contains!(refused.stderr, "failed at step unseal");
    assert_no_secret(&refused, &[wrong, &key, &cluster.root_token]);
    assert!(scratch_dirs(&env.tmp).is_empty());

    // An unreadable key is a config error.
    let mut command = env.command(&["drill"]);
    command.env_remove(KEY_VAR);
    let missing = finish(command.spawn().unwrap(), Duration::from_secs(60));
    assert_code(&missing, 2);
    assert_contains!(missing.stderr, KEY_VAR);

    // SIGTERM in the middle: the scratch server and its directory are gone.
    let child = drill_command(&env, &key, &[]).spawn().unwrap();
    let pid_file = wait_scratch_server(&env.tmp);
    let server: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(server));
    // The scratch directory is private, and the server's command line names no secret.
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(pid_file.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let argv = fs::read(format!("/proc/{server}/cmdline")).unwrap();
    let argv = String::from_utf8_lossy(&argv).replace('\0', " ");
    assert_not_contains!(argv, &key);
    assert_not_contains!(argv, &cluster.root_token);
    let config = fs::read_to_string(pid_file.with_file_name("server.hcl")).unwrap();
    assert_not_contains!(config, &key);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let stopped = finish(child, Duration::from_secs(30));
    assert_code(&stopped, 1);
    assert_contains!(stopped.stderr, "Stopped by a shutdown signal");
    assert!(!alive(server), "the scratch server {server} still runs");
    assert!(
        scratch_dirs(&env.tmp).is_empty(),
        "{:?}",
        scratch_dirs(&env.tmp)
    );

    // SIGKILL: the server dies with the drill; the next drill removes the directory.
    let mut child = drill_command(&env, &key, &[]).spawn().unwrap();
    let pid_file = wait_scratch_server(&env.tmp);
    let server: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for(
        "the killed drill's server to die",
        Duration::from_secs(10),
        || !alive(server),
    );
    let left = scratch_dirs(&env.tmp);
    assert_eq!(left.len(), 1, "{left:?}");
    let next = drill(&env, &key, &[]);
    assert_code(&next, 0);
    assert_contains!(next.stderr, "that was killed");
    assert!(!left[0].exists());
    assert!(scratch_dirs(&env.tmp).is_empty());
}

/// Waits until a drill's scratch server runs; returns its PID file.
fn wait_scratch_server(tmp: &Path) -> PathBuf {
    let mut found = None;
    wait_for("a scratch server", Duration::from_secs(60), || {
        found = scratch_dirs(tmp)
            .into_iter()
            .map(|d| d.join("server.pid"))
            .find(|p| fs::read_to_string(p).is_ok_and(|t| t.ends_with('\n')));
        found.is_some()
    });
    // Let the drill get into its steps.
    std::thread::sleep(Duration::from_millis(1500));
    found.unwrap()
}

#[test]
fn run_drills_after_a_stored_cycle_and_reports_it_in_the_metrics() {
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    cluster.put_secret("app/canary", "v1");
    let env = agent(&cluster, &["secret/app/canary"]);
    let listen = format!(
        "127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let metrics_file = env.root.path().join("vault.prom");
    let mut config: Value =
        serde_json::from_str(&fs::read_to_string(env.config_path()).unwrap()).unwrap();
    config["drill"]["frequency"] = json!("1h");
    config["frequency"] = json!("1h");
    config["metrics_file"] = json!(metrics_file);
    config["metrics_listen"] = json!(listen);
    env.write_config_json(&config);
    let mut command = env.command(&["run"]);
    command.env(KEY_VAR, &cluster.unseal_key);
    let run = crate::env::LiveRun::start(command);
    let from = run.wait_for(0, &["Restore drill every 1h"], Duration::from_secs(60));
    let from = run.wait_for(
        from,
        &["Restore drill of raft_snapshot-"],
        Duration::from_secs(60),
    );
    run.wait_for(from, &["passed in"], Duration::from_secs(180));
    let text = fs::read_to_string(&metrics_file).unwrap();
    assert!(
        text.lines()
            .any(|l| l == "vault_raft_snapshot_drill_success 1"),
        "{text}"
    );
    let index = text
        .lines()
        .find_map(|l| l.strip_prefix("vault_raft_snapshot_drill_restored_raft_index "))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    assert!(index > 0, "{text}");
    assert!(
        text.contains("vault_raft_snapshot_drill_duration_seconds "),
        "{text}"
    );
    let served = ureq::get(&format!("http://{listen}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        served
            .lines()
            .any(|l| l == "vault_raft_snapshot_drill_success 1"),
        "{served}"
    );
    assert!(scratch_dirs(&env.tmp).is_empty());
    // `run` goes on, and the scratch server is gone already (not only when `run` exits).
    let tmp = env.tmp.to_string_lossy().into_owned();
    let servers: Vec<String> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| fs::read(p.path().join("cmdline")).ok().map(|c| (p, c)))
        .filter(|(_, c)| String::from_utf8_lossy(c).contains(&tmp))
        .map(|(p, _)| p.file_name().to_string_lossy().into_owned())
        .filter(|pid| alive(pid.parse().unwrap_or(0)))
        .collect();
    assert!(
        servers.is_empty(),
        "scratch servers still running: {servers:?}"
    );
    let stopped = run.stop();
    assert_code(&stopped, 0);
    // Drilled once, after the cycle's snapshot was stored, not again within drill.frequency.
    let log = &stopped.stderr;
    let starts: Vec<usize> = log
        .match_indices("Restore drill of raft_snapshot-")
        .map(|(i, _)| i)
        .filter(|&i| log[i..].lines().next().unwrap().ends_with(".snap"))
        .collect();
    assert_eq!(starts.len(), 1, "{log}");
    let stored = log.find("Successfully created").expect(log);
    assert!(starts[0] > stored, "{log}");
}

/// The drill CronJobs of the chart and of contrib/kubernetes/drill: `drill` in the agent's
/// image, the server binary copied from the official image by an init container into the
/// directory config's drill.server names.
#[test]
fn the_chart_and_kustomize_show_a_drill_cronjob_with_the_official_server_binary() {
    use crate::kubernetes::{run, yaml_documents};
    use std::process::Command;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (helm, python) = (
        root.join(".test-servers/helm/helm"),
        root.join(".test-servers/venv/bin/python"),
    );
    if !helm.exists() || !python.exists() {
        assert!(
            std::env::var("VRS_TEST_SKIP_CLOUD").is_ok_and(|v| v == "1"),
            "helm or the venv is missing: run contrib/test-servers.sh start"
        );
        return;
    }
    let check = |objects: &[Value], config_of: &dyn Fn(&str) -> Value| {
        let cronjob = objects
            .iter()
            .find(|o| {
                o["kind"] == "CronJob"
                    && o["metadata"]["name"].as_str().unwrap().ends_with("-drill")
            })
            .expect("a drill CronJob");
        let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        let init = &pod["initContainers"][0];
        assert!(
            init["image"]
                .as_str()
                .unwrap()
                .starts_with("quay.io/openbao/openbao:"),
            "{init}"
        );
        assert_eq!(init["command"], json!(["cp", "/bin/bao", "/drill-bin/"]));
        let agent = &pod["containers"][0];
        assert_eq!(agent["args"][0], "drill");
        let mounts = agent["volumeMounts"].as_array().unwrap();
        assert!(
            mounts
                .iter()
                .any(|m| m["mountPath"] == "/drill-bin" && m["name"] == "drill-bin")
        );
        assert!(
            pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["name"] == "drill-bin" && v["emptyDir"].is_object())
        );
        let config_map = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "config")
            .unwrap()["configMap"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        let config = config_of(&config_map);
        assert_eq!(config["drill"]["server"], "/drill-bin/bao");
        // The config the pod reads is one the agent takes.
        let env = TestEnv::new();
        // As in the pod: the credentials Secret's keys as files, temp_dir writable.
        let secrets = env.root.path().join("secrets");
        fs::create_dir(&secrets).unwrap();
        for key in ["aws_access_key_id", "aws_secret_access_key", "unseal_key_0"] {
            fs::write(secrets.join(key), "x").unwrap();
        }
        let text = config.to_string().replace(
            "file:///var/run/secrets/vault-raft-snapshot/",
            &format!("file://{}/", secrets.display()),
        );
        let mut config: Value = serde_json::from_str(&text).unwrap();
        config["temp_dir"] = json!(env.tmp);
        config["k8s_token_path"] = json!(secrets.join("unseal_key_0"));
        env.write_config_json(&config);
        let checked = env.run(&["check"]);
        assert_code(&checked, 0);
    };
    let configs = |objects: &[Value]| {
        let objects = objects.to_vec();
        move |name: &str| {
            let map = objects
                .iter()
                .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("no ConfigMap {name}"));
            serde_json::from_str::<Value>(map["data"]["snapshot.json"].as_str().unwrap()).unwrap()
        }
    };
    let (ok, yaml, stderr) = run(Command::new("kubectl")
        .arg("kustomize")
        .arg(root.join("contrib/kubernetes/drill")));
    assert!(ok, "{stderr}");
    let objects = yaml_documents(&python, &yaml);
    check(&objects, &configs(&objects));

    let values = root.join("target/drill-values.json");
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join(values.file_name().unwrap());
    fs::write(
        &values,
        json!({
            "drill": {"enabled": true},
            "config": {
                "k8s_auth_role": "vault-raft-snapshot",
                "aws_storage": {"s3_bucket": "b", "s3_region": "eu-west-1"},
                "drill": {
                    "server": "/drill-bin/bao",
                    "unseal_keys": ["file:///var/run/secrets/vault-raft-snapshot/unseal_key_0"],
                    "expect": ["secret/data/canary"],
                },
            },
        })
        .to_string(),
    )
    .unwrap();
    let chart = root.join("contrib/helm/vault-raft-snapshot");
    let (ok, yaml, stderr) = run(Command::new(&helm)
        .args(["template", "vault-raft-snapshot", "--namespace", "vault"])
        .arg(&chart)
        .arg("-f")
        .arg(&values));
    assert!(ok, "{stderr}");
    let objects = yaml_documents(&python, &yaml);
    check(&objects, &configs(&objects));
    // Without config.drill the chart refuses to render a drill that cannot work.
    fs::write(
        &values,
        json!({"drill": {"enabled": true}, "config": {"k8s_auth_role": "r"}}).to_string(),
    )
    .unwrap();
    let (ok, _, stderr) = run(Command::new(&helm)
        .args(["template", "vault-raft-snapshot"])
        .arg(&chart)
        .arg("-f")
        .arg(&values));
    assert!(!ok);
    assert_contains!(stderr, "config.drill");
}

#[test]
fn a_drill_past_drill_timeout_fails_naming_it_and_leaves_nothing() {
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    cluster.put_secret("app/canary", "v1");
    let env = agent(&cluster, &["secret/app/canary"]);
    assert_code(&env.run(&["once"]), 0);
    let mut config: Value =
        serde_json::from_str(&fs::read_to_string(env.config_path()).unwrap()).unwrap();
    config["drill"]["timeout"] = json!("3s");
    env.write_config_json(&config);
    let timed_out = drill(&env, &cluster.unseal_key, &[]);
    assert_code(&timed_out, 1);
    assert_contains!(timed_out.stderr, "drill.timeout (3s) reached");
    assert!(
        scratch_dirs(&env.tmp).is_empty(),
        "{:?}",
        scratch_dirs(&env.tmp)
    );
    assert!(env.staging_is_empty(), "{:?}", crate::env::list(&env.tmp));

    // A server binary that is not there is a configuration error.
    config["drill"]["server"] = json!("/nonexistent/bao");
    env.write_config_json(&config);
    let missing = drill(&env, &cluster.unseal_key, &[]);
    assert_code(&missing, 2);
    assert_contains!(missing.stderr, "drill.server");
}
