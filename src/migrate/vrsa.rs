//! Argelbargel's vault-raft-snapshot-agent (v0.12, read from its source): its `vault`,
//! `snapshots` and `metrics` sections turned into our keys.
//!
//! As its viper reads the file: keys case-insensitively (the caller lowercased them), every
//! key overridable by `VRSA_<KEY PATH>` (dots as `_`, e.g. `VRSA_SNAPSHOTS_RETAIN`) where viper
//! binds it (a key in the file, or a key of the always-present structs: `vault.nodes.*`,
//! `vault.timeout`, `vault.insecure`, `vault.auth.token`, `snapshots.*`); a secret-typed value
//! may be `env://NAME` or `file://PATH`, a relative PATH resolved against the config file's
//! directory (`secret.WithAbsoluteFilePath`).
//!
//! Secrets become references where ours take them (`file:///abs`, `env://NAME`; a value that
//! came from a `VRSA_*` variable becomes `env://` that variable); a secret written in the file
//! itself is copied, and the report says so.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde_json::{Map, Value, json};

use super::report::Report;

/// Where their agent's name pieces default (`storage.StorageConfigDefaults`).
pub const DEFAULT_NAME_PREFIX: &str = "raft-snapshot-";
/// Their default `nameSuffix`.
pub const DEFAULT_NAME_SUFFIX: &str = ".snap";
/// Their default `timestampFormat`, a Go time layout.
pub const DEFAULT_TIMESTAMP_FORMAT: &str = "2006-01-02T15-04-05Z-0700";
/// Their default Prometheus port.
pub const DEFAULT_METRICS_PORT: i64 = 2112;

/// Keys every storage of theirs takes (`StorageControllerConfig`).
const STORAGE_COMMON: &[&str] = &[
    "frequency",
    "retain",
    "timeout",
    "nameprefix",
    "namesuffix",
    "timestampformat",
];

/// Each storage of theirs and its own keys.
const STORAGES: &[(&str, &[&str])] = &[
    (
        "aws",
        &[
            "accesskeyid",
            "accesskey",
            "sessiontoken",
            "region",
            "endpoint",
            "bucket",
            "keyprefix",
            "useserversideencryption",
            "forcepathstyle",
        ],
    ),
    (
        "azure",
        &["accountname", "accountkey", "container", "clouddomain"],
    ),
    ("gcp", &["bucket"]),
    ("local", &["path"]),
    (
        "swift",
        &[
            "container",
            "username",
            "apikey",
            "region",
            "authurl",
            "domain",
            "tenantid",
            "empty",
        ],
    ),
    (
        "s3",
        &[
            "endpoint",
            "bucket",
            "accesskeyid",
            "accesskey",
            "sessiontoken",
            "region",
            "insecure",
            "skipsslverify",
            "empty",
        ],
    ),
];

/// Their auth methods in the order their agent picks the first one configured
/// (`auth.CreateVaultAuth`), with their keys.
const AUTH: &[(&str, &[&str])] = &[
    ("approle", &["path", "role", "secret"]),
    (
        "aws",
        &[
            "path",
            "region",
            "ec2nonce",
            "role",
            "ec2signaturetype",
            "iamserveridheader",
        ],
    ),
    ("azure", &["path", "role", "resource"]),
    ("gcp", &["path", "role", "serviceaccountemail"]),
    ("kubernetes", &["path", "role", "jwttoken"]),
    ("ldap", &["path", "username", "password"]),
    ("userpass", &["path", "username", "password"]),
];

/// Every leaf key of their configuration.
#[must_use]
pub fn known_leaves() -> Vec<String> {
    let mut leaves: Vec<String> = [
        "vault.nodes.urls",
        "vault.nodes.autodetectleader",
        "vault.timeout",
        "vault.insecure",
        "vault.auth.token",
        "metrics.prometheus.port",
        "metrics.prometheus.path",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    for (method, keys) in AUTH {
        leaves.extend(keys.iter().map(|k| format!("vault.auth.{method}.{k}")));
    }
    leaves.extend(STORAGE_COMMON.iter().map(|k| format!("snapshots.{k}")));
    for (storage, keys) in STORAGES {
        for key in STORAGE_COMMON.iter().chain(keys.iter()) {
            leaves.push(format!("snapshots.storages.{storage}.{key}"));
        }
    }
    leaves
}

/// The parents whose keys viper binds to `VRSA_*` even when the file does not have them
/// (non-pointer structs, and `vault.auth.token`, a pointer bound as one key).
const ALWAYS_BOUND: &[&str] = &["vault", "vault.nodes", "vault.auth", "snapshots"];

/// The environment variable viper reads for `key`.
#[must_use]
pub fn env_name(key: &str) -> String {
    format!("VRSA_{}", key.replace('.', "_").to_uppercase())
}

fn lookup<'v>(root: &'v Value, key: &str) -> Option<&'v Value> {
    key.split('.').try_fold(root, |v, part| v.get(part))
}

fn set(root: &mut Value, key: &str, value: Value) {
    let mut current = root;
    let parts: Vec<&str> = key.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if !current.get(*part).is_some_and(Value::is_object) {
            if let Some(object) = current.as_object_mut() {
                object.insert((*part).to_string(), Value::Object(Map::new()));
            }
        }
        // Only a mapping takes keys; anything else (not a config of theirs) is left alone.
        let Some(next) = current.get_mut(*part) else {
            return;
        };
        current = next;
    }
    if let Some(object) = current.as_object_mut() {
        object.insert(parts[parts.len() - 1].to_string(), value);
    }
}

/// Applies the `VRSA_*` overrides viper would; returns each overridden key and its variable.
pub fn apply_env(
    root: &mut Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> HashMap<String, String> {
    let mut applied = HashMap::new();
    for key in known_leaves() {
        let parent = key.rsplit_once('.').map_or("", |(p, _)| p);
        let bound = lookup(root, &key).is_some()
            || ALWAYS_BOUND.contains(&parent)
            || lookup(root, parent).is_some_and(Value::is_object);
        if !bound {
            continue;
        }
        let name = env_name(&key);
        if let Some(value) = env(&name) {
            set(root, &key, Value::String(value));
            applied.insert(key, name);
        }
    }
    applied
}

/// Go's `strconv.ParseBool`.
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The conversion of one file.
struct Convert<'a> {
    root: Value,
    from_env: HashMap<String, String>,
    base: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
    report: Report,
    out: Map<String, Value>,
    /// Keys (and whole sections) dealt with.
    used: BTreeSet<String>,
}

