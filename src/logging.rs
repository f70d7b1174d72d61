//! Logging: `env_logger` with `RUST_LOG` honoured (default `info`), and a guard that keeps
//! secrets out of the output at every level.
//!
//! ureq-proto hex-dumps whole requests and responses at `trace` level, which would include
//! the `X-Vault-Token` header, the AppRole login body (`secret_id`) and the `client_token`
//! Vault returns. Records from other crates are therefore capped at `debug`, where ureq only
//! logs headers from an allowlist. Our own code never formats a [`crate::secret::Secret`]'s
//! value.
//!
//! Under systemd, when stderr is the journal (`JOURNAL_STREAM` names stderr's device and
//! inode), lines carry no timestamp (the journal adds its own) and start with the sd-daemon
//! priority prefix (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug), so `journalctl -p`
//! filters work.

use std::io::Write;

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

/// The sd-daemon priority for a level (syslog numbering).
#[must_use]
pub fn journal_priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// True if `journal_stream` (`JOURNAL_STREAM`'s value, `<device>:<inode>`) names the file
/// behind stderr.
fn stderr_is_journal(journal_stream: &str) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some((dev, ino)) = journal_stream.split_once(':') else {
        return false;
    };
    let Ok(stderr) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(stderr).metadata() else {
        return false;
    };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}

/// Installs the logger. Call once, first thing in `main`.
pub fn init() {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    builder.format_target(false);
    let journal = std::env::var("JOURNAL_STREAM").is_ok_and(|v| stderr_is_journal(&v));
    if journal {
        builder.format(|buf, record| {
            writeln!(
                buf,
                "<{}>{}",
                journal_priority(record.level()),
                record.args()
            )
        });
    }
    let inner = builder.build();
    let max = inner.filter();
    if log::set_boxed_logger(Box::new(GuardedLogger { inner })).is_ok() {
        log::set_max_level(max.max(LevelFilter::Error));
    }
}
