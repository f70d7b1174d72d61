//! What the config tests share: validating JSON text under a fixed file name (never opened,
//! so validation tests need no temporary directory) and running tables of refused configs.

use std::path::Path;

use super::{Config, ConfigError};

/// The file name validation tests give; nothing is read from it.
pub const FILE: &str = "/etc/vault.d/snapshot.json";
/// The local storage the tests' configs name; validation does not look at it.
pub const SNAPS: &str = "/var/backups/vault";
/// The original agent's smallest file: AppRole and a local storage.
pub const MINIMAL: &str =
    r#"{"role_id": "r", "secret_id": "s", "local_storage": {"path": "/var/backups/vault"}}"#;

/// A test row's config: `row`'s entries (`"key": value, ...`) added to [`MINIMAL`]'s, or
/// `row` itself when it does not start with a key (a whole object, or not JSON at all).
pub fn json(row: &str) -> String {
    if !row.trim_start().starts_with('"') {
        row.to_string()
    } else {
        format!(
            r#"{{"role_id": "r", "secret_id": "s", "local_storage": {{"path": "{SNAPS}"}}, {row}}}"#
        )
    }
}

/// Validates a row's config (see [`json`]) with the environment `env`.
pub fn validate(row: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let lookup = |name: &str| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_string())
    };
    Config::from_text(json(row).as_bytes(), Path::new(FILE), &lookup)
}

/// The config a row describes, which must be valid.
pub fn accepted(row: &str, env: &[(&str, &str)]) -> Config {
    validate(row, env).unwrap_or_else(|e| panic!("refused {row}\n  with {env:?}: {e}"))
}

/// The message refusing a row's config, which must be refused.
pub fn refused(row: &str, env: &[(&str, &str)]) -> String {
    match validate(row, env) {
        Ok(_) => panic!("accepted {row}\n  with {env:?}"),
        Err(e) => e.to_string(),
    }
}

/// Every row (config, text its refusal must contain) is refused with that text, naming the
/// file or the environment variable.
pub fn assert_refused(rows: &[(&str, &str)]) {
    assert_refused_with(&[], rows);
}

/// [`assert_refused`] with the environment `env`.
pub fn assert_refused_with(env: &[(&str, &str)], rows: &[(&str, &str)]) {
    for (row, expected) in rows {
        let error = refused(row, env);
        assert!(
            error.contains(expected),
            "row {row}\n  expected {expected:?}\n  in {error}"
        );
        assert!(
            error.starts_with(FILE) || error.starts_with("environment variable"),
            "row {row}: the message names neither the file nor a variable: {error}"
        );
    }
}
