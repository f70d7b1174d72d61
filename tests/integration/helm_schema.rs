//! The chart's values schema refuses unknown `config` keys (`additionalProperties: false`),
//! so every key the agent takes must be in it, or Helm users cannot set it.

use serde_json::Value;
use vault_raft_snapshot::config::KEYS;

const SCHEMA: &str = "contrib/helm/vault-raft-snapshot/values.schema.json";

/// The properties a storage entry takes, from each of its `oneOf` forms (one object, a list).
fn storage_properties(storage: &Value) -> Vec<&serde_json::Map<String, Value>> {
    storage["oneOf"]
        .as_array()
        .expect("a storage is one object or a list")
        .iter()
        .map(|form| {
            form.get("properties")
                .or_else(|| form["items"].get("properties"))
                .and_then(Value::as_object)
                .expect("properties")
        })
        .collect()
}

#[test]
fn the_charts_schema_takes_every_config_key_the_agent_takes() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/contrib/helm/vault-raft-snapshot/values.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let config = schema["properties"]["config"]["properties"]
        .as_object()
        .unwrap();
    let storages = [
        "local_storage",
        "aws_storage",
        "google_storage",
        "azure_storage",
    ];
    let mut missing = Vec::new();
    for doc in KEYS {
        for key in doc.key.split(", ") {
            match key.split_once('.') {
                None => {
                    if !config.contains_key(key) {
                        missing.push(key.to_string());
                    }
                }
                // An object that is not a storage (`drill`): its own properties.
                Some((object, name)) if !object.ends_with("storage") && object != "<storage>" => {
                    if config[object]["properties"].get(name).is_none() {
                        missing.push(key.to_string());
                    }
                }
                Some((storage, name)) => {
                    let kinds: Vec<&str> = if storage == "<storage>" {
                        storages.to_vec()
                    } else {
                        vec![storage]
                    };
                    for kind in kinds {
                        for props in storage_properties(&config[kind]) {
                            if !props.contains_key(name) {
                                missing.push(format!("{kind}.{name}"));
                            }
                        }
                    }
                }
            }
        }
    }
    missing.dedup();
    assert!(
        missing.is_empty(),
        "{SCHEMA} lacks the config keys {missing:?}: Helm users could not set them"
    );
}
