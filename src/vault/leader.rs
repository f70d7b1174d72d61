//! Is this node the one that should take the snapshot?
//!
//! `GET /v1/sys/leader` is unauthenticated, so standbys never need to log in. The decision
//! ([`decide`]) is a pure function:
//! - `ha_enabled: false` is a single node: act;
//! - when `addr` points at this host (loopback or one of its addresses), trust `is_self`;
//! - when `addr` is a load balancer or another host, act only if `leader_address` resolves to
//!   one of this host's addresses (its hostname's DNS addresses), as the original agent did.
//!
//! With `addr` listing several nodes, [`find_active`] first picks the node that is active, and
//! `"auto"` means `"is_self"` of that node (an agent with a list of nodes runs outside the
//! cluster, where comparing `leader_address` with its own host would never act).
//!
//! That is `leader_check: "auto"`. `"is_self"` trusts `is_self` whatever `addr` is (one agent
//! pointed at a Kubernetes `<release>-active` Service); `"none"` always acts (exactly one agent
//! per cluster; Vault forwards the request to the active node or answers 307).

use std::net::IpAddr;

use anyhow::{Result, bail};
use log::debug;

use super::api::Endpoint;
use super::client::VaultClient;
use crate::config::LeaderCheck;

const SYS_LEADER: Endpoint<'static> = Endpoint::get("sys/leader", "a leader status");

/// The fields of `sys/leader` the agent uses; every field but `ha_enabled` may be absent
/// (OpenBao omits them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct LeaderStatus {
    /// False for a single node without HA storage.
    pub ha_enabled: bool,
    /// True on the active node.
    #[serde(default)]
    pub is_self: bool,
    /// The active node's `api_addr`, or empty if no leader is known.
    #[serde(default)]
    pub leader_address: String,
    /// The Raft index the cluster has committed, as this node knows it; absent when the
    /// storage is not Raft (Vault omits a 0), or on servers that do not report it.
    #[serde(default)]
    pub raft_committed_index: Option<u64>,
}

/// What to do this cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Take the snapshot; the reason is logged at debug level.
    Act(&'static str),
    /// Another node is the leader.
    Skip,
}

/// Asks `addr` who the leader is.
///
/// # Errors
/// When Vault cannot be reached, is sealed (503), or answers with anything but the leader
/// status.
pub fn fetch(client: &VaultClient) -> Result<LeaderStatus> {
    SYS_LEADER.call(client, None, None)
}

/// With `addr` listing several nodes: asks each in turn, in the listed order, who leads
/// (`sys/leader`, each call limited to a few seconds), and returns the first node that is
/// the active one (or a single node without HA) with its answer. When no node says it is
/// active, the first that answered (a standby; the leader check then skips, unless it is
/// `none`). The caller sends the cycle's calls to the node returned.
///
/// # Errors
/// When no node answers, naming every node tried and what each did.
pub fn find_active(client: &VaultClient) -> Result<(String, LeaderStatus)> {
    let mut standby = None;
    let mut failures = Vec::new();
    for node in client.nodes() {
        match fetch(&client.at_node(node)) {
            Ok(status) if status.is_self || !status.ha_enabled => {
                debug!("{node} is the active node");
                return Ok((node.clone(), status));
            }
            Ok(status) => {
                debug!("{node} is a standby");
                failures.push(format!("{node}: a standby"));
                standby.get_or_insert((node.clone(), status));
            }
            Err(e) => {
                debug!("{node} did not say who leads: {e:#}");
                failures.push(format!("{node}: {e:#}"));
            }
        }
    }
    match standby {
        Some(found) => {
            debug!(
                "no node of addr is the active node ({})",
                failures.join("; ")
            );
            Ok(found)
        }
        None => bail!(
            "no node of addr answered who leads (tried {})",
            failures.join("; ")
        ),
    }
}

/// Where the agent stands, for `leader_check: "auto"`.
#[derive(Debug, Clone, Default)]
pub struct Whereabouts {
    /// Whether `addr` is this host.
    pub addr_is_local: bool,
    /// The addresses `leader_address` resolves to.
    pub leader_ips: Vec<IpAddr>,
    /// This host's addresses.
    pub own_ips: Vec<IpAddr>,
}