impl Convert<'_> {
    fn get(&mut self, key: &str) -> Option<Value> {
        self.used.insert(key.to_string());
        lookup(&self.root, key).filter(|v| !v.is_null()).cloned()
    }

    /// True when the file (or a `VRSA_*` variable) sets `key`; `null` is unset, as for viper.
    fn has(&self, key: &str) -> bool {
        lookup(&self.root, key).is_some_and(|v| !v.is_null())
    }

    /// Where a value came from, for the report: `key` or `key (VRSA_KEY)`.
    fn from(&self, key: &str) -> String {
        match self.from_env.get(key) {
            Some(var) => format!("{key} (from {var})"),
            None => key.to_string(),
        }
    }

    fn string(&mut self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.report
                    .unmapped(key, format!("expected a text value, found {other}"));
                None
            }
        }
        .filter(|s| !s.is_empty())
    }

    fn bool(&mut self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(b),
            Value::String(s) if go_bool(&s).is_some() => go_bool(&s),
            other => {
                self.report
                    .unmapped(key, format!("expected true or false, found {other}"));
                None
            }
        }
    }

    fn int(&mut self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
            Value::String(s) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
            other => {
                self.report
                    .unmapped(key, format!("expected a whole number, found {other}"));
                None
            }
        }
    }

    /// A Go duration as our keys take it: a string as written, a number as Go reads one
    /// (nanoseconds).
    fn duration(&mut self, key: &str) -> Option<String> {
        let text = match self.get(key)? {
            Value::String(s) if s.is_empty() => return None,
            Value::String(s) => s,
            Value::Number(n) => match n.as_u64() {
                Some(0) => return None,
                Some(ns) if ns % 1_000_000_000 == 0 => format!("{}s", ns / 1_000_000_000),
                Some(ns) if ns % 1_000_000 == 0 => format!("{}ms", ns / 1_000_000),
                _ => {
                    self.report.unmapped(
                        key,
                        format!("{n} nanoseconds (a number is nanoseconds in Go) is not a duration our keys take"),
                    );
                    return None;
                }
            },
            other => {
                self.report
                    .unmapped(key, format!("expected a Go duration, found {other}"));
                return None;
            }
        };
        match crate::duration::parse(&text) {
            Ok(_) => Some(text),
            Err(e) => {
                self.report.unmapped(key, format!("{text:?}: {e}"));
                None
            }
        }
    }

    /// `file://PATH` with a relative PATH resolved as their agent does.
    fn absolute_file(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            self.base.join(path).display().to_string()
        }
    }

    /// A secret for one of our secret-valued keys: a reference when theirs was one or came
    /// from a variable; the value itself otherwise (recorded in the report).
    fn secret(&mut self, key: &str, ours: &str) -> Option<String> {
        let value = self.string(key)?;
        if let Some(var) = self.from_env.get(key) {
            return Some(format!("env://{var}"));
        }
        if let Some(name) = value.strip_prefix("env://") {
            return Some(format!("env://{name}"));
        }
        if let Some(path) = value.strip_prefix("file://") {
            return Some(format!("file://{}", self.absolute_file(path)));
        }
        self.report.copied_secrets.push(ours.to_string());
        Some(value)
    }

    /// A value of theirs typed as a secret that is plain text in ours (a user name, a
    /// region): resolved now, as their agent would at start.
    fn plain(&mut self, key: &str) -> Option<String> {
        let value = self.string(key)?;
        if let Some(name) = value.strip_prefix("env://") {
            let resolved = (self.env)(name).filter(|v| !v.is_empty());
            self.report.note(format!(
                "{key} = env://{name} was read now ({}), not at every start as their agent does",
                if resolved.is_some() {
                    "set"
                } else {
                    "not set: left out"
                }
            ));
            return resolved;
        }
        if let Some(path) = value.strip_prefix("file://") {
            let path = self.absolute_file(path);
            return match std::fs::read_to_string(&path) {
                Ok(text) => {
                    self.report.note(format!(
                        "{key} = file://{path} was read now, not at every start as their agent does"
                    ));
                    Some(text.trim_end().to_string()).filter(|v| !v.is_empty())
                }
                Err(e) => {
                    self.report
                        .unmapped(key, format!("file://{path} cannot be read now: {e}"));
                    None
                }
            };
        }
        Some(value)
    }

    fn put(&mut self, theirs: &str, ours: &str, value: Value) {
        let shown = self.from(theirs);
        self.report.mapped(shown, ours);
        self.out.insert(ours.to_string(), value);
    }

    fn vault(&mut self) {
        let urls = match self.get("vault.nodes.urls") {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect::<Vec<_>>(),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        match urls.as_slice() {
            [] => self.report.unmapped(
                "vault.nodes.urls",
                "not set (their agent requires it); ours uses VAULT_ADDR or https://127.0.0.1:8200",
            ),
            [one] => self.put("vault.nodes.urls", "addr", json!(one)),
            many => self.put("vault.nodes.urls", "addr", json!(many)),
        }
        // Their agent never checks leadership itself: it snapshots through the node it talks
        // to (Vault forwards to the active node), and runs as one Deployment replica.
        self.out.insert("leader_check".into(), json!("none"));
        self.report.note(
            "leader_check = none: their agent runs as a single instance and snapshots through \
             whichever node answers (Vault forwards to the active node); ours does the same \
             with none, so run exactly one agent per cluster (or set leader_check to auto and \
             run one beside every node)",
        );
        if let Some(auto) = self.bool("vault.nodes.autodetectleader") {
            self.report.mapped(
                self.from("vault.nodes.autodetectleader"),
                if auto && urls.len() > 1 {
                    "addr (a list: the agent talks to the active node)"
                } else {
                    "(nothing: addr is used as given)"
                },
            );
        }
        if let Some(insecure) = self.bool("vault.insecure") {
            self.put("vault.insecure", "tls_skip_verify", json!(insecure));
        }
        match self.duration("vault.timeout") {
            Some(timeout) => {
                self.put("vault.timeout", "timeout", json!(timeout));
                self.report.note(format!(
                    "timeout = {timeout} limits the whole snapshot download, as their vault.timeout \
                     did; ours also ends a download or upload silent for idle_timeout (5m)"
                ));
            }
            None => self.report.note(
                "their vault.timeout (default 60s) limited every Vault request, the whole \
                 snapshot download included; ours has no total limit unless timeout is set, and \
                 ends a download or upload silent for idle_timeout (default 5m) instead",
            ),
        }
    }

    fn auth(&mut self) {
        let token_set = self.has("vault.auth.token");
        let chosen = AUTH
            .iter()
            .map(|(m, _)| *m)
            .find(|m| self.has(&format!("vault.auth.{m}")))
            .or(token_set.then_some("token"));
        for (method, _) in AUTH.iter().chain([("token", &[][..])].iter()) {
            let section = if *method == "token" {
                "vault.auth.token".to_string()
            } else {
                format!("vault.auth.{method}")
            };
            if Some(*method) != chosen && self.has(&section) {
                self.used.insert(section.clone());
                self.report.note(format!(
                    "{section} is not mapped: their agent used only the first method configured \
                     ({}), in the order approle, aws, azure, gcp, kubernetes, ldap, userpass, token",
                    chosen.unwrap_or("none")
                ));
            }
        }
        match chosen {
            None => self.report.unmapped(
                "vault.auth",
                "no login method configured; ours defaults to approle (role_id, secret_id)",
            ),
            Some("approle") => self.approle(),
            Some("kubernetes") => self.kubernetes(),
            Some("token") => self.token(),
            Some(method @ ("userpass" | "ldap")) => self.password_login(method),
            Some("aws") => self.aws_login(),
            Some("gcp") => self.gcp_login(),
            Some(_) => self.azure_login(),
        }
    }

    fn method(&mut self, theirs: &str, name: &str) {
        self.out.insert("vault_auth_method".into(), json!(name));
        self.report
            .mapped(theirs, format!("vault_auth_method = {name}"));
    }

    fn mount(&mut self, method: &str, ours: &str) {
        let key = format!("vault.auth.{method}.path");
        if let Some(path) = self.string(&key) {
            self.put(&key, ours, json!(path));
        }
    }

    fn approle(&mut self) {
        self.method("vault.auth.approle", "approle");
        for (theirs, ours) in [("role", "role_id"), ("secret", "secret_id")] {
            let key = format!("vault.auth.approle.{theirs}");
            match self.secret(&key, ours) {
                Some(value) => self.put(&key, ours, json!(value)),
                None => self
                    .report
                    .unmapped(key, "not set (their agent requires it)"),
            }
        }
        self.mount("approle", "approle");
    }

    fn kubernetes(&mut self) {
        self.method("vault.auth.kubernetes", "k8s");
        match self.string("vault.auth.kubernetes.role") {
            Some(role) => self.put("vault.auth.kubernetes.role", "k8s_auth_role", json!(role)),
            None => self.report.unmapped(
                "vault.auth.kubernetes.role",
                "not set (their agent requires it)",
            ),
        }
        self.mount("kubernetes", "k8s_auth_path");
        let key = "vault.auth.kubernetes.jwttoken";
        if let Some(token) = self.string(key) {
            match token.strip_prefix("file://") {
                Some(path) if !self.from_env.contains_key(key) => {
                    let path = self.absolute_file(path);
                    self.put(key, "k8s_token_path", json!(path));
                }
                _ => self.report.unmapped(
                    self.from(key),
                    "ours reads the service account token from a file: write it to one and set \
                     k8s_token_path (the value is not copied)",
                ),
            }
        }
    }

    fn token(&mut self) {
        let key = "vault.auth.token";
        let Some(token) = self.string(key) else {
            return;
        };
        if let Some(var) = self.from_env.get(key).cloned() {
            self.report.unmapped(
                format!("{key} (from {var})"),
                "ours takes a token from VAULT_TOKEN or a file (token_path): set VAULT_TOKEN \
                 instead (the value is not copied)",
            );
        } else if let Some(path) = token.strip_prefix("file://") {
            let path = self.absolute_file(path);
            self.put(key, "token_path", json!(path));
            self.report.note(
                "token_path is read at every cycle; their agent read the token once and renewed it",
            );
        } else if token == "env://VAULT_TOKEN" {
            self.method(key, "token");
        } else if let Some(var) = token.strip_prefix("env://") {
            self.report.unmapped(
                key,
                format!("ours reads the token from VAULT_TOKEN, not {var}: set VAULT_TOKEN (vault_auth_method token) or write it to a file (token_path)"),
            );
        } else {
            self.report.unmapped(
                key,
                "a token written in the file: ours takes it from VAULT_TOKEN or a file \
                 (token_path); the value is not copied",
            );
        }
    }

    fn password_login(&mut self, method: &str) {
        self.method(&format!("vault.auth.{method}"), method);
        let user = format!("vault.auth.{method}.username");
        match self.plain(&user) {
            Some(name) => self.put(&user, &format!("{method}_username"), json!(name)),
            None => self
                .report
                .unmapped(user, "not set (their agent requires it)"),
        }
        let password = format!("vault.auth.{method}.password");
        let ours = format!("{method}_password");
        match self.secret(&password, &ours) {
            Some(value) => self.put(&password, &ours, json!(value)),
            None => self
                .report
                .unmapped(password, "not set (their agent requires it)"),
        }
        self.mount(method, &format!("{method}_auth_path"));
    }

    fn aws_login(&mut self) {
        self.method("vault.auth.aws", "aws");
        match self.string("vault.auth.aws.role") {
            Some(role) => self.put("vault.auth.aws.role", "aws_auth_role", json!(role)),
            None => self.report.unmapped(
                "vault.auth.aws.role",
                "not set: their agent let Vault take the IAM role's name; ours needs \
                 aws_auth_role",
            ),
        }
        self.mount("aws", "aws_auth_path");
        if let Some(region) = self.plain("vault.auth.aws.region") {
            self.put("vault.auth.aws.region", "aws_auth_region", json!(region));
        }
        if let Some(header) = self.string("vault.auth.aws.iamserveridheader") {
            self.put(
                "vault.auth.aws.iamserveridheader",
                "aws_auth_header_value",
                json!(header),
            );
        }
        let nonce = self.string("vault.auth.aws.ec2nonce");
        let signature = self.string("vault.auth.aws.ec2signaturetype");
        if nonce.is_some() {
            self.report.unmapped(
                "vault.auth.aws.ec2nonce",
                "EC2 (instance identity) login is not supported; ours logs in with IAM \
                 (a signed sts:GetCallerIdentity)",
            );
            if signature.is_some() {
                self.report.unmapped(
                    "vault.auth.aws.ec2signaturetype",
                    "only for EC2 login, which ours does not do",
                );
            }
        }
    }

    fn gcp_login(&mut self) {
        self.method("vault.auth.gcp", "gcp");
        match self.string("vault.auth.gcp.role") {
            Some(role) => self.put("vault.auth.gcp.role", "gcp_auth_role", json!(role)),
            None => self
                .report
                .unmapped("vault.auth.gcp.role", "not set (their agent requires it)"),
        }
        self.mount("gcp", "gcp_auth_path");
        if self.string("vault.auth.gcp.serviceaccountemail").is_some() {
            self.report.unmapped(
                "vault.auth.gcp.serviceaccountemail",
                "IAM login (a JWT signed through the IAM API for that account) is not \
                 supported; ours logs in with a JWT from the metadata server for an account \
                 attached to the machine (gcp_auth_service_account)",
            );
        }
    }

    fn azure_login(&mut self) {
        self.method("vault.auth.azure", "azure");
        match self.string("vault.auth.azure.role") {
            Some(role) => self.put("vault.auth.azure.role", "azure_auth_role", json!(role)),
            None => self
                .report
                .unmapped("vault.auth.azure.role", "not set (their agent requires it)"),
        }
        self.mount("azure", "azure_auth_path");
        if let Some(resource) = self.string("vault.auth.azure.resource") {
            self.put(
                "vault.auth.azure.resource",
                "azure_auth_resource",
                json!(resource),
            );
        }
    }

    /// The name pieces a storage (or the defaults) gives their snapshots.
    fn names(&mut self, at: &str, defaults: &(String, String, String)) -> (String, String, String) {
        let prefix = self.string(&format!("{at}.nameprefix"));
        let suffix = self.string(&format!("{at}.namesuffix"));
        let layout = self.string(&format!("{at}.timestampformat"));
        (
            prefix.unwrap_or_else(|| defaults.0.clone()),
            layout.unwrap_or_else(|| defaults.1.clone()),
            suffix.unwrap_or_else(|| defaults.2.clone()),
        )
    }

    fn snapshots(&mut self) {
        if let Some(frequency) = self.duration("snapshots.frequency") {
            self.put("snapshots.frequency", "frequency", json!(frequency));
        }
        let retain = self.int("snapshots.retain").unwrap_or(0);
        if self.has("snapshots.retain") {
            self.put("snapshots.retain", "retain", json!(retain.max(0)));
        }
        let timeout = self.duration("snapshots.timeout");
        self.report.note(format!(
            "their snapshots.timeout ({}) limited each storage's whole upload and pruning; ours \
             has no total limit there: a storage silent for idle_timeout (default 5m) fails",
            timeout.as_deref().unwrap_or("60s, the default")
        ));
        let defaults = self.names(
            "snapshots",
            &(
                DEFAULT_NAME_PREFIX.into(),
                DEFAULT_TIMESTAMP_FORMAT.into(),
                DEFAULT_NAME_SUFFIX.into(),
            ),
        );
        for (key, what) in [
            ("nameprefix", "name_prefix"),
            ("timestampformat", "go_time_layout"),
            ("namesuffix", "name_suffix"),
        ] {
            let theirs = format!("snapshots.{key}");
            if self.has(&theirs) {
                self.report
                    .mapped(self.from(&theirs), format!("other_snapshot_names[].{what}"));
            }
        }
        let mut names = vec![defaults.clone()];
        let mut sections: HashMap<&str, Vec<Value>> = HashMap::new();
        let mut any_retain = retain > 0;
        for (storage, _) in STORAGES {
            let at = format!("snapshots.storages.{storage}");
            if !lookup(&self.root, &at).is_some_and(Value::is_object) {
                if self.has(&at) {
                    self.used.insert(at.clone());
                }
                continue;
            }
            let Some((section, object)) = self.storage(storage, &at) else {
                continue;
            };
            let mut object = object;
            if let Some(own) = self.int(&format!("{at}.retain")) {
                any_retain |= own > 0;
                object.insert("retain".into(), json!(own.max(0)));
                self.report.mapped(
                    self.from(&format!("{at}.retain")),
                    format!("{section}.retain"),
                );
            }
            if self.has(&format!("{at}.frequency")) {
                self.used.insert(format!("{at}.frequency"));
                self.report.note(format!(
                    "{at}.frequency is not mapped: it does nothing in their agent (every storage \
                     got every snapshot at snapshots.frequency); ours has one frequency"
                ));
            }
            if let Some(own) = self.duration(&format!("{at}.timeout")) {
                self.report.note(format!(
                    "{at}.timeout ({own}) is not mapped: ours has no total limit on a storage's \
                     upload; idle_timeout ends a stalled one"
                ));
            }
            let own = self.names(&at, &defaults);
            for key in ["nameprefix", "namesuffix", "timestampformat"] {
                let theirs = format!("{at}.{key}");
                if self.has(&theirs) {
                    self.report
                        .mapped(self.from(&theirs), "other_snapshot_names[]");
                }
            }
            if !names.contains(&own) {
                names.push(own);
            }
            sections
                .entry(section)
                .or_default()
                .push(Value::Object(object));
        }
        for (section, mut objects) in sections {
            let value = if objects.len() == 1 {
                objects.remove(0)
            } else {
                Value::Array(objects)
            };
            self.out.insert(section.to_string(), value);
        }
        if !self.out.keys().any(|k| k.ends_with("_storage")) {
            self.report.unmapped(
                "snapshots.storages",
                "no storage ours can write to (their agent refuses a config without one too)",
            );
        }
        let listed: Vec<Value> = names
            .iter()
            .map(|(prefix, layout, suffix)| {
                json!({
                    "name_prefix": prefix,
                    "go_time_layout": layout,
                    "name_suffix": suffix,
                    "time_zone": "UTC",
                })
            })
            .collect();
        self.out
            .insert("other_snapshot_names".into(), Value::Array(listed));
        self.report.note(
            "other_snapshot_names lists their snapshot names, so list, fetch, restore and \
             inspect see them and retention ages them out; ours are written as \
             raft_snapshot-<unix ns>.snap. time_zone UTC is used only for a layout without a \
             zone: their agent wrote its local time (UTC in its container image unless TZ was set)",
        );
        if any_retain {
            self.report.note(
                "retain: their agent kept the newest N by last-modified time, counting only its \
                 own names; ours keeps the newest N by the time in the name, their names and \
                 ours counted together",
            );
        }
    }

    /// One storage of theirs as our section name and object, or `None` when ours has none.
    fn storage(&mut self, storage: &str, at: &str) -> Option<(&'static str, Map<String, Value>)> {
        let mut object = Map::new();
        let k = |key: &str| format!("{at}.{key}");
        match storage {
            "local" => {
                let path = self.string(&k("path"));
                let Some(path) = path else {
                    self.report
                        .unmapped(k("path"), "not set (their agent requires it)");
                    return None;
                };
                if !path.starts_with('/') {
                    self.report.note(format!(
                        "{at}.path {path:?} is relative: both agents resolve it against the \
                         working directory, not the config file's"
                    ));
                }
                self.report
                    .mapped(self.from(&k("path")), "local_storage.path");
                object.insert("path".into(), json!(path));
                Some(("local_storage", object))
            }
            "gcp" => {
                let bucket = self.string(&k("bucket"))?;
                self.report
                    .mapped(self.from(&k("bucket")), "google_storage.bucket");
                object.insert("bucket".into(), json!(bucket));
                Some(("google_storage", object))
            }
            "azure" => self.azure(at, object),
            "aws" => self.aws(at, object),
            "s3" => self.s3(at, object),
            _ => {
                self.used.insert(at.to_string());
                self.report.unmapped(
                    at,
                    "OpenStack Swift is not a storage of ours (S3, GCS, Azure Blob or a local \
                     directory); Swift's S3 API (s3api) can be used through aws_storage",
                );
                None
            }
        }
    }

    fn azure(
        &mut self,
        at: &str,
        mut object: Map<String, Value>,
    ) -> Option<(&'static str, Map<String, Value>)> {
        let k = |key: &str| format!("{at}.{key}");
        let Some(container) = self.string(&k("container")) else {
            self.report
                .unmapped(k("container"), "not set (their agent requires it)");
            return None;
        };
        object.insert("container_name".into(), json!(container));
        self.report
            .mapped(self.from(&k("container")), "azure_storage.container_name");
        let account = self.plain(&k("accountname"));
        if let Some(account) = &account {
            object.insert("account_name".into(), json!(account));
            self.report
                .mapped(self.from(&k("accountname")), "azure_storage.account_name");
        }
        if let Some(key) = self.secret(&k("accountkey"), "azure_storage.account_key") {
            object.insert("account_key".into(), json!(key));
            self.report
                .mapped(self.from(&k("accountkey")), "azure_storage.account_key");
        }
        if let Some(domain) = self.string(&k("clouddomain")) {
            if domain != "blob.core.windows.net" {
                match &account {
                    Some(account) => {
                        object.insert(
                            "endpoint".into(),
                            json!(format!("https://{account}.{domain}")),
                        );
                        self.report
                            .mapped(self.from(&k("clouddomain")), "azure_storage.endpoint");
                    }
                    None => self.report.unmapped(
                        k("clouddomain"),
                        "ours takes the whole endpoint (https://<account>.<domain>), and the \
                         account name is only known at run time (AZURE_STORAGE_ACCOUNT)",
                    ),
                }
            } else {
                self.report
                    .mapped(self.from(&k("clouddomain")), "(the default endpoint)");
            }
        }
        Some(("azure_storage", object))
    }

    fn aws(
        &mut self,
        at: &str,
        mut object: Map<String, Value>,
    ) -> Option<(&'static str, Map<String, Value>)> {
        let k = |key: &str| format!("{at}.{key}");
        let Some(bucket) = self.string(&k("bucket")) else {
            self.report
                .unmapped(k("bucket"), "not set (their agent requires it)");
            return None;
        };
        object.insert("s3_bucket".into(), json!(bucket));
        self.report
            .mapped(self.from(&k("bucket")), "aws_storage.s3_bucket");
        self.s3_credentials(at, &mut object);
        if let Some(region) = self.plain(&k("region")) {
            object.insert("s3_region".into(), json!(region));
            self.report
                .mapped(self.from(&k("region")), "aws_storage.s3_region");
        }
        if let Some(endpoint) = self.plain(&k("endpoint")) {
            object.insert("s3_endpoint".into(), json!(endpoint));
            self.report
                .mapped(self.from(&k("endpoint")), "aws_storage.s3_endpoint");
        } else if (self.env)("AWS_ENDPOINT_URL").is_some() {
            self.report.note(format!(
                "{at}.endpoint: their agent read AWS_ENDPOINT_URL; ours does not: set \
                 aws_storage.s3_endpoint"
            ));
        }
        match self.string(&k("keyprefix")) {
            Some(prefix) => {
                if prefix.ends_with('/') {
                    self.report.note(format!(
                        "{at}.keyprefix {prefix:?} ends with '/': their agent wrote \
                         <prefix>/<name> (a double slash); ours trims slashes, so its \
                         snapshots land beside, not among, theirs"
                    ));
                }
                object.insert("s3_key_prefix".into(), json!(prefix));
                self.report
                    .mapped(self.from(&k("keyprefix")), "aws_storage.s3_key_prefix");
            }
            None => self.bucket_root(at, &mut object),
        }
        if let Some(sse) = self.bool(&k("useserversideencryption")) {
            object.insert("s3_server_side_encryption".into(), json!(sse));
            self.report.mapped(
                self.from(&k("useserversideencryption")),
                "aws_storage.s3_server_side_encryption",
            );
        }
        if let Some(path_style) = self.bool(&k("forcepathstyle")) {
            object.insert("s3_force_path_style".into(), json!(path_style));
            self.report.mapped(
                self.from(&k("forcepathstyle")),
                "aws_storage.s3_force_path_style",
            );
        }
        Some(("aws_storage", object))
    }

    fn bucket_root(&mut self, at: &str, object: &mut Map<String, Value>) {
        object.insert("s3_key_prefix".into(), json!("/"));
        self.report.note(format!(
            "{at}: their agent wrote at the bucket root (no keyPrefix); s3_key_prefix \"/\" keeps \
             ours there too (unset, ours would use raft_snapshots/)"
        ));
    }

    fn s3_credentials(&mut self, at: &str, object: &mut Map<String, Value>) {
        let k = |key: &str| format!("{at}.{key}");
        for (theirs, ours) in [
            ("accesskeyid", "access_key_id"),
            ("accesskey", "secret_access_key"),
        ] {
            if let Some(value) = self.secret(&k(theirs), &format!("aws_storage.{ours}")) {
                object.insert(ours.into(), json!(value));
                self.report
                    .mapped(self.from(&k(theirs)), format!("aws_storage.{ours}"));
            }
        }
        if self.string(&k("sessiontoken")).is_some() {
            self.report.unmapped(
                k("sessiontoken"),
                "ours takes no session token with static keys; leave the keys unset and use \
                 the AWS credential chain (AWS_SESSION_TOKEN, a profile, web identity)",
            );
        }
    }

    fn s3(
        &mut self,
        at: &str,
        mut object: Map<String, Value>,
    ) -> Option<(&'static str, Map<String, Value>)> {
        let k = |key: &str| format!("{at}.{key}");
        let empty = self.bool(&k("empty")).unwrap_or(false);
        let bucket = self.string(&k("bucket"));
        let endpoint = self.string(&k("endpoint"));
        let (Some(bucket), Some(endpoint)) = (bucket, endpoint) else {
            if empty {
                self.report.mapped(
                    self.from(&k("empty")),
                    "(nothing: an empty S3 storage is off)",
                );
            } else {
                self.report.unmapped(
                    at,
                    "endpoint and bucket are required (their agent refuses it too)",
                );
            }
            return None;
        };
        let insecure = self.bool(&k("insecure")).unwrap_or(false);
        let url = if endpoint.contains("://") {
            endpoint
        } else {
            format!("{}://{endpoint}", if insecure { "http" } else { "https" })
        };
        object.insert("s3_bucket".into(), json!(bucket));
        self.report
            .mapped(self.from(&k("bucket")), "aws_storage.s3_bucket");
        object.insert("s3_endpoint".into(), json!(url));
        self.report
            .mapped(self.from(&k("endpoint")), "aws_storage.s3_endpoint");
        if self.has(&k("insecure")) {
            self.report.mapped(
                self.from(&k("insecure")),
                "aws_storage.s3_endpoint (http://)",
            );
        }
        // minio-go picks path-style for any endpoint that is not Amazon's.
        let path_style = !url.contains("amazonaws.com");
        object.insert("s3_force_path_style".into(), json!(path_style));
        if !self.has(&k("accesskeyid")) && !self.from_env.contains_key(&k("accesskeyid")) {
            // Their defaults: env://S3_ACCESS_KEY_ID and env://S3_SECRET_ACCESS_KEY.
            object.insert("access_key_id".into(), json!("env://S3_ACCESS_KEY_ID"));
            object.insert(
                "secret_access_key".into(),
                json!("env://S3_SECRET_ACCESS_KEY"),
            );
            self.report.note(format!(
                "{at}: their agent read its keys from S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY; \
                 written as env:// references to them (both must be set for ours)"
            ));
        }
        self.s3_credentials(at, &mut object);
        if let Some(region) = self.plain(&k("region")) {
            object.insert("s3_region".into(), json!(region));
            self.report
                .mapped(self.from(&k("region")), "aws_storage.s3_region");
        }
        if self.bool(&k("skipsslverify")) == Some(true) {
            self.report.unmapped(
                k("skipsslverify"),
                "ours always verifies a storage's certificate: add its CA to the system's trust \
                 store",
            );
        }
        if self.has(&k("empty")) {
            self.report
                .mapped(self.from(&k("empty")), "(nothing: the storage is on)");
        }
        self.bucket_root(at, &mut object);
        Some(("aws_storage", object))
    }

    fn metrics(&mut self) {
        if !self.has("metrics.prometheus") {
            if self.has("metrics") {
                self.used.insert("metrics".into());
            }
            return;
        }
        self.used.insert("metrics.prometheus".into());
        let port = self
            .int("metrics.prometheus.port")
            .unwrap_or(DEFAULT_METRICS_PORT);
        self.put(
            "metrics.prometheus.port",
            "metrics_listen",
            json!(format!("0.0.0.0:{port}")),
        );
        self.out.insert("metrics_vrsa_names".into(), json!(true));
        self.report
            .mapped("metrics.prometheus", "metrics_vrsa_names = true");
        if let Some(path) = self.string("metrics.prometheus.path") {
            if path == "/metrics" {
                self.report.mapped(
                    self.from("metrics.prometheus.path"),
                    "(the default: /metrics)",
                );
            } else {
                self.report.unmapped(
                    "metrics.prometheus.path",
                    format!("ours serves the metrics at /metrics only, not {path}"),
                );
            }
        }
        self.report.note(format!(
            "metrics_listen 0.0.0.0:{port}{}: served by `run` only, with their vrsa_* names \
             beside ours (metrics_vrsa_names); vrsa_last_snapshot_success is 1 only when the \
             snapshot was stored in every storage",
            if port == DEFAULT_METRICS_PORT {
                ", their default port 2112"
            } else {
                ""
            }
        ));
    }

    /// Every key of the file that nothing above dealt with.
    fn leftovers(&mut self) {
        let mut leaves = Vec::new();
        collect_leaves(&self.root, String::new(), &mut leaves);
        for leaf in leaves {
            let dealt = self
                .used
                .iter()
                .any(|u| leaf == *u || leaf.starts_with(&format!("{u}.")));
            if !dealt {
                self.report.unmapped(
                    leaf,
                    "not a key of vault-raft-snapshot-agent (it ignored it too)",
                );
            }
        }
    }
}

