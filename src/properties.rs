//! Property tests: the snapshot verifier, the Go-duration parser and the config loader (and
//! the probes of what it loaded) never panic on any input, and a mutated snapshot either
//! verifies to exactly the original content or is refused. `PROPTEST_CASES` sets how many
//! cases run (proptest's default, 256, in CI); `contrib/proptest-long.sh` runs many more.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::archive::build::{ArchiveOptions, archive_bytes, pseudo_random_bytes};
use crate::archive::verify::{SnapshotSummary, verify_observing};
use crate::config::Config;
use crate::duration;

/// What a snapshot verifies to: its summary, meta.json, and the SHA-256 of state.bin as it
/// streamed past.
fn content(bytes: &[u8]) -> anyhow::Result<(SnapshotSummary, Vec<u8>, Vec<u8>)> {
    let mut hash = Sha256::new();
    let (summary, meta) = verify_observing(bytes, &mut |piece| {
        hash.update(piece);
        Ok(())
    })?;
    Ok((summary, meta, hash.finalize().to_vec()))
}

fn original() -> Vec<u8> {
    archive_bytes(&pseudo_random_bytes(3000, 11), &ArchiveOptions::default()).unwrap()
}

/// One way to damage a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { at: usize },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
}

impl Mutation {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        // An earlier truncation may have left nothing to flip or delete.
        if out.is_empty() && !matches!(self, Mutation::Insert { .. }) {
            return out;
        }
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match *self {
            Mutation::Flip { at: i, mask } => {
                let i = at(i, out.len());
                out[i] ^= mask;
            }
            Mutation::Truncate { at: i } => out.truncate(at(i, out.len())),
            Mutation::Insert { at: i, byte } => {
                let i = at(i, out.len() + 1);
                out.insert(i, byte);
            }
            Mutation::Delete { at: i } => {
                let i = at(i, out.len());
                out.remove(i);
            }
        }
        out
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
    ]
}

proptest! {
    #[test]
    fn a_mutated_snapshot_verifies_to_the_same_content_or_is_refused(
        mutations in proptest::collection::vec(mutation(), 1..4)
    ) {
        let good = original();
        let expected = content(&good).unwrap();
        let mut bytes = good;
        for m in &mutations {
            bytes = m.apply(&bytes);
        }
        if let Ok(got) = content(&bytes) {
            // Only what carries no content may change: the gzip header's time or OS byte,
            // tar fields the verifier does not read.
            prop_assert_eq!(&got.1, &expected.1);
            prop_assert_eq!(&got.2, &expected.2);
            prop_assert_eq!(got.0.index, expected.0.index);
            prop_assert_eq!(got.0.state_size, expected.0.state_size);
        }
    }

    #[test]
    fn the_verifier_never_panics_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096)
    ) {
        let _ = content(&bytes);
        // Behind a valid gzip header, arbitrary bytes reach the deflate and tar layers.
        let mut prefixed = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        prefixed.extend_from_slice(&bytes);
        let _ = content(&prefixed);
    }

    #[test]
    fn the_duration_parser_never_panics(text in ".{0,40}") {
        let _ = duration::parse(&text);
    }

    #[test]
    fn go_like_durations_parse_without_panic_and_format_back(
        text in "[-+]?([0-9]{0,22}(\\.[0-9]{0,22})?(ns|us|µs|ms|s|m|h)?){0,4}"
    ) {
        if let Ok(parsed) = duration::parse(&text) {
            let formatted = duration::format(parsed);
            prop_assert_eq!(duration::parse(&formatted), Ok(parsed), "{} -> {}", text, formatted);
        }
    }

    #[test]
    fn any_duration_formats_to_text_that_parses_back(nanos in 0u64..(1u64 << 62)) {
        let d = Duration::from_nanos(nanos);
        prop_assert_eq!(duration::parse(&duration::format(d)), Ok(d));
    }

    #[test]
    fn the_config_loader_never_panics_on_arbitrary_files(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        std::fs::File::create(&path).unwrap().write_all(&bytes).unwrap();
        if let Err(e) = Config::load(&path, &|_| None) {
            prop_assert!(e.to_string().contains(&path.display().to_string()), "{}", e);
        }
    }

    #[test]
    fn the_config_loader_never_panics_on_any_value_of_any_key(
        entries in proptest::collection::vec((key(), json_value()), 0..6)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        let object: serde_json::Map<String, serde_json::Value> = entries.into_iter().collect();
        std::fs::write(&path, serde_json::Value::Object(object).to_string()).unwrap();
        // Validation, then every probe, as `once` does.
        if let Err(e) = Config::load(&path, &|_| None)
            .and_then(|c| crate::config::probe::all(&c, &|_| None))
        {
            // Every refusal names the file (or the environment variable it read).
            let message = e.to_string();
            prop_assert!(
                message.contains(&path.display().to_string()) || message.contains("environment variable"),
                "{}", message
            );
        }
    }
}

/// A key the config knows (top level, or a storage section), or any other.
fn key() -> impl Strategy<Value = String> {
    let known: Vec<String> = crate::config::KEYS
        .iter()
        .map(|k| k.key.split('.').next().unwrap_or(k.key).to_string())
        .collect();
    prop_oneof![
        4 => proptest::sample::select(known),
        1 => "[a-z_]{1,12}",
    ]
}

/// Any JSON value, a few levels deep, with the strings a config holds.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ -~]{0,20}".prop_map(Value::String),
        prop_oneof![
            Just("1h"),
            Just("0s"),
            Just("-5m"),
            Just("1e3h"),
            Just("file://"),
            Just("env://"),
            Just("/nonexistent"),
            Just("/tmp"),
            Just("http://127.0.0.1:1"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

#[test]
fn the_strategies_reach_valid_input() {
    // The verifier's property is not vacuous: the unmutated snapshot verifies.
    assert!(content(&original()).is_ok());
    assert!(Path::new("/tmp").is_dir());
}
