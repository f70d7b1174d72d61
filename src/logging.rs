//! Logging: `env_logger` with `RUST_LOG` honoured (default `info`), and a guard that keeps
//! secrets out of the output at every level.
//!
//! ureq-proto hex-dumps whole requests and responses at `trace` level, which would include
//! the `X-Vault-Token` header, the AppRole login body (`secret_id`) and the `client_token`
//! Vault returns. Records from other crates are therefore capped at `debug`, where ureq only
//! logs headers from an allowlist. Our own code never formats a [`crate::secret::Secret`]'s
//! value.

use log::{Level, LevelFilter, Log, Metadata, Record};

const OUR_TARGET: &str = "vault_raft_snapshot";

struct GuardedLogger {
    inner: env_logger::Logger,
}

fn allowed(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with(OUR_TARGET) || metadata.level() <= Level::Debug
}

impl Log for GuardedLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        allowed(metadata) && self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if allowed(record.metadata()) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Installs the logger. Call once, first thing in `main`.
pub fn init() {
    let inner = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .build();
    let max = inner.filter();
    if log::set_boxed_logger(Box::new(GuardedLogger { inner })).is_ok() {
        log::set_max_level(max.max(LevelFilter::Error));
    }
}
