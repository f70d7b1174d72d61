//! A Vault Enterprise automated-snapshot configuration: the JSON of
//! `vault read -format=json sys/storage/raft/snapshot-auto/config/NAME` (with or without its
//! `data` wrapper), keys as Vault's API documents them (`/sys/storage/raft/snapshot-auto`):
//! `interval`, `retain`, `path_prefix`, `file_prefix`, `storage_type` and each type's own.

use serde_json::{Map, Value, json};

use super::report::Report;

/// Vault's default `file_prefix`.
pub const DEFAULT_FILE_PREFIX: &str = "vault-snapshot";

/// The keys of `vault read`'s envelope around `data`.
const ENVELOPE: &[&str] = &[
    "request_id",
    "lease_id",
    "lease_duration",
    "renewable",
    "warnings",
    "wrap_info",
    "auth",
    "mount_type",
    "data",
];

/// The keys of each storage type.
const TYPE_KEYS: &[(&str, &[&str])] = &[
    ("local", &["local_max_space"]),
    (
        "aws-s3",
        &[
            "aws_s3_bucket",
            "aws_s3_region",
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "aws_s3_endpoint",
            "aws_s3_disable_tls",
            "aws_s3_force_path_style",
            "aws_s3_enable_kms",
            "aws_s3_server_side_encryption",
            "aws_s3_kms_key",
        ],
    ),
    (
        "google-gcs",
        &[
            "google_gcs_bucket",
            "google_service_account_key",
            "google_endpoint",
            "google_disable_tls",
        ],
    ),
    (
        "azure-blob",
        &[
            "azure_container_name",
            "azure_account_name",
            "azure_account_key",
            "azure_blob_environment",
            "azure_endpoint",
        ],
    ),
];

/// True for a value `vault read` shows for a key that is not set.
fn unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

struct Convert {
    data: Map<String, Value>,
    report: Report,
    out: Map<String, Value>,
}

impl Convert {
    fn take(&mut self, key: &str) -> Option<Value> {
        self.data.remove(key).filter(|v| !unset(v))
    }

