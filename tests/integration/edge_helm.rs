//! The Helm chart in contrib/helm/vault-raft-snapshot, with the real Helm (v4): `helm lint
//! --strict` and `helm template` over a matrix of values (each mode; with and without
//! monitoring; each storage kind; an existing Secret), every rendered object validated with
//! `kubernetes-validate --strict` (the Prometheus Operator's kinds, which are not in its
//! schemas, by shape here), the pods hardened like the kustomize directories' and mounting what
//! the config names, and the agent's own `check` run on every rendered config with local
//! stand-ins for the paths that exist only in the pod.
//!
//! helm is installed into .test-servers/helm/ and kubernetes-validate into .test-servers/venv
//! by contrib/test-servers.sh. A missing tool fails the test; only outside CI may
//! VRS_TEST_SKIP_CLOUD=1 skip it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::env::{TestEnv, assert_code, finish};
use crate::kubernetes::{run, yaml_documents};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CHART: &str = "contrib/helm/vault-raft-snapshot";
const CREDENTIALS: &str = "/var/run/secrets/vault-raft-snapshot";
/// The value of every env:// variable in `check`'s environment.
const ENV_STAND_IN: &str = "c3RhbmQtaW4tZW52LXNlY3JldA==";

struct Tools {
    helm: PathBuf,
    python: PathBuf,
    validator: PathBuf,
}

/// The tools, or None when they are missing and the run allows skipping (never in CI).
fn tools() -> Option<Tools> {
    let dir = Path::new(ROOT).join(".test-servers");
    let paths = [
        dir.join("helm/helm"),
        dir.join("venv/bin/python"),
        dir.join("venv/bin/kubernetes-validate"),
    ];
    if let Some(missing) = paths.iter().find(|p| !p.exists()) {
        let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        let may_skip = std::env::var("VRS_TEST_SKIP_CLOUD").is_ok_and(|v| v == "1");
        assert!(
            may_skip && !in_ci,
            "{} is missing: run contrib/test-servers.sh start",
            missing.display()
        );
        return None;
    }
    let [helm, python, validator] = paths;
    Some(Tools {
        helm,
        python,
        validator,
    })
}

/// Validates the objects strictly against the default (current) Kubernetes schema.
fn validate(tools: &Tools, objects: &[&Value]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.json");
    let mut text = String::new();
    for object in objects {
        text.push_str("---\n");
        text.push_str(&serde_json::to_string(object).unwrap());
        text.push('\n');
    }
    fs::write(&file, &text).unwrap();
    let (ok, stdout, stderr) = run(Command::new(&tools.validator).arg("--strict").arg(&file));
    assert!(
        ok,
        "kubernetes-validate --strict failed:\n{stdout}{stderr}\n{text}"
    );
    assert_not_contains!(stdout, "ERROR");
}

/// The chart's files in a scratch directory with values written from JSON (YAML's superset).
fn values_file(dir: &Path, name: &str, values: &Value) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    fs::write(&path, serde_json::to_string_pretty(values).unwrap()).unwrap();
    path
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

    fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = self
            .objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        kinds.sort_unstable();
        kinds
    }

    fn config(&self) -> Value {
        let text = self.one("ConfigMap")["data"]["snapshot.json"]
            .as_str()
            .expect("the ConfigMap holds snapshot.json");
        serde_json::from_str(text).unwrap_or_else(|e| panic!("snapshot.json: {e}\n{text}"))
    }
}

/// `helm lint --strict` and `helm template` with `values`; every object of a Kubernetes kind
/// validated strictly, the Operator's kinds returned unvalidated for the caller's shape checks.
fn render(tools: &Tools, values: &Value) -> Rendered {
    let dir = tempfile::tempdir().unwrap();
    let file = values_file(dir.path(), "values", values);
    let chart = Path::new(ROOT).join(CHART);
    let (ok, stdout, stderr) = run(Command::new(&tools.helm)
        .args(["lint", "--strict", "--namespace", "vault"])
        .arg(&chart)
        .arg("-f")
        .arg(&file));
    assert!(ok, "helm lint --strict with {values:#}:\n{stdout}{stderr}");
    let (ok, yaml, stderr) = run(Command::new(&tools.helm)
        .args(["template", "vault-raft-snapshot", "--namespace", "vault"])
        .arg(&chart)
        .arg("-f")
        .arg(&file));
    assert!(ok, "helm template with {values:#}:\n{stderr}");
    let objects = yaml_documents(&tools.python, &yaml);
    let core: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            !o["apiVersion"]
                .as_str()
                .unwrap()
                .starts_with("monitoring.coreos.com/")
        })
        .collect();
    validate(tools, &core);
    Rendered { objects }
}