fn collect_leaves(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                collect_leaves(v, key, out);
            }
        }
        Value::Null => {}
        _ if !at.is_empty() => out.push(at),
        _ => {}
    }
}

/// Converts their parsed, key-lowercased configuration; `base` is the config file's
/// directory (for relative `file://` paths).
#[must_use]
pub fn convert(
    mut root: Value,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Map<String, Value>, Report) {
    let from_env = apply_env(&mut root, env);
    let mut convert = Convert {
        root,
        from_env,
        base,
        env,
        report: Report::default(),
        out: Map::new(),
        used: BTreeSet::new(),
    };
    convert.vault();
    convert.auth();
    convert.snapshots();
    convert.metrics();
    convert.leftovers();
    (convert.out, convert.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str, env: &[(&str, &str)]) -> (Value, Report) {
        let root = super::super::source::parse(yaml, super::super::Format::Yaml).unwrap();
        let lookup = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        };
        let (out, report) = convert(root, Path::new("/etc/vrsa"), &lookup);
        (Value::Object(out), report)
    }

    /// Their YAML added to BASE's, the environment, a JSON pointer into ours, its value.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, Value);

    const BASE: &str = "vault:\n  nodes:\n    urls: [\"https://vault:8200\"]\n  auth:\n    approle:\n      role: env://ROLE\n      secret: file://secret\nsnapshots:\n  storages:\n    local:\n      path: /snaps\n";

    /// Each of their keys, alone beside a minimal config, and what it becomes: (their YAML
    /// added to BASE's, environment, JSON pointer in ours, expected value).
    #[test]
    fn each_key_maps_to_ours() {
        let cases: &[Case] = &[
            ("", &[], "/addr", json!("https://vault:8200")),
            ("", &[], "/leader_check", json!("none")),
            ("", &[], "/vault_auth_method", json!("approle")),
            ("", &[], "/role_id", json!("env://ROLE")),
            ("", &[], "/secret_id", json!("file:///etc/vrsa/secret")),
            ("", &[], "/local_storage/path", json!("/snaps")),
            (
                "",
                &[],
                "/other_snapshot_names/0",
                json!({"name_prefix": "raft-snapshot-", "go_time_layout": "2006-01-02T15-04-05Z-0700", "name_suffix": ".snap", "time_zone": "UTC"}),
            ),
            (
                "vault:\n  insecure: true\n",
                &[],
                "/tls_skip_verify",
                json!(true),
            ),
            ("vault:\n  timeout: 10m\n", &[], "/timeout", json!("10m")),
            (
                "snapshots:\n  frequency: 4h\n",
                &[],
                "/frequency",
                json!("4h"),
            ),
            ("snapshots:\n  retain: 10\n", &[], "/retain", json!(10)),
            (
                "snapshots:\n  namePrefix: x-\n",
                &[],
                "/other_snapshot_names/0/name_prefix",
                json!("x-"),
            ),
            (
                "snapshots:\n  nameSuffix: .bak\n",
                &[],
                "/other_snapshot_names/0/name_suffix",
                json!(".bak"),
            ),
            (
                "snapshots:\n  timestampFormat: \"2006-01-02\"\n",
                &[],
                "/other_snapshot_names/0/go_time_layout",
                json!("2006-01-02"),
            ),
            (
                "snapshots:\n  storages:\n    local:\n      retain: 3\n",
                &[],
                "/local_storage/retain",
                json!(3),
            ),
            (
                "snapshots:\n  storages:\n    local:\n      namePrefix: loc-\n",
                &[],
                "/other_snapshot_names/1/name_prefix",
                json!("loc-"),
            ),
            (
                "snapshots:\n  storages:\n    gcp:\n      bucket: g\n",
                &[],
                "/google_storage/bucket",
                json!("g"),
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n",
                &[],
                "/aws_storage/s3_bucket",
                json!("b"),
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n",
                &[],
                "/aws_storage/s3_key_prefix",
                json!("/"),
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n      keyPrefix: k\n",
                &[],
                "/aws_storage/s3_key_prefix",
                json!("k"),
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n      region: eu-west-1\n",
                &[],
                "/aws_storage/s3_region",
                json!("eu-west-1"),
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n      region: env://R\n",
                &[("R", "eu-north-1")],
                "/aws_storage/s3_region",
                json!("eu-north-1"),
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n      endpoint: http://minio:9000\n",
                &[],
                "/aws_storage/s3_endpoint",
                json!("http://minio:9000"),
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n      accessKeyId: file:///k/id\n",
                &[],
                "/aws_storage/access_key_id",
                json!("file:///k/id"),
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n      accessKey: env://SK\n",
                &[],
                "/aws_storage/secret_access_key",
                json!("env://SK"),
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n      useServerSideEncryption: true\n",
                &[],
                "/aws_storage/s3_server_side_encryption",
                json!(true),
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n      forcePathStyle: \"true\"\n",
                &[],
                "/aws_storage/s3_force_path_style",
                json!(true),
            ),
            (
                "snapshots:\n  storages:\n    s3:\n      bucket: b\n      endpoint: minio:9000\n",
                &[],
                "/aws_storage/s3_endpoint",
                json!("https://minio:9000"),
            ),
            (
                "snapshots:\n  storages:\n    s3:\n      bucket: b\n      endpoint: minio:9000\n      insecure: true\n",
                &[],
                "/aws_storage/s3_endpoint",
                json!("http://minio:9000"),
            ),
            (
                "snapshots:\n  storages:\n    s3:\n      bucket: b\n      endpoint: minio:9000\n",
                &[],
                "/aws_storage/access_key_id",
                json!("env://S3_ACCESS_KEY_ID"),
            ),
            (
                "snapshots:\n  storages:\n    s3:\n      bucket: b\n      endpoint: minio:9000\n",
                &[],
                "/aws_storage/s3_force_path_style",
                json!(true),
            ),
            (
                "snapshots:\n  storages:\n    s3:\n      bucket: b\n      endpoint: minio:9000\n",
                &[],
                "/aws_storage/s3_key_prefix",
                json!("/"),
            ),
            (
                "snapshots:\n  storages:\n    azure:\n      container: c\n",
                &[],
                "/azure_storage/container_name",
                json!("c"),
            ),
            (
                "snapshots:\n  storages:\n    azure:\n      container: c\n      accountName: a\n",
                &[],
                "/azure_storage/account_name",
                json!("a"),
            ),
            (
                "snapshots:\n  storages:\n    azure:\n      container: c\n      accountKey: file://key\n",
                &[],
                "/azure_storage/account_key",
                json!("file:///etc/vrsa/key"),
            ),
            (
                "snapshots:\n  storages:\n    azure:\n      container: c\n      accountName: a\n      cloudDomain: blob.core.chinacloudapi.cn\n",
                &[],
                "/azure_storage/endpoint",
                json!("https://a.blob.core.chinacloudapi.cn"),
            ),
            (
                "metrics:\n  prometheus: {}\n",
                &[],
                "/metrics_listen",
                json!("0.0.0.0:2112"),
            ),
            (
                "metrics:\n  prometheus: {}\n",
                &[],
                "/metrics_vrsa_names",
                json!(true),
            ),
            (
                "metrics:\n  prometheus:\n    port: 9000\n",
                &[],
                "/metrics_listen",
                json!("0.0.0.0:9000"),
            ),
            // VRSA_* overrides: a key in the file, and a key of an always-bound struct.
            (
                "",
                &[("VRSA_SNAPSHOTS_STORAGES_LOCAL_PATH", "/other")],
                "/local_storage/path",
                json!("/other"),
            ),
            ("", &[("VRSA_SNAPSHOTS_RETAIN", "7")], "/retain", json!(7)),
            (
                "",
                &[("VRSA_VAULT_NODES_URLS", "https://a:8200,https://b:8200")],
                "/addr",
                json!(["https://a:8200", "https://b:8200"]),
            ),
            (
                "",
                &[("VRSA_VAULT_AUTH_APPROLE_SECRET", "s3cr3t")],
                "/secret_id",
                json!("env://VRSA_VAULT_AUTH_APPROLE_SECRET"),
            ),
        ];
        for (extra, env, pointer, expected) in cases {
            let yaml = merge(BASE, extra);
            let (out, _) = run(&yaml, env);
            assert_eq!(
                out.pointer(pointer),
                Some(expected),
                "{extra:?} {env:?} {pointer}\n{out:#}"
            );
        }
    }

    /// Their YAML with `extra` merged in (both parsed; extra's keys win).
    fn merge(base: &str, extra: &str) -> String {
        fn deep(a: &mut Value, b: Value) {
            match (a, b) {
                (Value::Object(a), Value::Object(b)) => {
                    for (k, v) in b {
                        deep(a.entry(k).or_insert(Value::Null), v);
                    }
                }
                (a, b) => *a = b,
            }
        }
        let mut value: Value = serde_norway::from_str(base).unwrap();
        if !extra.is_empty() {
            deep(&mut value, serde_norway::from_str(extra).unwrap());
        }
        serde_json::to_string(&value).unwrap()
    }

    #[test]
    fn each_login_method_maps_to_ours() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                "kubernetes:\n  role: r\n  path: k\n  jwtToken: file://./jwt\n",
                &[
                    ("/vault_auth_method", "k8s"),
                    ("/k8s_auth_role", "r"),
                    ("/k8s_auth_path", "k"),
                    ("/k8s_token_path", "/etc/vrsa/./jwt"),
                ],
            ),
            (
                "userpass:\n  username: u\n  password: env://P\n  path: up\n",
                &[
                    ("/vault_auth_method", "userpass"),
                    ("/userpass_username", "u"),
                    ("/userpass_password", "env://P"),
                    ("/userpass_auth_path", "up"),
                ],
            ),
            (
                "ldap:\n  username: u\n  password: file:///p\n",
                &[
                    ("/vault_auth_method", "ldap"),
                    ("/ldap_username", "u"),
                    ("/ldap_password", "file:///p"),
                ],
            ),
            (
                "aws:\n  role: r\n  region: eu-west-1\n  iamServerIdHeader: vault.example.com\n  path: a\n",
                &[
                    ("/vault_auth_method", "aws"),
                    ("/aws_auth_role", "r"),
                    ("/aws_auth_region", "eu-west-1"),
                    ("/aws_auth_header_value", "vault.example.com"),
                    ("/aws_auth_path", "a"),
                ],
            ),
            (
                "gcp:\n  role: r\n  path: g\n",
                &[
                    ("/vault_auth_method", "gcp"),
                    ("/gcp_auth_role", "r"),
                    ("/gcp_auth_path", "g"),
                ],
            ),
            (
                "azure:\n  role: r\n  resource: https://x/\n  path: z\n",
                &[
                    ("/vault_auth_method", "azure"),
                    ("/azure_auth_role", "r"),
                    ("/azure_auth_resource", "https://x/"),
                    ("/azure_auth_path", "z"),
                ],
            ),
            (
                "token: file://token\n",
                &[("/token_path", "/etc/vrsa/token")],
            ),
            (
                "token: env://VAULT_TOKEN\n",
                &[("/vault_auth_method", "token")],
            ),
        ];
        for (auth, expected) in cases {
            let indented: String = auth.lines().map(|l| format!("    {l}\n")).collect();
            let yaml = format!(
                "vault:\n  nodes:\n    urls: [\"https://v:8200\"]\n  auth:\n{indented}snapshots:\n  storages:\n    local:\n      path: /s\n"
            );
            let (out, report) = run(&yaml, &[]);
            for (pointer, value) in *expected {
                assert_eq!(
                    out.pointer(pointer),
                    Some(&json!(value)),
                    "{auth}: {pointer}\n{out:#}"
                );
            }
            assert!(report.unmapped.is_empty(), "{auth}: {:?}", report.unmapped);
        }
    }

    #[test]
    fn what_ours_cannot_do_is_reported_with_the_reason() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "snapshots:\n  storages:\n    swift:\n      container: c\n",
                "snapshots.storages.swift",
                "Swift",
            ),
            (
                "snapshots:\n  storages:\n    s3:\n      bucket: b\n      endpoint: e\n      skipSSLVerify: true\n",
                "snapshots.storages.s3.skipsslverify",
                "verifies",
            ),
            (
                "snapshots:\n  storages:\n    aws:\n      bucket: b\n      sessionToken: t\n",
                "snapshots.storages.aws.sessiontoken",
                "session token",
            ),
            (
                "vault:\n  auth:\n    approle: null\n    token: hvs.literal\n",
                "vault.auth.token",
                "not copied",
            ),
            (
                "metrics:\n  prometheus:\n    path: /m\n",
                "metrics.prometheus.path",
                "/metrics only",
            ),
            (
                "snapshots:\n  frequncy: 1h\n",
                "snapshots.frequncy",
                "not a key",
            ),
            (
                "snapshots:\n  frequency: soon\n",
                "snapshots.frequency",
                "soon",
            ),
        ];
        for (extra, key, reason) in cases {
            let (out, report) = run(&merge(BASE, extra), &[]);
            let found = report.unmapped.iter().find(|(k, _)| k == key);
            assert!(
                found.is_some_and(|(_, r)| r.contains(reason)),
                "{extra}: {:?}",
                report.unmapped
            );
            let gaps = out[crate::migrate::GAPS_KEY].to_string();
            assert!(!gaps.contains("hvs.literal"), "{gaps}");
        }
        let (_, report) = run(BASE, &[]);
        assert!(report.unmapped.is_empty(), "{:?}", report.unmapped);
    }

    #[test]
    fn changes_of_meaning_are_noted() {
        let yaml = merge(
            BASE,
            "snapshots:\n  retain: 2\n  storages:\n    local:\n      frequency: 5m\n    aws:\n      bucket: b\nmetrics:\n  prometheus: {}\n",
        );
        let (_, report) = run(&yaml, &[]);
        let notes = report.notes.join("\n");
        for needle in [
            "vault.timeout (default 60s)",
            "idle_timeout",
            "last-modified",
            "snapshots.storages.local.frequency is not mapped: it does nothing",
            "bucket root",
            "their default port 2112",
        ] {
            assert!(notes.contains(needle), "{needle}:\n{notes}");
        }
    }

    #[test]
    fn a_literal_secret_is_copied_and_said_so_a_reference_is_not() {
        let (_, report) = run(BASE, &[]);
        assert!(report.copied_secrets.is_empty());
        let yaml = BASE.replace("env://ROLE", "plain-role");
        let (out, report) = run(&yaml, &[]);
        assert_eq!(out["role_id"], json!("plain-role"));
        assert_eq!(report.copied_secrets, ["role_id"]);
    }
}