    fn string(&mut self, key: &str) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }

    fn bool(&mut self, key: &str) -> bool {
        match self.take(key) {
            Some(Value::Bool(b)) => b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        }
    }

    fn common(&mut self) {
        match self.take("interval") {
            Some(Value::Number(n)) if n.as_u64().is_some() => {
                self.out.insert(
                    "frequency".into(),
                    json!(format!("{}s", n.as_u64().unwrap_or(0))),
                );
                self.report.mapped("interval", "frequency");
            }
            Some(Value::String(s)) if crate::duration::parse(&s).is_ok() => {
                self.out.insert("frequency".into(), json!(s));
                self.report.mapped("interval", "frequency");
            }
            Some(Value::String(s)) if s.parse::<u64>().is_ok() => {
                self.out.insert("frequency".into(), json!(format!("{s}s")));
                self.report.mapped("interval", "frequency");
            }
            Some(other) => self
                .report
                .unmapped("interval", format!("not seconds or a Go duration: {other}")),
            None => self
                .report
                .unmapped("interval", "not set (Vault requires it)"),
        }
        let retain = match self.data.remove("retain") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            Some(_) => None,
            None => Some(1),
        };
        match retain {
            Some(retain) => {
                self.out.insert("retain".into(), json!(retain));
                self.report.mapped("retain", "retain");
                self.report.note(
                    "retain: Vault kept the newest N by the time in the name, counting only its \
                     file_prefix; ours keeps the newest N by the time in the name, Vault's names \
                     and ours counted together (Vault's default, when unset, is 1)",
                );
            }
            None => self.report.unmapped("retain", "not a whole number"),
        }
        let prefix = self
            .string("file_prefix")
            .unwrap_or_else(|| DEFAULT_FILE_PREFIX.to_string());
        self.out.insert(
            "other_snapshot_names".into(),
            json!([{"vault_file_prefix": prefix}]),
        );
        self.report
            .mapped("file_prefix", "other_snapshot_names[].vault_file_prefix");
        self.report.note(
            "other_snapshot_names lists Vault's snapshot names (<file_prefix>-<unix ns>.snap), so \
             list, fetch, restore and inspect see them and retention ages them out; ours are \
             written as raft_snapshot-<unix ns>.snap",
        );
        self.report.note(
            "Vault took its snapshots itself; the agent needs addr and a login (approle by \
             default: role_id, secret_id; or vault_auth_method) added to this file, and runs \
             beside every node (leader_check auto) or once per cluster (leader_check none)",
        );
    }

    fn storage(&mut self, kind: &str) -> bool {
        let prefix = self.string("path_prefix");
        match kind {
            "local" => {
                let Some(path) = prefix else {
                    self.report
                        .unmapped("path_prefix", "not set (Vault requires it)");
                    return false;
                };
                self.out.insert(
                    "local_storage".into(),
                    json!({"path": path.trim_end_matches('/')}),
                );
                self.report.mapped("path_prefix", "local_storage.path");
                if let Some(space) = self.take("local_max_space") {
                    self.report.unmapped(
                        "local_max_space",
                        format!(
                            "ours has no space allowance ({space} bytes): retention alone bounds \
                             the directory"
                        ),
                    );
                }
                true
            }
            "aws-s3" => self.s3(prefix),
            "google-gcs" => {
                let Some(bucket) = self.string("google_gcs_bucket") else {
                    self.report
                        .unmapped("google_gcs_bucket", "not set (Vault requires it)");
                    return false;
                };
                let mut object = Map::new();
                object.insert("bucket".into(), json!(bucket));
                self.report
                    .mapped("google_gcs_bucket", "google_storage.bucket");
                self.prefix(prefix, "google_storage", &mut object);
                if let Some(endpoint) = self.string("google_endpoint") {
                    let tls = !self.bool("google_disable_tls");
                    object.insert("endpoint".into(), json!(with_scheme(&endpoint, tls)));
                    self.report
                        .mapped("google_endpoint", "google_storage.endpoint");
                }
                if self.take("google_service_account_key").is_some() {
                    self.report.unmapped(
                        "google_service_account_key",
                        "ours reads the key from a file: write it to one and set \
                         google_storage.credentials_file (the value is not copied)",
                    );
                }
                self.out
                    .insert("google_storage".into(), Value::Object(object));
                true
            }
            _ => self.azure(prefix),
        }
    }

    fn prefix(&mut self, prefix: Option<String>, section: &str, object: &mut Map<String, Value>) {
        if let Some(prefix) = prefix {
            let trimmed = prefix.trim_matches('/');
            if !trimmed.is_empty() {
                object.insert("prefix".into(), json!(trimmed));
                self.report
                    .mapped("path_prefix", format!("{section}.prefix"));
            }
        }
    }

    fn s3(&mut self, prefix: Option<String>) -> bool {
        let Some(bucket) = self.string("aws_s3_bucket") else {
            self.report
                .unmapped("aws_s3_bucket", "not set (Vault requires it)");
            return false;
        };
        let mut object = Map::new();
        object.insert("s3_bucket".into(), json!(bucket));
        self.report.mapped("aws_s3_bucket", "aws_storage.s3_bucket");
        let key_prefix = prefix
            .as_deref()
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        object.insert("s3_key_prefix".into(), json!(key_prefix));
        self.report
            .mapped("path_prefix", "aws_storage.s3_key_prefix");
        if key_prefix == "/" {
            self.report.note(
                "aws_storage.s3_key_prefix \"/\": Vault wrote at the bucket root (no \
                 path_prefix); unset, ours would use raft_snapshots/",
            );
        }
        if let Some(region) = self.string("aws_s3_region") {
            object.insert("s3_region".into(), json!(region));
            self.report.mapped("aws_s3_region", "aws_storage.s3_region");
        }
        if let Some(endpoint) = self.string("aws_s3_endpoint") {
            let tls = !self.bool("aws_s3_disable_tls");
            object.insert("s3_endpoint".into(), json!(with_scheme(&endpoint, tls)));
            self.report
                .mapped("aws_s3_endpoint", "aws_storage.s3_endpoint");
        }
        if self.bool("aws_s3_force_path_style") {
            object.insert("s3_force_path_style".into(), json!(true));
            self.report
                .mapped("aws_s3_force_path_style", "aws_storage.s3_force_path_style");
        }
        if self.bool("aws_s3_server_side_encryption") {
            object.insert("s3_server_side_encryption".into(), json!(true));
            self.report.mapped(
                "aws_s3_server_side_encryption",
                "aws_storage.s3_server_side_encryption",
            );
        }
        let kms = self.bool("aws_s3_enable_kms");
        match (kms, self.string("aws_s3_kms_key")) {
            (_, Some(key)) => {
                object.insert("s3_kms_key_id".into(), json!(key));
                self.report
                    .mapped("aws_s3_kms_key", "aws_storage.s3_kms_key_id");
            }
            (true, None) => self.report.unmapped(
                "aws_s3_enable_kms",
                "KMS with the bucket's default key: ours needs the key id (s3_kms_key_id)",
            ),
            (false, None) => {}
        }
        for (theirs, ours) in [
            ("aws_access_key_id", "access_key_id"),
            ("aws_secret_access_key", "secret_access_key"),
        ] {
            if let Some(value) = self.string(theirs) {
                object.insert(ours.into(), json!(value));
                self.report.mapped(theirs, format!("aws_storage.{ours}"));
                self.report
                    .copied_secrets
                    .push(format!("aws_storage.{ours}"));
            }
        }
        if self.take("aws_session_token").is_some() {
            self.report.unmapped(
                "aws_session_token",
                "ours takes no session token with static keys; use the AWS credential chain \
                 (AWS_SESSION_TOKEN, a profile, web identity) instead (the value is not copied)",
            );
        }
        self.out.insert("aws_storage".into(), Value::Object(object));
        true
    }

    fn azure(&mut self, prefix: Option<String>) -> bool {
        let Some(container) = self.string("azure_container_name") else {
            self.report
                .unmapped("azure_container_name", "not set (Vault requires it)");
            return false;
        };
        let mut object = Map::new();
        object.insert("container_name".into(), json!(container));
        self.report
            .mapped("azure_container_name", "azure_storage.container_name");
        self.prefix(prefix, "azure_storage", &mut object);
        if let Some(account) = self.string("azure_account_name") {
            object.insert("account_name".into(), json!(account));
            self.report
                .mapped("azure_account_name", "azure_storage.account_name");
        }
        if let Some(key) = self.string("azure_account_key") {
            object.insert("account_key".into(), json!(key));
            self.report
                .mapped("azure_account_key", "azure_storage.account_key");
            self.report
                .copied_secrets
                .push("azure_storage.account_key".into());
        }
        if let Some(endpoint) = self.string("azure_endpoint") {
            object.insert("endpoint".into(), json!(with_scheme(&endpoint, true)));
            self.report
                .mapped("azure_endpoint", "azure_storage.endpoint");
        }
        if let Some(environment) = self.string("azure_blob_environment") {
            if environment.eq_ignore_ascii_case("AzurePublicCloud") {
                self.report
                    .mapped("azure_blob_environment", "(the default endpoint)");
            } else {
                self.report.unmapped(
                    "azure_blob_environment",
                    format!(
                        "{environment}: ours takes the blob endpoint itself \
                         (azure_storage.endpoint, e.g. https://<account>.blob.core.chinacloudapi.cn)"
                    ),
                );
            }
        }
        self.out
            .insert("azure_storage".into(), Value::Object(object));
        true
    }
}

