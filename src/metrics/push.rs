//! The Pushgateway client: the same text as the metrics file, POSTed to this agent's group
//! after every cycle, where there is no node_exporter (a CronJob's pod is gone after it).

use anyhow::{Context, Result};

use super::model::Metrics;
use super::text::PREFIX;

/// The Pushgateway job the metrics are pushed under.
pub const PUSH_JOB: &str = "vault_raft_snapshot";

/// How long a push may take, all in all.
const PUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The Pushgateway URL of this agent's group: `<base>/metrics/job/vault_raft_snapshot/instance/
/// <instance>`. An instance that is not a plain host name is sent base64-encoded, as the
/// Pushgateway allows (`instance@base64/...`). A query in `base` (a proxy's parameter) stays
/// after the path; a fragment is dropped.
#[must_use]
pub fn push_url(base: &str, instance: &str) -> String {
    let base = base.split('#').next().unwrap_or("");
    let (base, query) = base
        .split_once('?')
        .map_or((base, ""), |(base, query)| (base, query));
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{}{query}", group_url(base.trim_end_matches('/'), instance))
}

/// `url` as it may be logged: without a `user:password@` part, with every query value
/// replaced by `<redacted>` (a proxy's token is often passed there) and without a fragment.
#[must_use]
pub fn loggable_url(url: &str) -> String {
    let url = url.split('#').next().unwrap_or("");
    let (url, query) = url
        .split_once('?')
        .map_or((url, None), |(u, q)| (u, Some(q)));
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let mut out = if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    };
    if let Some(query) = query {
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}=<redacted>"),
                None => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&redacted.join("&"));
    }
    out
}

/// The group's URL below `base` (no query).
fn group_url(base: &str, instance: &str) -> String {
    let plain = !instance.is_empty()
        && instance
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if plain {
        format!("{base}/metrics/job/{PUSH_JOB}/instance/{instance}")
    } else {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::URL_SAFE.encode(instance);
        // An empty value is written as "=" in base64 form (the Pushgateway's rule).
        let encoded = if encoded.is_empty() {
            "=".into()
        } else {
            encoded
        };
        format!("{base}/metrics/job/{PUSH_JOB}/instance@base64/{encoded}")
    }
}

/// The families whose 0 means "not known to this process" rather than a value: a `once` in a
/// fresh CronJob pod that fails knows no last success, snapshot size, count or storage time.
const KEPT_BY_THE_GATEWAY: [&str; 7] = [
    "last_success_timestamp_seconds",
    "snapshot_bytes",
    "raft_index",
    "storage_last_success_timestamp_seconds",
    "storage_snapshot_bytes",
    "storage_snapshots",
    "storage_last_duration_seconds",
];

/// `text` (as [`Metrics::render`] writes it) without the zero samples of the families in
/// [`KEPT_BY_THE_GATEWAY`], and without such a family altogether when none is left: pushed
/// with POST, which replaces only the families sent, the Pushgateway then keeps what an
/// earlier run pushed for them.
#[must_use]
pub fn push_text(text: &str) -> String {
    let kept: Vec<String> = KEPT_BY_THE_GATEWAY
        .iter()
        .map(|name| format!("{PREFIX}_{name}"))
        .collect();
    let family_of = |line: &str| -> String {
        let line = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
            .unwrap_or(line);
        line.split(['{', ' ']).next().unwrap_or("").to_string()
    };
    let mut out = String::new();
    let mut header = String::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") {
            // A new family: a held header of the one before had no sample worth sending.
            header.clear();
        }
        let family = family_of(line);
        if !kept.contains(&family) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if line.starts_with('#') {
            // Held back until the family has a sample worth sending.
            header.push_str(line);
            header.push('\n');
            continue;
        }
        if line.rsplit(' ').next().is_some_and(|v| v == "0") {
            continue;
        }
        out.push_str(&header);
        header.clear();
        out.push_str(line);
        out.push('\n');
    }
    out
}

