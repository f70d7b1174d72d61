//! `status`: the last cycle as the metrics file records it, read without Vault or storages;
//! each storage by its name, as `list` shows it, with its kind and location; and, while the
//! last cycle or a storage's last attempt failed, why (`last error: <reason>`; the reason
//! was made printable and bounded when recorded, and again when the file was read).

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow};

use crate::config::{Config, ConfigError};
use crate::duration;
use crate::exit::Exit;
use crate::metrics::{Metrics, StorageId};
use crate::snapshot_name::utc_timestamp;

/// `status`: exits 1 when the last cycle failed or the last success is older than `max_age`
/// (default: twice `frequency`; a timer or CronJob that stopped running shows here).
pub fn status(config: &Config, max_age: Option<Duration>) -> Result<Exit> {
    let max_age = max_age.unwrap_or(config.frequency * 2);
    let path = config.metrics_file.as_deref().ok_or_else(|| {
        ConfigError(format!(
            "{}: key \"metrics_file\" is not set; status reads the metrics file the agent writes",
            config.source.display()
        ))
    })?;
    if !path.exists() {
        return Err(anyhow!(
            "no metrics yet: {} does not exist (it is written after the first cycle)",
            path.display()
        ));
    }
    let metrics = Metrics::load(path)?;
    let now = SystemTime::now();
    let when = |seconds: f64| -> String {
        if seconds <= 0.0 {
            return "never".into();
        }
        let Some(time) = Duration::try_from_secs_f64(seconds)
            .ok()
            .and_then(|d| UNIX_EPOCH.checked_add(d))
        else {
            return format!("{seconds} (not a time)");
        };
        let age = now.duration_since(time).unwrap_or_default();
        format!(
            "{} ({} ago)",
            utc_timestamp(time),
            duration::format(Duration::from_secs(age.as_secs()))
        )
    };
    let a = &metrics.agent;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "last cycle:           {}, took {:.1}s",
        when(a.last_cycle_timestamp),
        a.last_cycle_duration_seconds
    )?;
    writeln!(
        out,
        "leader:               {}",
        if a.leader { "yes" } else { "no (standby)" }
    )?;
    writeln!(
        out,
        "last success:         {}",
        when(a.last_success_timestamp)
    )?;
    writeln!(out, "consecutive failures: {}", a.consecutive_failures)?;
    if let Some(reason) = &a.last_error_reason {
        writeln!(out, "last error:           {reason}")?;
    }
    writeln!(
        out,
        "last snapshot:        Raft index {}, {} bytes",
        a.raft_index, a.snapshot_bytes
    )?;
    for s in &metrics.storages {
        let StorageId {
            name,
            kind,
            location,
        } = &s.id;
        if name.is_empty() {
            // A file from the version before names; the next cycle writes the name.
            writeln!(out, "storage {kind} {location}:")?;
        } else {
            writeln!(out, "storage {name} ({kind} {location}):")?;
        }
        writeln!(
            out,
            "  last result:  {}",
            if s.last_error { "FAILED" } else { "ok" }
        )?;
        if let Some(reason) = &s.last_error_reason {
            writeln!(out, "  last error:   {reason}")?;
        }
        writeln!(out, "  last success: {}", when(s.last_success_timestamp))?;
        writeln!(out, "  last attempt: {}", when(s.last_attempt_timestamp))?;
        writeln!(
            out,
            "  snapshots:    {} held, last {} bytes",
            s.snapshots, s.snapshot_bytes
        )?;
    }
    let success_age = Duration::try_from_secs_f64(a.last_success_timestamp)
        .ok()
        .filter(|d| !d.is_zero())
        .and_then(|d| UNIX_EPOCH.checked_add(d))
        .map(|time| now.duration_since(time).unwrap_or_default());
    let stale = success_age.is_none_or(|age| age > max_age);
    if stale {
        writeln!(
            out,
            "STALE: no success within {} (--max-age; default twice frequency)",
            duration::format(max_age)
        )?;
    }
    let failed =
        stale || a.consecutive_failures > 0 || metrics.storages.iter().any(|s| s.last_error);
    Ok(Exit::failed_if(failed))
}