/// Decides whether to act. `place` is asked only by the `auto` check.
///
/// # Errors
/// When HA is enabled but no leader is known and the check needs one.
pub fn decide(
    status: &LeaderStatus,
    check: LeaderCheck,
    place: impl FnOnce() -> Whereabouts,
) -> Result<Role> {
    if check == LeaderCheck::None {
        return Ok(Role::Act("leader_check is \"none\""));
    }
    if !status.ha_enabled {
        return Ok(Role::Act("HA is not enabled: single node"));
    }
    if check == LeaderCheck::IsSelf {
        return Ok(if status.is_self {
            Role::Act("the node at addr is the active node (leader_check \"is_self\")")
        } else {
            Role::Skip
        });
    }
    let Whereabouts {
        addr_is_local,
        leader_ips,
        own_ips,
    } = place();
    if addr_is_local {
        return Ok(if status.is_self {
            Role::Act("the local Vault node is the active node")
        } else {
            Role::Skip
        });
    }
    if status.leader_address.is_empty() {
        bail!("Vault reports no active leader (the cluster has no active node)");
    }
    if leader_ips.iter().any(|ip| own_ips.contains(ip)) {
        Ok(Role::Act("the leader address resolves to this host"))
    } else {
        Ok(Role::Skip)
    }
}

/// The host part of a URL like `https://vault.example:8200`, without brackets.
#[must_use]
pub fn url_host(url: &str) -> Option<String> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    let host = uri.host()?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

/// The addresses `host` stands for: itself if it is an IP, else its DNS answers.
/// An unresolvable name gives no addresses (logged at debug level).
#[must_use]
pub fn resolve(host: &str) -> Vec<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![ip];
    }
    match dns_lookup::lookup_host(host) {
        Ok(ips) => ips.collect(),
        Err(e) => {
            debug!("cannot resolve {host}: {e}");
            Vec::new()
        }
    }
}

/// This host's addresses: its hostname's DNS answers plus the loopback addresses.
#[must_use]
pub fn own_addresses() -> Vec<IpAddr> {
    let mut ips = vec![
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
    ];
    let hostname = gethostname::gethostname();
    if let Some(name) = hostname.to_str() {
        ips.extend(resolve(name));
    }
    ips.sort();
    ips.dedup();
    ips
}

