//! Restoring a snapshot: `POST /v1/sys/storage/raft/snapshot` (or `snapshot-force`) with the
//! verified file as the body, sent to the active node only.
//!
//! A standby accepts the POST with 204 but restores nothing (seen on OpenBao 2.7), so the
//! target is the node `sys/leader` names as active, never "whichever node answers". The body
//! is never sent through a redirect: a 3xx is an error naming where Vault pointed.

use std::fs::File;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use log::info;

use super::api::{self, Method, Success};
use super::client::{VaultClient, VaultError};
use super::leader;
use super::snapshot::SNAPSHOT_PATH;
use crate::secret::Secret;
use crate::shutdown::StopFlag;

/// The forced restore path under `/v1/`.
pub const SNAPSHOT_FORCE_PATH: &str = "sys/storage/raft/snapshot-force";

/// What Vault says when the snapshot's sealed hashes cannot be opened with this cluster's
/// keys (`could not verify hash file, possibly the snapshot is using a different set of
/// unseal keys; use the snapshot-force API to bypass this check`).
const OTHER_KEYS_HINT: &str = "different set of unseal keys";

/// Whether a 403 (with Vault's `message`) means the token itself is not valid rather than
/// lacking the policy: Vault says "invalid token", or the token cannot even look itself up
/// (which every valid token may, through the default policy).
fn token_is_invalid(client: &VaultClient, token: &Secret, message: &str) -> bool {
    if message.contains("invalid token") {
        return true;
    }
    match super::token::lookup_self(client, token) {
        Ok(_) => false,
        Err(e) => e
            .downcast_ref::<VaultError>()
            .is_some_and(|e| e.status == 403),
    }
}

/// The base URL of the active node: `addr` when it is the active node (or there is no HA),
/// else the `leader_address` that `sys/leader` reports.
///
/// # Errors
/// When Vault cannot be reached or is sealed, or no node is active.
pub fn active_node(client: &VaultClient) -> Result<String> {
    let status = leader::fetch(client)?;
    if !status.ha_enabled || status.is_self {
        return Ok(client.addr().to_string());
    }
    if status.leader_address.is_empty() {
        bail!(
            "Vault at {} reports no active node; nothing was sent",
            client.addr()
        );
    }
    info!(
        "{} is a standby; the snapshot goes to the active node {}",
        client.addr(),
        status.leader_address
    );
    Ok(status.leader_address.trim_end_matches('/').to_string())
}

/// Sends `file` to the active node at `target`.
///
/// # Errors
/// Vault's refusal, with what to do about it when the snapshot is from other unseal keys;
/// a redirect (the body is not sent again).
pub fn restore(
    client: &VaultClient,
    target: &str,
    token: &Secret,
    file: &File,
    force: bool,
) -> Result<()> {
    let path = if force {
        SNAPSHOT_FORCE_PATH
    } else {
        SNAPSHOT_PATH
    };
    let url = format!("{target}/v1/{path}");
    let response = client.post_file(&url, token, file)?;
    let status = response.status().as_u16();
    if (300..400).contains(&status) {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(no Location)");
        bail!(
            "Vault answered {status} to POST {url}, redirecting to {location}; the snapshot was \
             not sent there. Set addr to the active node and run the restore again"
        );
    }
    let refused = match api::stream(response, Method::Post, &url, Success::Any2xx, None) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    match refused.downcast_ref::<VaultError>() {
        Some(e) if e.status == 400 && e.message.contains(OTHER_KEYS_HINT) => bail!(
            "Vault refused the snapshot: it was taken on a cluster with other unseal keys ({}). \
             Nothing was changed. If this is the snapshot you mean to restore, run again with \
             --force: the cluster then takes the snapshot's data, unseal keys and tokens, and \
             must be unsealed with the unseal keys of the cluster the snapshot came from",
            e.message
        ),
        Some(e) if e.status == 403 && token_is_invalid(client, token, &e.message) => Err(refused
            .context(
                "Vault does not accept the token at all (it is invalid, expired or revoked), \
                 so nothing was restored; set VAULT_TOKEN to a valid token that may restore",
            )),
        Some(e) if e.status == 403 => Err(refused.context(
            "the token may not restore: it needs update on sys/storage/raft/snapshot (and on \
             sys/storage/raft/snapshot-force for --force); set VAULT_TOKEN to such a token",
        )),
        _ => Err(refused),
    }
}