/// `endpoint` with `https://` (or `http://` without TLS) when it names no scheme.
fn with_scheme(endpoint: &str, tls: bool) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("{}://{endpoint}", if tls { "https" } else { "http" })
    }
}

/// Converts the parsed JSON (with or without `vault read`'s `data` wrapper).
#[must_use]
pub fn convert(value: &Value) -> (Map<String, Value>, Report) {
    let object = value.as_object().cloned().unwrap_or_default();
    let data = match object.get("data") {
        Some(Value::Object(data)) if data.contains_key("storage_type") => data.clone(),
        _ => object,
    };
    let mut convert = Convert {
        data,
        report: Report::default(),
        out: Map::new(),
    };
    for key in ENVELOPE {
        convert.data.remove(*key);
    }
    convert.data.remove("name");
    convert.common();
    let kind = convert.string("storage_type").unwrap_or_default();
    let known = TYPE_KEYS.iter().find(|(t, _)| *t == kind);
    match known {
        Some((kind, _)) => {
            convert
                .report
                .mapped("storage_type", format!("{kind} storage"));
            convert.storage(kind);
        }
        None => convert.report.unmapped(
            "storage_type",
            format!("{kind:?} is not local, aws-s3, google-gcs or azure-blob"),
        ),
    }
    // Keys of the other storage types, as `vault read` shows them unset, are nothing to map.
    let leftovers: Vec<(String, Value)> = std::mem::take(&mut convert.data).into_iter().collect();
    for (key, value) in leftovers {
        let other_type = TYPE_KEYS
            .iter()
            .any(|(t, keys)| *t != kind && keys.contains(&key.as_str()));
        if unset(&value) {
            continue;
        }
        let reason = if other_type {
            format!("a key of another storage_type than {kind}")
        } else {
            "not a key ours has".to_string()
        };
        convert.report.unmapped(key, reason);
    }
    (convert.out, convert.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(value: &Value) -> (Value, Report) {
        let (out, report) = convert(value);
        (Value::Object(out), report)
    }

    /// Each key of Vault's API, and what it becomes in ours.
    #[test]
    fn each_key_maps_to_ours() {
        let local = json!({"interval": 86400, "retain": 7, "path_prefix": "/opt/vault/snapshots/", "storage_type": "local", "local_max_space": 0});
        let cases: &[(Value, &str, Value)] = &[
            (local.clone(), "/frequency", json!("86400s")),
            (
                json!({"interval": "24h", "storage_type": "local", "path_prefix": "/s"}),
                "/frequency",
                json!("24h"),
            ),
            (local.clone(), "/retain", json!(7)),
            (
                json!({"interval": 60, "storage_type": "local", "path_prefix": "/s"}),
                "/retain",
                json!(1),
            ),
            (
                local.clone(),
                "/local_storage/path",
                json!("/opt/vault/snapshots"),
            ),
            (
                local.clone(),
                "/other_snapshot_names/0/vault_file_prefix",
                json!("vault-snapshot"),
            ),
            (
                json!({"interval": 60, "storage_type": "local", "path_prefix": "/s", "file_prefix": "prod"}),
                "/other_snapshot_names/0/vault_file_prefix",
                json!("prod"),
            ),
            (
                json!({"data": local.clone()}),
                "/local_storage/path",
                json!("/opt/vault/snapshots"),
            ),
        ];
        let s3 = json!({"interval": 3600, "storage_type": "aws-s3", "path_prefix": "vault/", "aws_s3_bucket": "b", "aws_s3_region": "eu-west-1", "aws_s3_endpoint": "minio:9000", "aws_s3_disable_tls": true, "aws_s3_force_path_style": true, "aws_s3_server_side_encryption": true, "aws_s3_kms_key": "arn:k", "aws_access_key_id": "AKIA", "aws_secret_access_key": "SK"});
        let s3_cases: &[(&str, Value)] = &[
            ("/aws_storage/s3_bucket", json!("b")),
            ("/aws_storage/s3_key_prefix", json!("vault")),
            ("/aws_storage/s3_region", json!("eu-west-1")),
            ("/aws_storage/s3_endpoint", json!("http://minio:9000")),
            ("/aws_storage/s3_force_path_style", json!(true)),
            ("/aws_storage/s3_server_side_encryption", json!(true)),
            ("/aws_storage/s3_kms_key_id", json!("arn:k")),
            ("/aws_storage/access_key_id", json!("AKIA")),
            ("/aws_storage/secret_access_key", json!("SK")),
        ];
        let gcs = json!({"interval": 3600, "storage_type": "google-gcs", "path_prefix": "snaps/", "google_gcs_bucket": "g", "google_endpoint": "fake-gcs:4443", "google_disable_tls": true});
        let azure = json!({"interval": 3600, "storage_type": "azure-blob", "path_prefix": "snaps/", "azure_container_name": "c", "azure_account_name": "a", "azure_account_key": "k", "azure_endpoint": "http://azurite:10000/a"});
        let mut all: Vec<(Value, &str, Value)> = cases.to_vec();
        all.extend(s3_cases.iter().map(|(p, v)| (s3.clone(), *p, v.clone())));
        all.extend([
            (gcs.clone(), "/google_storage/bucket", json!("g")),
            (gcs.clone(), "/google_storage/prefix", json!("snaps")),
            (
                gcs.clone(),
                "/google_storage/endpoint",
                json!("http://fake-gcs:4443"),
            ),
            (azure.clone(), "/azure_storage/container_name", json!("c")),
            (azure.clone(), "/azure_storage/prefix", json!("snaps")),
            (azure.clone(), "/azure_storage/account_name", json!("a")),
            (azure.clone(), "/azure_storage/account_key", json!("k")),
            (
                azure.clone(),
                "/azure_storage/endpoint",
                json!("http://azurite:10000/a"),
            ),
            (
                json!({"interval": 60, "storage_type": "aws-s3", "aws_s3_bucket": "b"}),
                "/aws_storage/s3_key_prefix",
                json!("/"),
            ),
        ]);
        for (input, pointer, expected) in all {
            let (out, _) = run(&input);
            assert_eq!(
                out.pointer(pointer),
                Some(&expected),
                "{input} {pointer}\n{out:#}"
            );
        }
        let (_, report) = run(&s3);
        assert!(report.unmapped.is_empty(), "{:?}", report.unmapped);
        assert_eq!(
            report.copied_secrets,
            ["aws_storage.access_key_id", "aws_storage.secret_access_key"]
        );
    }

    #[test]
    fn what_ours_cannot_do_is_reported_with_the_reason() {
        let cases: &[(Value, &str, &str)] = &[
            (
                json!({"interval": 60, "storage_type": "local", "path_prefix": "/s", "local_max_space": 1000}),
                "local_max_space",
                "no space allowance",
            ),
            (
                json!({"interval": 60, "storage_type": "aws-s3", "aws_s3_bucket": "b", "aws_s3_enable_kms": true}),
                "aws_s3_enable_kms",
                "s3_kms_key_id",
            ),
            (
                json!({"interval": 60, "storage_type": "aws-s3", "aws_s3_bucket": "b", "aws_session_token": "t"}),
                "aws_session_token",
                "session token",
            ),
            (
                json!({"interval": 60, "storage_type": "google-gcs", "google_gcs_bucket": "b", "google_service_account_key": "{}"}),
                "google_service_account_key",
                "credentials_file",
            ),
            (
                json!({"interval": 60, "storage_type": "azure-blob", "azure_container_name": "c", "azure_blob_environment": "AzureChinaCloud"}),
                "azure_blob_environment",
                "endpoint",
            ),
            (
                json!({"interval": 60, "storage_type": "swift"}),
                "storage_type",
                "not local",
            ),
            (
                json!({"interval": 60, "storage_type": "local", "path_prefix": "/s", "autoload_enabled": true}),
                "autoload_enabled",
                "not a key",
            ),
            (
                json!({"storage_type": "local", "path_prefix": "/s"}),
                "interval",
                "not set",
            ),
        ];
        for (input, key, reason) in cases {
            let (out, report) = run(input);
            let found = report.unmapped.iter().find(|(k, _)| k == key);
            assert!(
                found.is_some_and(|(_, r)| r.contains(reason)),
                "{input}: {:?}",
                report.unmapped
            );
            assert!(
                !out.to_string().contains("\"t\""),
                "a session token is never copied"
            );
        }
        // Keys of other storage types, shown unset by `vault read`, are nothing to report.
        let (_, report) = run(
            &json!({"interval": 60, "storage_type": "aws-s3", "aws_s3_bucket": "b", "google_gcs_bucket": "", "azure_container_name": "", "local_max_space": 0}),
        );
        assert!(report.unmapped.is_empty(), "{:?}", report.unmapped);
    }
}
