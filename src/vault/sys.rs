//! Typed `sys/` endpoints beyond the leader check ([`super::leader::fetch`]): the seal status
//! and the token's capabilities, as `check --connect` asks them.

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::api::Endpoint;
use super::client::VaultClient;
use crate::secret::Secret;

const SEAL_STATUS: Endpoint<'static> = Endpoint::get("sys/seal-status", "a seal status");
const CAPABILITIES_SELF: Endpoint<'static> =
    Endpoint::put("sys/capabilities-self", "a capabilities answer");

/// The fields of `GET sys/seal-status` the agent reports; all but `sealed` may be absent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SealStatus {
    /// True while Vault is sealed.
    pub sealed: bool,
    /// False before `operator init`.
    #[serde(default)]
    pub initialized: Option<bool>,
    /// Vault's version.
    #[serde(default)]
    pub version: Option<String>,
    /// The storage backend, `raft` for a cluster that has snapshots.
    #[serde(default)]
    pub storage_type: Option<String>,
    /// The cluster's name (absent while sealed).
    #[serde(default)]
    pub cluster_name: Option<String>,
}

/// `GET sys/seal-status` (unauthenticated).
///
/// # Errors
/// When Vault cannot be reached, answers with an error, or the answer is not a seal status.
pub fn seal_status(client: &VaultClient) -> Result<SealStatus> {
    SEAL_STATUS.call(client, None, None)
}

/// `PUT sys/capabilities-self` for one `path`: what `token` may do there (e.g. `["read"]`,
/// `["root"]`, `["deny"]`).
///
/// Vault answers with the path as a key at the top level and inside `data`, plus
/// `capabilities` when one path was asked; any of them will do.
///
/// # Errors
/// When Vault cannot be reached, refuses the token, or the answer lists no capabilities.
pub fn capabilities_self(client: &VaultClient, token: &Secret, path: &str) -> Result<Vec<String>> {
    let answer: Map<String, Value> =
        CAPABILITIES_SELF.call(client, Some(token), Some(&json!({ "paths": [path] })))?;
    pick_capabilities(&answer, path).ok_or_else(|| {
        CAPABILITIES_SELF.unexpected(client, format!("it lists no capabilities for {path}"))
    })
}

/// Whether `capabilities` (from [`capabilities_self`]) let a token restore a snapshot:
/// Vault needs `update` on the restore path (`root` allows everything; `deny` wins).
#[must_use]
pub fn may_restore(capabilities: &[String]) -> bool {
    !capabilities.iter().any(|c| c == "deny")
        && capabilities
            .iter()
            .any(|c| matches!(c.as_str(), "update" | "root"))
}

/// The first of `answer[path]`, `answer["capabilities"]`, `answer["data"][path]` that is a
/// list of strings.
fn pick_capabilities(answer: &Map<String, Value>, path: &str) -> Option<Vec<String>> {
    let in_data = answer
        .get("data")
        .and_then(Value::as_object)
        .and_then(|data| data.get(path));
    [answer.get(path), answer.get("capabilities"), in_data]
        .into_iter()
        .flatten()
        .find_map(|found| serde_json::from_value(found.clone()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "sys/storage/raft/snapshot";

    fn pick(answer: &str) -> Option<Vec<String>> {
        pick_capabilities(&serde_json::from_str(answer).unwrap(), PATH)
    }

    #[test]
    fn finds_capabilities_in_each_shape_vault_uses() {
        let read = Some(vec!["read".to_string()]);
        assert_eq!(pick(r#"{"sys/storage/raft/snapshot":["read"]}"#), read);
        assert_eq!(pick(r#"{"capabilities":["read"]}"#), read);
        assert_eq!(
            pick(r#"{"data":{"sys/storage/raft/snapshot":["read"]}}"#),
            read
        );
        // The path's own entry wins over the single-path summary.
        assert_eq!(
            pick(r#"{"capabilities":["deny"],"sys/storage/raft/snapshot":["root"]}"#),
            Some(vec!["root".to_string()])
        );
    }

    #[test]
    fn an_answer_without_a_list_for_the_path_has_none() {
        assert_eq!(pick(r#"{"data":{"other/path":["read"]}}"#), None);
        assert_eq!(pick(r#"{"capabilities":"read"}"#), None);
        assert_eq!(pick("{}"), None);
    }

    #[test]
    fn restoring_needs_update_or_root() {
        let caps = |list: &[&str]| list.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert!(may_restore(&caps(&["update"])));
        assert!(may_restore(&caps(&["read", "update", "sudo"])));
        assert!(may_restore(&caps(&["root"])));
        assert!(!may_restore(&caps(&["read"])));
        assert!(!may_restore(&caps(&["sudo", "create"])));
        assert!(!may_restore(&caps(&["deny"])));
        assert!(!may_restore(&caps(&["deny", "update"])));
        assert!(!may_restore(&[]));
    }

    #[test]
    fn seal_status_needs_only_sealed() {
        let openbao: SealStatus = serde_json::from_str(r#"{"sealed":false}"#).unwrap();
        assert!(!openbao.sealed && openbao.storage_type.is_none());
        let vault: SealStatus = serde_json::from_str(
            r#"{"type":"shamir","initialized":true,"sealed":true,"t":1,"n":1,"progress":0,"nonce":"","version":"1.17.0","storage_type":"raft"}"#,
        )
        .unwrap();
        assert_eq!(vault.storage_type.as_deref(), Some("raft"));
        assert_eq!(vault.initialized, Some(true));
    }
}