/// How a node stands once a restore was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Back {
    /// Unsealed and serving requests; `active` is the node `sys/leader` names as active
    /// (the node restored to, unless leadership moved while it restarted).
    Unsealed {
        /// The active node's address.
        active: String,
    },
    /// Sealed, as a node is after a forced restore of another cluster's snapshot: it opens
    /// with the unseal keys (or seal) of the cluster the snapshot came from.
    Sealed,
}

/// The pause between two looks at a node that is not back yet.
const POLL: Duration = Duration::from_millis(500);
/// The longest single request while waiting: a request that Vault holds until the restore
/// is applied is asked again after this, so the deadline is kept.
const LONGEST_LOOK: Duration = Duration::from_secs(30);

/// Waits, at most `limit`, until the node at `target` has applied the restore it just
/// accepted, and says how it stands.
///
/// Vault answers the POST before the restore is done: a background task takes the node's
/// state lock, swaps the database and restarts the subsystems (`handleStorageRaftSnapshotWrite`
/// in Vault and OpenBao). `sys/health`, `sys/leader` and `sys/seal-status` do not take that
/// lock and answer throughout, so none of them proves anything; every request through the
/// request handler does take it (and Go's lock admits no new reader once the restore waits
/// for it). So the signal is an answer, of any status, to `GET auth/token/lookup-self`: once
/// it comes, the restore is applied (or failed, and the node sealed itself). Then the seal
/// status and the leader say which.
///
/// # Errors
/// When `limit` passes first (naming what was last seen); when the node sealed itself after
/// a restore that was not forced (Vault seals a node whose restore failed); a stop request.
pub fn wait_until_back(
    client: &VaultClient,
    target: &str,
    token: &Secret,
    force: bool,
    limit: Duration,
    stop: &StopFlag,
) -> Result<Back> {
    let deadline = Instant::now() + limit;
    // Vault's task asks for the lock as it answers the POST; give it that moment.
    thread::sleep(Duration::from_millis(100));
    let mut last_seen = String::from("nothing yet");
    loop {
        stop.check()?;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "the restore was sent, but the node at {target} did not answer as a working \
                 node within {}; last seen: {last_seen}. Check its log and seal status",
                crate::duration::format(limit)
            );
        }
        let node = client.at(target, left.min(LONGEST_LOOK));
        match super::token::lookup_self(&node, token) {
            Ok(_) => {}
            Err(e) => match e.downcast_ref::<VaultError>() {
                // The token is not in the restored data (or never may look itself up):
                // an answer all the same.
                Some(v) if matches!(v.status, 400 | 403 | 404) => {}
                // 503: sealed (a failed restore seals the node) or not active; the seal
                // status says which.
                Some(v) if v.status == 503 => {}
                Some(v) => {
                    last_seen = format!("{v}");
                    stop_or_sleep(stop, deadline)?;
                    continue;
                }
                None => {
                    last_seen = format!("no answer: {e:#}");
                    stop_or_sleep(stop, deadline)?;
                    continue;
                }
            },
        }
        let sealed = match super::sys::seal_status(&node) {
            Ok(status) => status.sealed,
            Err(e) => {
                last_seen = format!("{e:#}");
                stop_or_sleep(stop, deadline)?;
                continue;
            }
        };
        if sealed {
            if force {
                return Ok(Back::Sealed);
            }
            bail!(
                "the node at {target} sealed itself after the restore: Vault seals a node \
                 whose restore failed (its log says why). Unseal it with this cluster's keys; \
                 its data may be the old or the restored one"
            );
        }
        match leader::fetch(&node) {
            Ok(status) if !status.ha_enabled || status.is_self => {
                return Ok(Back::Unsealed {
                    active: target.to_string(),
                });
            }
            Ok(status) if !status.leader_address.is_empty() => {
                return Ok(Back::Unsealed {
                    active: status.leader_address.trim_end_matches('/').to_string(),
                });
            }
            Ok(_) => last_seen = format!("{target} is unsealed but no node is active yet"),
            Err(e) => last_seen = format!("{e:#}"),
        }
        stop_or_sleep(stop, deadline)?;
    }
}

/// Sleeps [`POLL`] (less when the deadline is nearer), ending early on a stop request.
fn stop_or_sleep(stop: &StopFlag, deadline: Instant) -> Result<()> {
    let until = (Instant::now() + POLL).min(deadline);
    while Instant::now() < until {
        stop.check()?;
        thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    stop.check()
}
