//! Every example config in `contrib/` loads. Paths in them point at a production host
//! (`/var/backups/vault`, token sinks), so they are redirected to temporary files first.

use std::fs;
use std::path::Path;

use serde_json::Value;
use vault_raft_snapshot::config::Config;

/// Replaces the example's host paths with existing temporary ones.
fn localise(value: &mut Value, dir: &Path) {
    if let Value::Object(map) = value {
        for (key, value) in map.iter_mut() {
            match (key.as_str(), &*value) {
                ("path" | "temp_dir", Value::String(original)) => {
                    // One local directory per directory named: two storages never share one.
                    let target = dir.join(key).join(original.trim_start_matches('/'));
                    fs::create_dir_all(&target).unwrap();
                    *value = Value::String(target.display().to_string());
                }
                ("credentials_file", Value::String(_)) => {
                    let target = dir.join(key);
                    let pem = fs::read_to_string(
                        Path::new(env!("CARGO_MANIFEST_DIR"))
                            .join("tests/fixtures/gcs-test-key.pem"),
                    )
                    .unwrap();
                    let file = serde_json::json!({"type": "service_account",
                        "client_email": "example@example.iam.gserviceaccount.com", "private_key": pem});
                    fs::write(&target, file.to_string()).unwrap();
                    *value = Value::String(target.display().to_string());
                }
                ("token_path" | "k8s_token_path", Value::String(_)) => {
                    let target = dir.join(key);
                    fs::write(&target, "example-token").unwrap();
                    *value = Value::String(target.display().to_string());
                }
                _ => localise(value, dir),
            }
        }
    }
}

#[test]
fn every_example_config_in_contrib_loads() {
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib");
    let mut checked = 0;
    for entry in fs::read_dir(&contrib).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut value: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        localise(&mut value, dir.path());
        if let Value::Object(map) = &mut value {
            for list in map.values_mut().filter_map(Value::as_array_mut) {
                for item in list {
                    localise(item, dir.path());
                }
            }
        }
        let copy = dir.path().join(path.file_name().unwrap());
        fs::write(&copy, value.to_string()).unwrap();
        Config::load(&copy, &|_| None)
            .and_then(|c| vault_raft_snapshot::config::probe::all(&c, &|_| None).map(|()| c))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected at least three example configs, found {checked}"
    );
}