impl Metrics {
    /// POSTs the metrics to the Pushgateway at `base` (see [`push_text`]).
    ///
    /// # Errors
    /// When the Pushgateway cannot be reached or does not answer 2xx; the message names the
    /// URL.
    pub fn push(&self, base: &str, instance: &str) -> Result<()> {
        let url = push_url(base, instance);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(PUSH_TIMEOUT))
            .user_agent(concat!("vault-raft-snapshot/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        let mut response = agent
            .post(&url)
            .header("Content-Type", "text/plain; version=0.0.4")
            .send(push_text(&self.render_pushed()))
            .with_context(|| format!("cannot push the metrics to {}", loggable_url(&url)))?;
        let status = response.status();
        if !status.is_success() {
            let body = response
                .body_mut()
                .with_config()
                .limit(4096)
                .read_to_string()
                .unwrap_or_default();
            anyhow::bail!(
                "pushing the metrics to {} failed: {status}: {}",
                loggable_url(&url),
                body.trim()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::sample;
    use super::*;

    #[test]
    fn unknown_zeros_are_not_pushed_so_the_gateway_keeps_earlier_values() {
        let mut failed = sample();
        failed.agent.last_success_timestamp = 0.0;
        failed.agent.raft_index = 0;
        failed.agent.consecutive_failures = 1;
        // The sample's second storage has never succeeded; its first has.
        assert!(failed.storages[0].last_success_timestamp > 0.0);
        assert!(failed.storages[1].last_success_timestamp == 0.0);
        let text = push_text(&failed.render());
        let parsed = Metrics::parse(&text).unwrap();
        assert_eq!(parsed.agent.consecutive_failures, 1);
        assert!(
            !text.contains("vault_raft_snapshot_last_success_timestamp_seconds"),
            "{text}"
        );
        assert!(!text.contains("vault_raft_snapshot_raft_index"), "{text}");
        // A family with one known and one unknown storage keeps the known sample.
        let storage_successes: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with("vault_raft_snapshot_storage_last_success_timestamp_seconds{")
            })
            .collect();
        assert_eq!(storage_successes.len(), 1, "{text}");
        assert_eq!(
            text.matches("# TYPE vault_raft_snapshot_storage_last_success_timestamp_seconds")
                .count(),
            1
        );
        // With every value known, everything goes as rendered.
        let mut known = sample();
        known.storages.truncate(1);
        let full = known.render();
        assert_eq!(push_text(&full), full);
    }

    #[test]
    fn a_success_pushes_empty_reasons_that_replace_the_earlier_ones() {
        let mut failed = sample();
        failed.agent.last_error_reason = Some("Vault is sealed".into());
        let text = push_text(&failed.render_pushed());
        assert!(
            text.contains("vault_raft_snapshot_last_error_info{reason=\"Vault is sealed\"} 1\n"),
            "{text}"
        );
        // The storage that did not fail says so, so that the family sent is whole.
        assert!(
            text.contains("{storage=\"local-0\",kind=\"local\",location=\"/var/backups/vault \\\"main\\\"\",reason=\"\"} 0\n"),
            "{text}"
        );
        let mut ok = failed;
        ok.agent.last_error_reason = None;
        ok.storages[1].last_error_reason = None;
        let text = push_text(&ok.render_pushed());
        assert!(
            text.contains("vault_raft_snapshot_last_error_info{reason=\"\"} 0\n"),
            "{text}"
        );
        assert_eq!(text.matches("_last_error_info{").count(), 3, "{text}");
        assert_eq!(text.matches("reason=\"\"} 0\n").count(), 3, "{text}");
    }

    #[test]
    fn the_push_url_names_the_job_and_the_instance() {
        assert_eq!(
            push_url("http://pushgateway:9091/", "vault-0"),
            "http://pushgateway:9091/metrics/job/vault_raft_snapshot/instance/vault-0"
        );
        // Not a plain host name: base64 (URL-safe), as the Pushgateway reads it.
        assert_eq!(
            push_url("http://pg:9091", "a/b"),
            "http://pg:9091/metrics/job/vault_raft_snapshot/instance@base64/YS9i"
        );
        assert_eq!(
            push_url("http://pg:9091", ""),
            "http://pg:9091/metrics/job/vault_raft_snapshot/instance@base64/="
        );
        // A query (a proxy's parameter) stays after the path.
        assert_eq!(
            push_url("http://pg:9091/gw/?token=s3cr3t&x", "vault-0"),
            "http://pg:9091/gw/metrics/job/vault_raft_snapshot/instance/vault-0?token=s3cr3t&x"
        );
    }

    #[test]
    fn a_logged_url_carries_no_credentials_and_no_query_values() {
        for (url, logged) in [
            (
                "http://pg:9091/a?token=s3cr3t&x",
                "http://pg:9091/a?token=<redacted>&x",
            ),
            ("https://u:pw@pg:9091/p#frag", "https://pg:9091/p"),
            ("http://pg:9091", "http://pg:9091"),
        ] {
            assert_eq!(loggable_url(url), logged);
        }
    }
}
