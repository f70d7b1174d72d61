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
//!
//! With `log_format: "json"` ([`set_format`], called once the config is read) every line is
//! one JSON object: `time`, `level`, `message`, and the `snapshot` and `storage` fields of the
//! lines that have them (the record's key-values). Lines before the config is read (a config
//! error) are text.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};

const OUR_TARGET: &str = "vault_raft_snapshot";

/// The shape of log lines: the `log_format` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `[time LEVEL] message` (no time and a priority prefix under journald).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The key's value as written.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

static JSON: AtomicBool = AtomicBool::new(false);

/// Switches every following line to `format`.
pub fn set_format(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
}

struct GuardedLogger {
    text: env_logger::Logger,
    json: env_logger::Logger,
}

impl GuardedLogger {
    fn inner(&self) -> &env_logger::Logger {
        if JSON.load(Ordering::Relaxed) {
            &self.json
        } else {
            &self.text
        }
    }
}

fn allowed(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with(OUR_TARGET) || metadata.level() <= Level::Debug
}

impl Log for GuardedLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        allowed(metadata) && self.inner().enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if allowed(record.metadata()) {
            self.inner().log(record);
        }
    }

    fn flush(&self) {
        self.inner().flush();
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

/// A text log line's message with control characters escaped (see [`crate::text`]): an
/// error text from Vault, a storage or a bucket can neither forge a log line nor drive the
/// terminal. Backslashes stay as they are (a log line is never read back).
#[must_use]
pub fn printable(message: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c != '\\' && crate::text::needs_escape(c);
    if !message.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len() + 8);
    let mut utf8 = [0u8; 4];
    for c in message.chars() {
        if unsafe_char(c) {
            out.push_str(&crate::text::escape(c.encode_utf8(&mut utf8)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One log record as a JSON object: `time` (RFC 3339, UTC, milliseconds), `level`
/// (lower case), `message`, then the record's key-values (`snapshot`, `storage`).
#[must_use]
pub fn json_line(time: &str, record: &Record<'_>) -> String {
    struct Fields(serde_json::Map<String, serde_json::Value>);
    impl<'kvs> log::kv::VisitSource<'kvs> for Fields {
        fn visit_pair(
            &mut self,
            key: log::kv::Key<'kvs>,
            value: log::kv::Value<'kvs>,
        ) -> Result<(), log::kv::Error> {
            self.0.insert(key.to_string(), value.to_string().into());
            Ok(())
        }
    }
    let mut fields = Fields(serde_json::Map::new());
    fields.0.insert("time".into(), time.into());
    fields.0.insert(
        "level".into(),
        record.level().as_str().to_lowercase().into(),
    );
    fields
        .0
        .insert("message".into(), record.args().to_string().into());
    // A visitor that never fails: every pair is taken.
    let _ = record.key_values().visit(&mut fields);
    serde_json::Value::Object(fields.0).to_string()
}

/// Installs the logger. Call once, first thing in `main`.
pub fn init() {
    let journal = std::env::var("JOURNAL_STREAM").is_ok_and(|v| stderr_is_journal(&v));
    let builder = || {
        let mut builder =
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
        builder.format_target(false);
        builder
    };
    let mut text = builder();
    text.format(move |buf, record| {
        let message = printable(&record.args().to_string()).into_owned();
        if journal {
            writeln!(buf, "<{}>{message}", journal_priority(record.level()))
        } else {
            // env_logger's own layout: `[2026-12-04T19:25:54Z WARN ] message`.
            let level = record.level();
            writeln!(buf, "[{} {level:<5}] {message}", buf.timestamp())
        }
    });
    let mut json = builder();
    json.format(move |buf, record| {
        let line = json_line(&buf.timestamp_millis().to_string(), record);
        if journal {
            writeln!(buf, "<{}>{line}", journal_priority(record.level()))
        } else {
            writeln!(buf, "{line}")
        }
    });
    let (text, json) = (text.build(), json.build());
    let max = text.filter();
    if log::set_boxed_logger(Box::new(GuardedLogger { text, json })).is_ok() {
        log::set_max_level(max.max(LevelFilter::Error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_log_messages_cannot_forge_lines_or_drive_the_terminal() {
        assert_eq!(
            printable("Vault answered 500: boom\n[2026-01-01T00:00:00Z INFO ] all good\x1b[2J"),
            "Vault answered 500: boom\\n[2026-01-01T00:00:00Z INFO ] all good\\x1b[2J"
        );
        assert_eq!(printable(r#"key "a\b" \u{202e}"#), r#"key "a\b" \u{202e}"#);
        assert_eq!(printable("rtl \u{202e}x"), "rtl \\u{202e}x");
        assert!(matches!(printable("plain"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn a_json_line_carries_time_level_message_and_fields() {
        let fields: &[(&str, &str)] =
            &[("snapshot", "raft_snapshot-1.snap"), ("storage", "local-0")];
        let record = Record::builder()
            .args(format_args!("Stored \"it\"\nthere"))
            .level(Level::Warn)
            .key_values(&fields)
            .build();
        let line = json_line("2026-11-23T10:00:00.123Z", &record);
        assert!(!line.contains('\n'), "{line}");
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "time": "2026-11-23T10:00:00.123Z", "level": "warn",
                "message": "Stored \"it\"\nthere",
                "snapshot": "raft_snapshot-1.snap", "storage": "local-0",
            })
        );
    }
}
