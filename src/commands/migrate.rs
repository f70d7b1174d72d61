//! `migrate FILE [-o OUT]`: another agent's configuration as ours (see [`crate::migrate`]),
//! and, for the other commands, what to say when `-c` names such a file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use crate::config::{ConfigError, process_env};
use crate::exit::Exit;
use crate::migrate;

/// Converts `file`, writes our config to `output` (or stdout), prints the report to stderr.
///
/// # Errors
/// A [`ConfigError`] (exit 2) when `file` cannot be read or is neither agent's config, or
/// `output` exists or cannot be written.
pub fn migrate(file: &Path, output: Option<&Path>) -> Result<Exit> {
    let migration = migrate::migrate(file, &process_env).map_err(|e| ConfigError(e.message))?;
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(migration.config))
        .context("encoding the config")?;
    text.push('\n');
    let shown = match output {
        Some(path) => {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| {
                    ConfigError(format!(
                        "cannot create {}: {e}{}",
                        path.display(),
                        if e.kind() == std::io::ErrorKind::AlreadyExists {
                            " (migrate never overwrites a file)"
                        } else {
                            ""
                        }
                    ))
                })?;
            out.write_all(text.as_bytes())
                .and_then(|()| out.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            path.display().to_string()
        }
        None => {
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .context("writing the config to stdout")?;
            "stdout".to_string()
        }
    };
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "{} is {}.",
        file.display(),
        migration.kind.describe()
    );
    let _ = stderr.write_all(migration.report.render(&shown).as_bytes());
    Ok(Exit::failed_if(!migration.report.unmapped.is_empty()))
}

/// `error`, or, when `path` is another agent's configuration, a message that says so and
/// how to convert it.
#[must_use]
pub fn explain(path: &Path, error: ConfigError) -> ConfigError {
    match migrate::recognise(path) {
        Some(kind) => ConfigError(format!(
            "{} is {}, not this agent's JSON config: convert it with \
             `vault-raft-snapshot migrate {} -o snapshot.json` and use that",
            path.display(),
            kind.describe(),
            path.display()
        )),
        None => error,
    }
}