/// What `helm template` says when it refuses `values`.
fn render_fails(tools: &Tools, values: &Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = values_file(dir.path(), "values", values);
    let (ok, _, stderr) = run(Command::new(&tools.helm)
        .args(["template", "vault-raft-snapshot"])
        .arg(Path::new(ROOT).join(CHART))
        .arg("-f")
        .arg(&file));
    assert!(!ok, "helm accepted {values:#}");
    stderr
}

/// Runs the agent's `check` on `config` as the pod would, with every path that exists only in
/// the pod replaced by a local stand-in under the test's directory: temp_dir, local_storage
/// paths, the service account token and the files that file:// references name; `env` (the
/// container's) supplies env:// references, each with a stand-in value.
fn check_config_as_in_the_pod(config: &Value, container: Option<&Value>) -> String {
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
    let local_storages = match &mut config["local_storage"] {
        Value::Array(items) => items.iter_mut().collect(),
        Value::Object(_) => vec![&mut config["local_storage"]],
        _ => Vec::new(),
    };
    for storage in local_storages {
        let dir = local(storage["path"].as_str().unwrap());
        fs::create_dir_all(&dir).unwrap();
        storage["path"] = json!(dir);
    }
    let token = local(vault_raft_snapshot::config::DEFAULT_K8S_TOKEN_PATH);
    fs::create_dir_all(token.parent().unwrap()).unwrap();
    fs::write(&token, "eyJ.stand-in-jwt\n").unwrap();
    config["k8s_token_path"] = json!(token);
    env.write_config_json(&config);
    let mut command = env.command(&["check"]);
    for variable in container
        .and_then(|c| c["env"].as_array())
        .into_iter()
        .flatten()
    {
        // Base64, as an Azure account key must be: "stand-in-env-secret".
        command.env(variable["name"].as_str().unwrap(), ENV_STAND_IN);
    }
    let outcome = finish(command.spawn().unwrap(), Duration::from_secs(60));
    assert_code(&outcome, 0);
    assert_not_contains!(outcome.stdout, "stand-in-secret");
    assert_not_contains!(outcome.stdout, ENV_STAND_IN);
    assert_not_contains!(outcome.stderr, ENV_STAND_IN);
    assert_not_contains!(outcome.stderr, "stand-in-secret");
    outcome.stdout
}

/// The pod spec of the rendered workload: hardened like the kustomize directories', and every
/// path the config names is mounted from the right volume.
fn assert_hardened_pod(pod: &Value, rendered: &Rendered, command: &str) -> Value {
    let security = &pod["securityContext"];
    assert_eq!(security["runAsNonRoot"], true, "{pod:#}");
    assert_eq!(security["runAsUser"], 65532);
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(
        pod["serviceAccountName"],
        rendered.one("ServiceAccount")["metadata"]["name"]
    );
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let config_map = rendered.one("ConfigMap")["metadata"]["name"].clone();
    assert_hardened_container(
        &containers[0],
        pod,
        &config_map,
        &rendered.config(),
        command,
    );
    containers[0].clone()
}