/// True if `host` (from `addr`) is this machine: a loopback name or address, or one of
/// `own_ips`.
#[must_use]
pub fn is_local_host(host: &str, own_ips: &[IpAddr]) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let ips = resolve(host);
    !ips.is_empty()
        && ips
            .iter()
            .all(|ip| ip.is_loopback() || own_ips.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(ha: bool, is_self: bool, leader: &str) -> LeaderStatus {
        LeaderStatus {
            ha_enabled: ha,
            is_self,
            leader_address: leader.into(),
            raft_committed_index: None,
        }
    }

    #[test]
    fn reads_the_committed_index_when_vault_reports_it() {
        let active: LeaderStatus = serde_json::from_str(
            r#"{"ha_enabled":true,"is_self":true,"active_time":"2024-05-01T10:00:00.123456789Z","leader_address":"https://10.0.0.1:8200","leader_cluster_address":"https://10.0.0.1:8201","performance_standby":false,"performance_standby_last_remote_wal":0,"raft_committed_index":1234,"raft_applied_index":1234}"#,
        )
        .unwrap();
        assert_eq!(active.raft_committed_index, Some(1234));
        let non_ha: LeaderStatus = serde_json::from_str(r#"{"ha_enabled":false}"#).unwrap();
        assert_eq!(non_ha.raft_committed_index, None);
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn at(addr_is_local: bool, leader: &[IpAddr], own: &[IpAddr]) -> impl FnOnce() -> Whereabouts {
        let (leader_ips, own_ips) = (leader.to_vec(), own.to_vec());
        move || Whereabouts {
            addr_is_local,
            leader_ips,
            own_ips,
        }
    }

    fn never_asked() -> Whereabouts {
        panic!("only the auto check asks where the agent is")
    }

    #[test]
    fn a_single_node_always_acts() {
        for check in [LeaderCheck::Auto, LeaderCheck::IsSelf, LeaderCheck::None] {
            let role = decide(&status(false, false, ""), check, at(false, &[], &[])).unwrap();
            assert!(matches!(role, Role::Act(_)), "{check:?}");
        }
    }

    #[test]
    fn a_local_addr_trusts_is_self() {
        let leader = status(true, true, "https://10.0.0.9:8200");
        assert!(matches!(
            decide(&leader, LeaderCheck::Auto, at(true, &[], &[])).unwrap(),
            Role::Act(_)
        ));
        let standby = status(true, false, "https://10.0.0.1:8200");
        // Even if the leader address looked like ours, is_self decides for a local addr.
        assert_eq!(
            decide(
                &standby,
                LeaderCheck::Auto,
                at(true, &[ip("10.0.0.1")], &[ip("10.0.0.1")])
            )
            .unwrap(),
            Role::Skip
        );
    }

    #[test]
    fn a_remote_addr_compares_the_leader_address_with_ours() {
        let via_lb = status(true, false, "https://vault-2:8200");
        let own = [ip("127.0.0.1"), ip("10.0.0.2")];
        assert!(matches!(
            decide(
                &via_lb,
                LeaderCheck::Auto,
                at(false, &[ip("10.0.0.2")], &own)
            )
            .unwrap(),
            Role::Act(_)
        ));
        assert_eq!(
            decide(
                &via_lb,
                LeaderCheck::Auto,
                at(false, &[ip("10.0.0.3")], &own)
            )
            .unwrap(),
            Role::Skip
        );
        assert_eq!(
            decide(&via_lb, LeaderCheck::Auto, at(false, &[], &own)).unwrap(),
            Role::Skip
        );
    }

    #[test]
    fn is_self_trusts_the_node_at_a_remote_addr() {
        // A pod outside the Vault pods, pointed at the -active Service: the leader address
        // is never one of its own, which is why auto skips it forever.
        let active = status(true, true, "https://vault-0.vault-internal:8200");
        assert_eq!(
            decide(
                &active,
                LeaderCheck::Auto,
                at(false, &[ip("10.1.0.5")], &[ip("10.1.0.9")])
            )
            .unwrap(),
            Role::Skip
        );
        assert!(matches!(
            decide(&active, LeaderCheck::IsSelf, never_asked).unwrap(),
            Role::Act(_)
        ));
        // The Service briefly routed to a standby: that cycle skips.
        let standby = status(true, false, "https://vault-0.vault-internal:8200");
        assert_eq!(
            decide(&standby, LeaderCheck::IsSelf, never_asked).unwrap(),
            Role::Skip
        );
    }

    #[test]
    fn none_acts_on_whichever_node_answers() {
        for answer in [
            status(true, false, "https://10.0.0.1:8200"),
            status(true, false, ""),
            status(true, true, ""),
        ] {
            assert!(matches!(
                decide(&answer, LeaderCheck::None, never_asked).unwrap(),
                Role::Act(_)
            ));
        }
    }

    #[test]
    fn no_known_leader_is_an_error_for_a_remote_addr() {
        let error = decide(
            &status(true, false, ""),
            LeaderCheck::Auto,
            at(false, &[], &[]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("no active leader"));
    }

    #[test]
    fn parses_vault_and_openbao_shapes() {
        let vault = r#"{"ha_enabled":true,"is_self":true,"active_time":"2024-05-01T10:00:00Z","leader_address":"https://10.0.0.1:8200","leader_cluster_address":"https://10.0.0.1:8201","performance_standby":false,"performance_standby_last_remote_wal":0,"raft_committed_index":1234,"raft_applied_index":1234}"#;
        let parsed: LeaderStatus = serde_json::from_str(vault).unwrap();
        assert_eq!(
            parsed,
            LeaderStatus {
                raft_committed_index: Some(1234),
                ..status(true, true, "https://10.0.0.1:8200")
            }
        );
        let openbao = r#"{"ha_enabled":false}"#;
        let parsed: LeaderStatus = serde_json::from_str(openbao).unwrap();
        assert_eq!(parsed, status(false, false, ""));
    }

    #[test]
    fn loopback_hosts_are_local() {
        assert!(is_local_host("127.0.0.1", &[]));
        assert!(is_local_host("localhost", &[]));
        assert!(is_local_host("::1", &[]));
        assert!(!is_local_host("192.0.2.10", &[ip("10.0.0.1")]));
        assert!(is_local_host("10.0.0.1", &[ip("10.0.0.1")]));
    }

    #[test]
    fn url_host_strips_brackets() {
        assert_eq!(url_host("https://[::1]:8200").as_deref(), Some("::1"));
        assert_eq!(url_host("http://vault:8200").as_deref(), Some("vault"));
    }
}