/// Returns the volume mounted at `path` in `container`.
fn mounted_at<'a>(container: &Value, pod: &'a Value, path: &str) -> &'a Value {
    let mounts = container["volumeMounts"].as_array().unwrap();
    let mount = mounts
        .iter()
        .find(|m| path.starts_with(m["mountPath"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("nothing mounted at {path}: {mounts:#?}"));
    pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap_or_else(|| panic!("no volume {} in {pod:#}", mount["name"]))
}

fn assert_hardened_container(
    container: &Value,
    pod: &Value,
    config_map: &Value,
    config: &Value,
    command: &str,
) {
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false, "{container:#}");
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(container["resources"]["requests"]["memory"], "64Mi");
    assert_eq!(container["resources"]["limits"]["memory"], "128Mi");
    assert_eq!(
        container["args"],
        json!([
            command,
            "--config",
            vault_raft_snapshot::config::DEFAULT_CONFIG_PATH
        ])
    );
    for mount in container["volumeMounts"].as_array().unwrap() {
        let path = mount["mountPath"].as_str().unwrap();
        assert_eq!(mounted_at(container, pod, path)["name"], mount["name"]);
    }
    assert_eq!(
        mounted_at(container, pod, "/etc/vault.d/snapshot.json")["configMap"]["name"],
        *config_map
    );
    let staging = mounted_at(container, pod, config["temp_dir"].as_str().unwrap());
    assert_eq!(
        staging["emptyDir"]["sizeLimit"], "4Gi",
        "temp_dir: {staging}"
    );
    // Every file:// reference is under the mounted Secret.
    fn references(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(text) if text.starts_with("file://") => out.push(text[7..].to_string()),
            Value::Array(items) => items.iter().for_each(|v| references(v, out)),
            Value::Object(map) => map.values().for_each(|v| references(v, out)),
            _ => {}
        }
    }
    let mut files = Vec::new();
    references(config, &mut files);
    for file in files {
        assert!(
            mounted_at(container, pod, &file)["secret"]["secretName"].is_string(),
            "{file} is not in a Secret"
        );
    }
    // Every env:// reference is in the container's environment.
    let text = config.to_string();
    for name in text.split("env://").skip(1) {
        let name: String = name
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            container["env"]
                .as_array()
                .is_some_and(|env| env.iter().any(|e| e["name"] == name.as_str())),
            "env://{name} is not in the container's env: {container:#}"
        );
    }
}

fn probes_on_the_endpoint(container: &Value, port: u64) {
    let ports = container["ports"].as_array().expect("a metrics port");
    assert_eq!(ports[0]["name"], "metrics");
    assert_eq!(ports[0]["containerPort"], port);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "metrics");
}

fn s3_with_keys() -> Value {
    json!({
        "s3_bucket": "vault-raft-snapshots",
        "s3_region": "eu-west-1",
        "access_key_id": format!("file://{CREDENTIALS}/aws_access_key_id"),
        "secret_access_key": format!("file://{CREDENTIALS}/aws_secret_access_key"),
    })
}

fn base_config() -> Value {
    json!({
        "vault_auth_method": "k8s",
        "k8s_auth_role": "vault-raft-snapshot",
        "frequency": "1h",
        "retain_hourly": 24,
    })
}

/// `config` with `storage` (its key and value) instead of the default S3 storage. Helm merges
/// values maps, so the default's aws_storage is removed with null.
fn with_storage(key: &str, storage: Value) -> Value {
    let mut config = base_config();
    config["aws_storage"] = Value::Null;
    config[key] = storage;
    config
}

#[test]
fn the_cronjob_runs_once_against_the_active_service_for_every_storage() {
    let Some(tools) = tools() else {
        return;
    };
    // The chart's defaults: S3 with keys from the (optional) credentials Secret.
    let rendered = render(&tools, &json!({}));
    assert_eq!(rendered.kinds(), ["ConfigMap", "CronJob", "ServiceAccount"]);
    let config = rendered.config();
    assert_eq!(config["addr"], "http://vault-active.vault.svc:8200");
    assert_eq!(config["leader_check"], "is_self");
    assert_eq!(config["temp_dir"], "/var/tmp/vault-raft-snapshot");
    assert!(config.get("metrics_listen").is_none(), "{config}");
    let cron = rendered.one("CronJob");
    let spec = &cron["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert_eq!(spec["startingDeadlineSeconds"], 600);
    assert_eq!(spec["jobTemplate"]["spec"]["activeDeadlineSeconds"], 2700);
    let template = &spec["jobTemplate"]["spec"]["template"];
    let pod = &template["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["hostname"], "vault-raft-snapshot");
    let container = assert_hardened_pod(pod, &rendered, "once");
    assert!(container.get("livenessProbe").is_none(), "{container:#}");
    let credentials = mounted_at(&container, pod, CREDENTIALS);
    assert_eq!(
        credentials["secret"],
        json!({"secretName": "vault-raft-snapshot-credentials", "optional": true})
    );
    let checked = check_config_as_in_the_pod(&config, Some(&container));
    assert_contains!(checked, "leader_check      is_self");
    assert_contains!(
        checked,
        "Kubernetes at auth/kubernetes, role vault-raft-snapshot"
    );
    assert_contains!(checked, "secret_access_key file://");

    // Each storage kind, with the Pushgateway; credentials by file:// from an existing Secret,
    // by env:// from the container's environment, or from workload identity.
    let azure_key = json!([{"name": "AZURE_ACCOUNT_KEY",
        "valueFrom": {"secretKeyRef": {"name": "azure-storage", "key": "account_key"}}}]);
    let cases = [
        (
            "aws_storage",
            json!({"config": with_storage("aws_storage", s3_with_keys()),
                   "credentials": {"secretName": "existing-aws-keys", "optional": false}}),
        ),
        (
            "google_storage",
            json!({"config": with_storage("google_storage", json!({"bucket": "snapshots"})),
                   "serviceAccount": {"annotations":
                       {"iam.gke.io/gcp-service-account": "vrs@project.iam.gserviceaccount.com"}}}),
        ),
        (
            "azure_storage",
            json!({"config": with_storage("azure_storage", json!({
                       "account_name": "snapshots", "container_name": "vault",
                       "account_key": "env://AZURE_ACCOUNT_KEY"})),
                   "env": azure_key,
                   "podLabels": {"azure.workload.identity/use": "true"}}),
        ),
        (
            "local_storage",
            json!({"config": with_storage("local_storage",
                       json!({"path": "/var/lib/vault-raft-snapshot/vault"})),
                   "persistence": {"enabled": true, "size": "5Gi"}}),
        ),
    ];
    for (kind, mut values) in cases {
        values["metrics"] = json!({"pushUrl": "http://prometheus-pushgateway.monitoring.svc:9091"});
        let rendered = render(&tools, &values);
        let config = rendered.config();
        assert!(config[kind].is_object(), "{kind}: {config:#}");
        assert!(
            config.get("aws_storage").is_none() || kind == "aws_storage",
            "{config:#}"
        );
        assert_eq!(
            config["metrics_push_url"],
            "http://prometheus-pushgateway.monitoring.svc:9091"
        );
        let pod = &rendered.one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        let container = assert_hardened_pod(pod, &rendered, "once");
        let checked = check_config_as_in_the_pod(&config, Some(&container));
        assert_contains!(checked, "leader_check      is_self", "{kind}");
        match kind {
            "aws_storage" => {
                let secret = &mounted_at(&container, pod, CREDENTIALS)["secret"];
                assert_eq!(
                    *secret,
                    json!({"secretName": "existing-aws-keys", "optional": false})
                );
            }
            "google_storage" => assert_eq!(
                rendered.one("ServiceAccount")["metadata"]["annotations"]["iam.gke.io/gcp-service-account"],
                "vrs@project.iam.gserviceaccount.com"
            ),
            "azure_storage" => {
                assert_eq!(
                    rendered.one("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]
                        ["labels"]["azure.workload.identity/use"],
                    "true"
                );
                assert_contains!(checked, "env://AZURE_ACCOUNT_KEY");
            }
            "local_storage" => {
                let claim = rendered.one("PersistentVolumeClaim");
                let volume = mounted_at(&container, pod, "/var/lib/vault-raft-snapshot/vault");
                assert_eq!(
                    volume["persistentVolumeClaim"]["claimName"],
                    claim["metadata"]["name"]
                );
                assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "5Gi");
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn the_deployment_serves_the_endpoint_with_probes_and_opt_in_monitoring() {
    let Some(tools) = tools() else {
        return;
    };
    let irsa = json!({"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/vrs"});
    let without = render(
        &tools,
        &json!({"mode": "deployment",
                "serviceAccount": {"annotations": irsa},
                "config": with_storage("aws_storage", json!({"s3_bucket": "snapshots"}))}),
    );
    assert_eq!(
        without.kinds(),
        ["ConfigMap", "Deployment", "ServiceAccount"]
    );
    assert_eq!(
        without.one("ServiceAccount")["metadata"]["annotations"],
        irsa
    );
    let config = without.config();
    assert_eq!(config["metrics_listen"], "0.0.0.0:2112");
    assert_eq!(config["leader_check"], "is_self");
    assert!(config.get("metrics_push_url").is_none(), "{config}");
    let deployment = without.one("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = assert_hardened_pod(pod, &without, "run");
    probes_on_the_endpoint(&container, 2112);
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let checked = check_config_as_in_the_pod(&config, Some(&container));
    assert_contains!(checked, "leader_check      is_self");

    // A change of the config rolls the pod: the template's checksum follows the ConfigMap.
    let checksum = |rendered: &Rendered| {
        rendered.one("Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let changed = render(
        &tools,
        &json!({"mode": "deployment",
                "config": with_storage("aws_storage", json!({"s3_bucket": "other"}))}),
    );
    assert_eq!(checksum(&changed).len(), 64);
    assert_ne!(checksum(&without), checksum(&changed));

    // With monitoring: a ServiceMonitor on a Service of the metrics port, the PrometheusRule
    // from files/alerts.yaml; or a PodMonitor. Another port moves probes, Service and config.
    let with = render(
        &tools,
        &json!({"mode": "deployment",
                "metrics": {"listen": "0.0.0.0:9187",
                            "serviceMonitor": {"enabled": true, "labels": {"release": "kps"}},
                            "prometheusRule": {"enabled": true, "labels": {"release": "kps"}}}}),
    );
    assert_eq!(
        with.kinds(),
        [
            "ConfigMap",
            "Deployment",
            "PrometheusRule",
            "Service",
            "ServiceAccount",
            "ServiceMonitor"
        ]
    );
    let config = with.config();
    assert_eq!(config["metrics_listen"], "0.0.0.0:9187");
    let pod = &with.one("Deployment")["spec"]["template"]["spec"];
    let container = assert_hardened_pod(pod, &with, "run");
    probes_on_the_endpoint(&container, 9187);
    check_config_as_in_the_pod(&config, Some(&container));
    let service = with.one("Service");
    assert_eq!(
        service["spec"]["ports"][0],
        json!({"name": "metrics", "port": 9187, "targetPort": "metrics", "protocol": "TCP"})
    );
    let pod_labels = &with.one("Deployment")["spec"]["template"]["metadata"]["labels"];
    for (key, value) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(pod_labels[key], *value, "the Service selects the pod");
    }
    let monitor = with.one("ServiceMonitor");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["labels"]["release"], "kps");
    // The ServiceMonitor selects the Service by its labels.
    let match_labels = monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap();
    assert!(!match_labels.is_empty());
    for (key, value) in match_labels {
        assert_eq!(service["metadata"]["labels"][key], *value, "{monitor:#}");
    }
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    let rule = with.one("PrometheusRule");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    let file_text = fs::read_to_string(Path::new(ROOT).join(CHART).join("files/alerts.yaml"))
        .expect("the chart's files/alerts.yaml");
    let file = yaml_documents(&tools.python, &file_text).remove(0);
    assert_eq!(rule["spec"]["groups"], file["groups"]);
    for group in rule["spec"]["groups"].as_array().unwrap() {
        assert!(group["name"].is_string());
        for alert in group["rules"].as_array().unwrap() {
            assert!(
                alert["alert"].is_string() && alert["expr"].is_string(),
                "{alert}"
            );
            assert!(alert["annotations"]["summary"].is_string(), "{alert}");
        }
    }

    let pod_monitored = render(
        &tools,
        &json!({"mode": "deployment", "metrics": {"podMonitor": {"enabled": true}}}),
    );
    assert_eq!(
        pod_monitored.kinds(),
        ["ConfigMap", "Deployment", "PodMonitor", "ServiceAccount"]
    );
    let monitor = pod_monitored.one("PodMonitor");
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "vault-raft-snapshot"
    );
    assert_eq!(monitor["spec"]["podMetricsEndpoints"][0]["port"], "metrics");

    // Monitoring objects belong to the deployment: a CronJob pushes instead.
    let cron = render(
        &tools,
        &json!({"metrics": {"serviceMonitor": {"enabled": true}, "podMonitor": {"enabled": true}}}),
    );
    assert_eq!(cron.kinds(), ["ConfigMap", "CronJob", "ServiceAccount"]);
}

/// The rules of the chart's PrometheusRule rendered with `rule_values` (and the rule enabled).
fn rendered_rules(tools: &Tools, rule_values: Value) -> Vec<Value> {
    let mut rule_values = rule_values;
    rule_values["enabled"] = json!(true);
    let rendered = render(
        tools,
        &json!({"mode": "deployment", "metrics": {"prometheusRule": rule_values}}),
    );
    let groups = rendered.one("PrometheusRule")["spec"]["groups"].clone();
    assert_eq!(groups.as_array().unwrap().len(), 1, "{groups:#}");
    groups[0]["rules"].as_array().unwrap().clone()
}

fn alert<'a>(rules: &'a [Value], name: &str) -> &'a Value {
    rules
        .iter()
        .find(|r| r["alert"] == name)
        .unwrap_or_else(|| panic!("no {name} in {rules:#?}"))
}

#[test]
fn the_prometheus_rule_is_the_rule_file_with_thresholds_from_values() {
    let Some(tools) = tools() else {
        return;
    };
    // The chart's copy is the rule file promtool tests, byte for byte.
    let source_text = fs::read_to_string(Path::new(ROOT).join("contrib/prometheus/alerts.yaml"))
        .expect("contrib/prometheus/alerts.yaml");
    let copy_text = fs::read_to_string(Path::new(ROOT).join(CHART).join("files/alerts.yaml"))
        .expect("the chart's files/alerts.yaml");
    assert!(
        source_text == copy_text,
        "{CHART}/files/alerts.yaml differs from contrib/prometheus/alerts.yaml: copy it"
    );
    let source = yaml_documents(&tools.python, &source_text).remove(0);
    let source_rules = source["groups"][0]["rules"].as_array().unwrap().clone();

    // The default values render exactly the file's rules.
    let defaults = rendered_rules(&tools, json!({}));
    assert_eq!(defaults, source_rules);

    // Every threshold, `for:` and the runbook base from values.
    let changed = rendered_rules(
        &tools,
        json!({"staleAfter": "90m", "failingCycles": 5, "storageFailingCycles": 4,
               "shrankRatio": 0.25,
               "for": {"VaultRaftSnapshotStale": "20m", "VaultRaftSnapshotFailing": "1m",
                       "VaultRaftSnapshotStorageFailing": "2m",
                       "VaultRaftSnapshotNoLeaderAgent": "30m", "VaultRaftSnapshotShrank": "1h"},
               "runbookBaseUrl": "https://git.example.com/vrs/blob/main/"}),
    );
    let names: Vec<&str> = changed
        .iter()
        .map(|r| r["alert"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "VaultRaftSnapshotStale",
            "VaultRaftSnapshotFailing",
            "VaultRaftSnapshotStorageFailing",
            "VaultRaftSnapshotNoLeaderAgent",
            "VaultRaftSnapshotShrank",
            "VaultRaftSnapshotDrillFailing"
        ]
    );
    let text = |rule: &Value, field: &str| -> String {
        let value = if field == "expr" || field == "for" {
            &rule[field]
        } else {
            &rule["annotations"][field]
        };
        value
            .as_str()
            .unwrap_or_else(|| panic!("{field} of {rule:#}"))
            .to_string()
    };
    // Every runbook_url prefixed; the labels stay the file's.
    for (rule, original) in changed.iter().zip(&source_rules) {
        let name = rule["alert"].as_str().unwrap();
        assert_eq!(
            text(rule, "runbook_url"),
            format!(
                "https://git.example.com/vrs/blob/main/README.md#runbook-{}",
                name.to_lowercase()
            )
        );
        assert_eq!(rule["labels"], original["labels"], "{name}");
    }
    let stale = alert(&changed, "VaultRaftSnapshotStale");
    assert_contains!(text(stale, "expr"), "> 90 * 60\n");
    assert_not_contains!(text(stale, "expr"), "3600");
    assert_contains!(text(stale, "description"), "twice the frequency (90m)");
    assert_eq!(text(stale, "for"), "20m");
    let failing = alert(&changed, "VaultRaftSnapshotFailing");
    assert_eq!(
        text(failing, "expr"),
        "vault_raft_snapshot_consecutive_failures >= 5"
    );
    assert_eq!(text(failing, "for"), "1m");
    let storage = alert(&changed, "VaultRaftSnapshotStorageFailing");
    assert_contains!(
        text(storage, "expr"),
        "vault_raft_snapshot_storage_consecutive_failures >= 4\n"
    );
    assert_contains!(
        text(storage, "expr"),
        "(vault_raft_snapshot_storage_consecutive_failures == 0)"
    );
    assert_eq!(text(storage, "for"), "2m");
    let leader = alert(&changed, "VaultRaftSnapshotNoLeaderAgent");
    assert_eq!(
        text(leader, "expr"),
        "max by (job) (max_over_time(vault_raft_snapshot_leader[90m])) == 0"
    );
    assert_contains!(text(leader, "summary"), "on the leader for 90m");
    assert_eq!(text(leader, "for"), "30m");
    let shrank = alert(&changed, "VaultRaftSnapshotShrank");
    assert_contains!(
        text(shrank, "expr"),
        "< 0.25 * (vault_raft_snapshot_snapshot_bytes offset 1d)"
    );
    assert_contains!(text(shrank, "summary"), "less than 0.25 times its size");
    assert_contains!(text(shrank, "description"), "under 0.25 times the one");
    assert_not_contains!(text(shrank, "summary"), "half");
    assert_eq!(text(shrank, "for"), "1h");

    // One threshold changes only its own token; a base without its slash gets one.
    let one = rendered_rules(
        &tools,
        json!({"failingCycles": 10, "runbookBaseUrl": "https://git.example.com/vrs"}),
    );
    for (rule, original) in one.iter().zip(&source_rules) {
        let mut expected = original.clone();
        if rule["alert"] == "VaultRaftSnapshotFailing" {
            expected["expr"] = json!("vault_raft_snapshot_consecutive_failures >= 10");
        }
        expected["annotations"]["runbook_url"] = json!(format!(
            "https://git.example.com/vrs/{}",
            text(original, "runbook_url")
        ));
        assert_eq!(*rule, expected);
    }
}

#[test]
fn the_sidecar_mode_prints_hardened_values_for_the_vault_chart() {
    let Some(tools) = tools() else {
        return;
    };
    let rendered = render(&tools, &json!({"mode": "sidecar"}));
    assert_eq!(rendered.kinds(), ["ConfigMap"]);
    let config = rendered.config();
    assert_eq!(config["addr"], "http://127.0.0.1:8200");
    assert_eq!(config["leader_check"], "auto");
    assert_eq!(config["metrics_listen"], "0.0.0.0:2112");

    // NOTES.txt holds the values for vault-helm's server.extraContainers and server.volumes.
    let (ok, stdout, stderr) = run(Command::new(&tools.helm)
        .args([
            "install",
            "vault-raft-snapshot",
            "--dry-run=client",
            "--namespace",
            "vault",
            "--set",
            "mode=sidecar",
        ])
        .arg(Path::new(ROOT).join(CHART)));
    assert!(ok, "{stdout}{stderr}");
    let notes = stdout.split("NOTES:").nth(1).expect("NOTES").to_string();
    let block = notes
        .split("# --- sidecar.yaml ---")
        .nth(1)
        .and_then(|rest| rest.split("# --- end ---").next())
        .unwrap_or_else(|| panic!("no sidecar values in the NOTES:\n{notes}"));
    let values = yaml_documents(&tools.python, block).remove(0);
    let server = &values["server"];
    // Rendered into vault-helm's server pod, with the pod securityContext that chart sets.
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
    validate(&tools, &[&pod]);
    let containers = server["extraContainers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    assert_hardened_container(
        container,
        &pod["spec"],
        &rendered.one("ConfigMap")["metadata"]["name"],
        &config,
        "run",
    );
    // Its own user, not Vault's; liveness only: its readiness would take Vault out of service.
    assert_eq!(container["securityContext"]["runAsUser"], 65532);
    probes_on_the_endpoint(container, 2112);
    assert!(container.get("readinessProbe").is_none(), "{container:#}");
    for step in [
        "hashicorp/vault",
        "openbao",
        "kubectl -n vault logs -l vault-active=true -c vault-raft-snapshot",
    ] {
        assert_contains!(notes, step);
    }
    let checked = check_config_as_in_the_pod(&config, Some(container));
    assert_contains!(checked, "leader_check      auto");
}

#[test]
fn the_notes_say_how_to_check_the_first_snapshot() {
    let Some(tools) = tools() else {
        return;
    };
    let notes = |mode: &str| {
        let (ok, stdout, stderr) = run(Command::new(&tools.helm)
            .args([
                "install",
                "backup",
                "--dry-run=client",
                "--namespace",
                "ops",
            ])
            .args(["--set", &format!("mode={mode}")])
            .arg(Path::new(ROOT).join(CHART)));
        assert!(ok, "{stdout}{stderr}");
        stdout.split("NOTES:").nth(1).expect("NOTES").to_string()
    };
    let cron = notes("cronjob");
    assert_contains!(
        cron,
        "kubectl -n ops create job --from=cronjob/backup-vault-raft-snapshot backup-vault-raft-snapshot-first"
    );
    assert_contains!(
        cron,
        "kubectl -n ops logs job/backup-vault-raft-snapshot-first"
    );
    let deployment = notes("deployment");
    assert_contains!(
        deployment,
        "kubectl -n ops port-forward deploy/backup-vault-raft-snapshot 2112"
    );
    assert_contains!(deployment, "curl -s http://127.0.0.1:2112/status");
    assert_contains!(
        deployment,
        "exec deploy/backup-vault-raft-snapshot -- vault-raft-snapshot list --config /etc/vault.d/snapshot.json"
    );
}

#[test]
fn the_schema_and_templates_refuse_what_cannot_work() {
    let Some(tools) = tools() else {
        return;
    };
    for (values, expected) in [
        (json!({"mode": "daemonset"}), "/mode"),
        (json!({"config": {"aws_storag": {}}}), "aws_storag"),
        (
            json!({"config": {"leader_check": "always"}}),
            "/config/leader_check",
        ),
        (json!({"metrics": {"listen": "2112"}}), "/metrics/listen"),
        (json!({"credentialz": {}}), "credentialz"),
        (
            json!({"mode": "deployment", "metrics": {"listen": ""}}),
            "metrics.listen",
        ),
        (
            json!({"metrics": {"pushUrl": "pushgateway:9091"}}),
            "/metrics/pushUrl",
        ),
        (
            json!({"metrics": {"prometheusRule": {"staleAfter": "2h30m"}}}),
            "/metrics/prometheusRule/staleAfter",
        ),
        (
            json!({"metrics": {"prometheusRule": {"failingCycles": 0}}}),
            "/metrics/prometheusRule/failingCycles",
        ),
        (
            json!({"metrics": {"prometheusRule": {"storageFailingCycles": 1.5}}}),
            "/metrics/prometheusRule/storageFailingCycles",
        ),
        (
            json!({"metrics": {"prometheusRule": {"shrankRatio": 1}}}),
            "/metrics/prometheusRule/shrankRatio",
        ),
        (
            json!({"metrics": {"prometheusRule": {"for": {"VaultRaftSnapshotFailing": "soon"}}}}),
            "/metrics/prometheusRule/for/VaultRaftSnapshotFailing",
        ),
        (
            json!({"metrics": {"prometheusRule": {"for": {"VaultRaftSnapshotStal": "5m"}}}}),
            "VaultRaftSnapshotStal",
        ),
        (
            json!({"metrics": {"prometheusRule": {"runbookBaseUrl": "git.example.com/readme"}}}),
            "/metrics/prometheusRule/runbookBaseUrl",
        ),
    ] {
        let stderr = render_fails(&tools, &values);
        assert_contains!(stderr, expected, "{values}");
    }
}

#[test]
fn the_example_values_render_and_check() {
    let Some(tools) = tools() else {
        return;
    };
    let examples = Path::new(ROOT).join(CHART).join("examples");
    let mut names: Vec<String> = fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(names, ["cronjob.yaml", "deployment.yaml", "sidecar.yaml"]);
    for name in names {
        let text = fs::read_to_string(examples.join(&name)).unwrap();
        let values = yaml_documents(&tools.python, &text).remove(0);
        let rendered = render(&tools, &values);
        let config = rendered.config();
        let container = rendered
            .objects
            .iter()
            .find_map(|o| match o["kind"].as_str() {
                Some("CronJob") => {
                    Some(&o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0])
                }
                Some("Deployment") => Some(&o["spec"]["template"]["spec"]["containers"][0]),
                _ => None,
            });
        check_config_as_in_the_pod(&config, container);
    }
}
