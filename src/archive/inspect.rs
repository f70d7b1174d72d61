//! What a snapshot holds, read as it streams past the verifier: meta.json (ID, index, term,
//! version, the Raft configuration) and the keys of `state.bin`, counted and sized by prefix.
//!
//! `state.bin` is what Vault's FSM writes (`physical/raft/fsm.go` `writeTo`): a sequence of
//! protobuf `StorageEntry {1: string key, 2: bytes value, 3: bool seal_wrap}` messages, each
//! preceded by its length as a uvarint. Keys are plain text, values are encrypted. The
//! decoder below is fed the bytes in whatever pieces they arrive, keeps only the key of the
//! entry it is in, and so runs in memory bounded by the longest key ([`KEY_LIMIT`]), however
//! large the snapshot.
//!
//! The decoder never decides whether a snapshot is good: that is the verifier's job, the same
//! for `verify`, `inspect`, `restore` and the cycle. A `state.bin` it does not understand (a
//! snapshot from another builder, a newer FSM format) is reported as not decoded, with why,
//! and the inspection still succeeds.
//!
//! Memory and output are bounded whatever the number of keys: at most [`TRACKED_PREFIXES`]
//! prefixes of at most [`PREFIX_LIMIT`] bytes are held (about 1.5 MiB), and the report shows
//! the [`SHOWN_PREFIXES`] with the most bytes and one "other" line for the rest. When more
//! prefixes than that turn up, the smallest are folded into "other" as they come. Vault writes
//! its keys in order, so a prefix's keys are contiguous and a folded prefix never comes back:
//! the figures are exact. For keys out of order (a crafted file), a folded prefix may come
//! back and be counted again as new: then the report says its per-prefix figures are
//! approximate (the totals stay exact).

use std::collections::HashMap;
use std::io::Read;

use anyhow::{Result, bail, ensure};
use serde::Serialize;

use super::verify::{SnapshotSummary, verify_observing};

/// The longest key accepted. Vault's keys are paths of a few hundred bytes at most.
pub const KEY_LIMIT: usize = 64 * 1024;

/// The depth of key prefixes shown by default (`core/`, `logical/<mount uuid>/`).
pub const DEFAULT_DEPTH: usize = 2;

/// How many prefixes the report shows (those with the most bytes); the rest are summed up
/// in one "other" line.
pub const SHOWN_PREFIXES: usize = 50;

/// How many distinct prefixes are held while decoding; beyond it the smallest are folded
/// into "other", keeping the [`SHOWN_PREFIXES`] largest.
pub const TRACKED_PREFIXES: usize = 4096;

/// The longest prefix held and shown, in bytes; a longer one is cut (at a character
/// boundary) and ends in `…`. Vault's prefixes (`logical/<uuid>/`) are under 64 bytes.
pub const PREFIX_LIMIT: usize = 256;

/// Everything `inspect` reports about one snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// meta.json `ID` (`bolt-snapshot` for Vault's FSM).
    pub id: String,
    /// meta.json `Version`.
    pub version: u64,
    /// Raft index.
    pub index: u64,
    /// Raft term.
    pub term: u64,
    /// Bytes of the archive as stored.
    pub size: u64,
    /// Bytes of `state.bin`.
    pub state_size: u64,
    /// The Raft configuration at the snapshot.
    pub servers: Vec<Server>,
    /// What could not be decoded, and why (`state.bin: ...`, `meta.json: ...`); the snapshot
    /// verified all the same. Empty when everything decoded.
    pub not_decoded: Vec<String>,
    /// Number of keys in `state.bin`; `None` when it did not decode.
    pub keys: Option<u64>,
    /// Bytes of all values together; `None` when `state.bin` did not decode.
    pub value_bytes: Option<u64>,
    /// The prefix depth of `prefixes`.
    pub depth: usize,
    /// Key counts and value bytes of the (at most [`SHOWN_PREFIXES`]) prefixes with the most
    /// bytes, most bytes first.
    pub prefixes: Vec<PrefixStats>,
    /// The keys under every other prefix, together; `None` when every prefix is shown.
    pub other: Option<OtherPrefixes>,
    /// True when keys came out of order and prefixes were folded: the per-prefix figures
    /// may then be low (a prefix also counted in `other`); the totals are exact.
    pub approximate: bool,
}

/// One server of the Raft configuration in meta.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Server {
    /// Node ID.
    #[serde(rename(deserialize = "ID"))]
    pub id: String,
    /// Cluster address.
    #[serde(rename(deserialize = "Address"))]
    pub address: String,
    /// `voter`, `nonvoter` or `staging`.
    #[serde(rename(deserialize = "Suffrage"), deserialize_with = "suffrage")]
    pub suffrage: String,
}

fn suffrage<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let n: u64 = serde::Deserialize::deserialize(d)?;
    Ok(match n {
        0 => "voter".into(),
        1 => "nonvoter".into(),
        2 => "staging".into(),
        other => format!("suffrage {other}"),
    })
}

/// Keys under one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrefixStats {
    /// The prefix, e.g. `logical/1c4b.../` (or a whole key shorter than the depth).
    pub prefix: String,
    /// How many keys.
    pub count: u64,
    /// Bytes of their values.
    pub bytes: u64,
}

/// The keys under the prefixes not shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OtherPrefixes {
    /// How many prefixes (exact unless the inspection is `approximate`).
    pub prefixes: u64,
    /// How many keys.
    pub count: u64,
    /// Bytes of their values.
    pub bytes: u64,
}

#[derive(serde::Deserialize)]
struct Meta {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "Version", default)]
    version: u64,
    #[serde(rename = "Configuration", default)]
    configuration: Option<Configuration>,
}

#[derive(serde::Deserialize)]
struct Configuration {
    #[serde(rename = "Servers", default)]
    servers: Option<Vec<Server>>,
}

/// Verifies the snapshot `reader` holds and reports what is in it, in one pass.
///
/// What the decoder cannot read (a `state.bin` that is not a sequence of `StorageEntry`
/// messages to its last byte, a meta.json whose Raft configuration is not Vault's) is
/// reported in [`Inspection::not_decoded`]; it never makes a verified snapshot an error.
///
/// # Errors
/// Exactly what [`super::verify::verify`] refuses.
pub fn inspect<R: Read>(reader: R, depth: usize) -> Result<Inspection> {
    let mut decoder = StateDecoder::new(depth);
    let (summary, meta) = verify_observing(reader, &mut |chunk| {
        decoder.feed(chunk);
        Ok(())
    })?;
    decoder.finish();
    Ok(report(&summary, &meta, decoder))
}

fn report(summary: &SnapshotSummary, meta: &[u8], decoder: StateDecoder) -> Inspection {
    let mut not_decoded = Vec::new();
    let meta = match serde_json::from_slice::<Meta>(meta) {
        Ok(meta) => meta,
        Err(e) => {
            not_decoded.push(format!("meta.json: {e}"));
            Meta {
                id: String::new(),
                version: 0,
                configuration: None,
            }
        }
    };
    let depth = decoder.depth;
    let (keys, value_bytes, prefixes, other, approximate) = match decoder.failed {
        Some(why) => {
            not_decoded.push(why);
            (None, None, Vec::new(), None, false)
        }
        None => {
            let approximate = decoder.tally.folded && decoder.out_of_order;
            let (prefixes, other) = decoder.tally.top();
            (
                Some(decoder.keys),
                Some(decoder.value_bytes),
                prefixes,
                other,
                approximate,
            )
        }
    };
    Inspection {
        id: meta.id,
        version: meta.version,
        index: summary.index,
        term: summary.term,
        size: summary.archive_size,
        state_size: summary.state_size,
        servers: meta
            .configuration
            .and_then(|c| c.servers)
            .unwrap_or_default(),
        not_decoded,
        keys,
        value_bytes,
        depth,
        prefixes,
        other,
        approximate,
    }
}

/// Key counts and bytes by prefix, in bounded memory (see the module).
#[derive(Debug, Default)]
struct Tally {
    groups: HashMap<String, (u64, u64)>,
    other: OtherPrefixes,
    /// True once a prefix was folded into `other`.
    folded: bool,
}

/// Most bytes first, then most keys, then by name: the order of the report.
fn rank(a: &(String, (u64, u64)), b: &(String, (u64, u64))) -> std::cmp::Ordering {
    (b.1.1, b.1.0)
        .cmp(&(a.1.1, a.1.0))
        .then_with(|| a.0.cmp(&b.0))
}

impl Tally {
    fn add(&mut self, prefix: &str, bytes: u64) {
        if let Some(group) = self.groups.get_mut(prefix) {
            group.0 += 1;
            group.1 += bytes;
            return;
        }
        if self.groups.len() >= TRACKED_PREFIXES {
            self.fold();
        }
        self.groups.insert(prefix.to_string(), (1, bytes));
    }

    /// Keeps the [`SHOWN_PREFIXES`] largest groups and folds the rest into `other`.
    fn fold(&mut self) {
        let mut all: Vec<(String, (u64, u64))> = self.groups.drain().collect();
        all.sort_by(rank);
        for (_, (count, bytes)) in all.drain(SHOWN_PREFIXES.min(all.len())..) {
            self.other.prefixes += 1;
            self.other.count += count;
            self.other.bytes += bytes;
            self.folded = true;
        }
        self.groups.extend(all);
    }

    /// The shown prefixes, largest first, and the rest.
    fn top(mut self) -> (Vec<PrefixStats>, Option<OtherPrefixes>) {
        self.fold();
        let mut shown: Vec<(String, (u64, u64))> = self.groups.into_iter().collect();
        shown.sort_by(rank);
        let prefixes = shown
            .into_iter()
            .map(|(prefix, (count, bytes))| PrefixStats {
                prefix,
                count,
                bytes,
            })
            .collect();
        (prefixes, (self.other.prefixes > 0).then_some(self.other))
    }
}

/// `prefix` cut to [`PREFIX_LIMIT`] bytes (at a character boundary, ending in `…`).
fn bounded(prefix: &str) -> std::borrow::Cow<'_, str> {
    if prefix.len() <= PREFIX_LIMIT {
        return prefix.into();
    }
    let mut end = PREFIX_LIMIT - '…'.len_utf8();
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &prefix[..end]).into()
}

/// The first `depth` segments of `key` with their trailing `/`, or the whole key when it
/// has no more segments than that.
#[must_use]
pub fn key_prefix(key: &str, depth: usize) -> &str {
    let mut end = 0;
    for _ in 0..depth {
        match key[end..].find('/') {
            Some(slash) => end += slash + 1,
            None => return key,
        }
    }
    if end == key.len() { key } else { &key[..end] }
}

/// Where the decoder is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the uvarint length of the next entry (`shift` > 0: part of it is read).
    Length { value: u64, shift: u32 },
    /// Inside an entry, reading a field's tag.
    Tag { value: u64, shift: u32 },
    /// Reading the length of length-delimited field `field`.
    FieldLength { field: u64, value: u64, shift: u32 },
    /// Skipping a varint field's value.
    Varint { shift: u32 },
    /// Reading `left` more bytes of the key.
    Key { left: u64 },
    /// Skipping `left` more bytes (the value, or a field we do not know).
    Skip { left: u64 },
}

/// The streaming `state.bin` decoder.
#[derive(Debug)]
struct StateDecoder {
    depth: usize,
    state: State,
    /// Bytes of the current entry still to come.
    remaining: u64,
    /// Offset in state.bin, for error messages.
    offset: u64,
    /// Where the current entry starts.
    entry_start: u64,
    key: Vec<u8>,
    /// The key of the previous entry, to tell whether keys come in order.
    previous: Vec<u8>,
    out_of_order: bool,
    value_len: u64,
    keys: u64,
    value_bytes: u64,
    tally: Tally,
    /// Why decoding stopped; the rest of the stream is then ignored.
    failed: Option<String>,
}

impl StateDecoder {
    fn new(depth: usize) -> Self {
        Self {
            depth,
            state: State::Length { value: 0, shift: 0 },
            remaining: 0,
            offset: 0,
            entry_start: 0,
            key: Vec::new(),
            previous: Vec::new(),
            out_of_order: false,
            value_len: 0,
            keys: 0,
            value_bytes: 0,
            tally: Tally::default(),
            failed: None,
        }
    }

    /// Decodes `chunk`; after the first error, records why and ignores the rest.
    fn feed(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() && self.failed.is_none() {
            match self.step(chunk) {
                Ok(used) => {
                    chunk = &chunk[used..];
                    self.offset += used as u64;
                }
                Err(e) => self.failed = Some(format!("{e:#}")),
            }
        }
    }

    /// Consumes from the front of `chunk`; returns how many bytes.
    fn step(&mut self, chunk: &[u8]) -> Result<usize> {
        if let State::Key { left } | State::Skip { left } = self.state {
            let take = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
            if let State::Key { .. } = self.state {
                self.key.extend_from_slice(&chunk[..take]);
            }
            self.remaining -= take as u64;
            let left = left - take as u64;
            self.state = match self.state {
                State::Key { .. } if left > 0 => State::Key { left },
                State::Skip { .. } if left > 0 => State::Skip { left },
                _ => self.after_field(),
            };
            return Ok(take);
        }
        let byte = chunk[0];
        if !matches!(self.state, State::Length { .. }) {
            ensure!(
                self.remaining > 0,
                "state.bin is corrupt: a field overruns the entry at byte {}",
                self.entry_start
            );
            self.remaining -= 1;
        }
        self.state = match self.state {
            State::Length { value, shift } => match varint_step(value, shift, byte)? {
                Err((value, shift)) => State::Length { value, shift },
                Ok(length) => {
                    self.entry_start = self.offset + 1;
                    self.remaining = length;
                    self.key.clear();
                    self.value_len = 0;
                    if length == 0 {
                        self.end_entry();
                        State::Length { value: 0, shift: 0 }
                    } else {
                        State::Tag { value: 0, shift: 0 }
                    }
                }
            },
            State::Tag { value, shift } => match varint_step(value, shift, byte)? {
                Err((value, shift)) => State::Tag { value, shift },
                Ok(tag) => {
                    let (field, wire_type) = (tag >> 3, tag & 7);
                    match wire_type {
                        0 => State::Varint { shift: 0 },
                        2 => State::FieldLength {
                            field,
                            value: 0,
                            shift: 0,
                        },
                        1 => self.skip(8)?,
                        5 => self.skip(4)?,
                        other => bail!(
                            "state.bin is not a sequence of storage entries: wire type {other} \
                             in the entry at byte {}",
                            self.entry_start
                        ),
                    }
                }
            },
            State::FieldLength {
                field,
                value,
                shift,
            } => match varint_step(value, shift, byte)? {
                Err((value, shift)) => State::FieldLength {
                    field,
                    value,
                    shift,
                },
                Ok(length) => match field {
                    1 => {
                        ensure!(
                            length <= KEY_LIMIT as u64,
                            "state.bin has a key of {length} bytes at byte {} (more than {KEY_LIMIT})",
                            self.entry_start
                        );
                        self.ensure_fits(length)?;
                        self.key.clear();
                        if length == 0 {
                            self.after_field()
                        } else {
                            State::Key { left: length }
                        }
                    }
                    other => {
                        if other == 2 {
                            self.value_len = length;
                        }
                        self.skip(length)?
                    }
                },
            },
            State::Varint { shift } => {
                ensure!(
                    shift <= 63,
                    "state.bin has an overlong varint at byte {}",
                    self.offset
                );
                if byte & 0x80 == 0 {
                    self.after_field()
                } else {
                    State::Varint { shift: shift + 7 }
                }
            }
            State::Key { .. } | State::Skip { .. } => unreachable!("handled above"),
        };
        Ok(1)
    }

    /// A skip of `length` bytes, or the next field when it is empty.
    fn skip(&mut self, length: u64) -> Result<State> {
        self.ensure_fits(length)?;
        Ok(if length == 0 {
            self.after_field()
        } else {
            State::Skip { left: length }
        })
    }

    fn ensure_fits(&self, length: u64) -> Result<()> {
        ensure!(
            length <= self.remaining,
            "state.bin is corrupt: a field of {length} bytes overruns the entry at byte {}",
            self.entry_start
        );
        Ok(())
    }

    /// The state after a complete field: the next tag, or the next entry.
    fn after_field(&mut self) -> State {
        if self.remaining == 0 {
            self.end_entry();
            State::Length { value: 0, shift: 0 }
        } else {
            State::Tag { value: 0, shift: 0 }
        }
    }

    fn end_entry(&mut self) {
        if self.keys > 0 && self.key < self.previous {
            self.out_of_order = true;
        }
        let key = String::from_utf8_lossy(&self.key);
        self.tally
            .add(&bounded(key_prefix(&key, self.depth)), self.value_len);
        self.keys += 1;
        self.value_bytes += self.value_len;
        std::mem::swap(&mut self.key, &mut self.previous);
    }

    /// Records an error when the stream ended inside an entry.
    fn finish(&mut self) {
        if self.failed.is_none() && !matches!(self.state, State::Length { shift: 0, .. }) {
            self.failed = Some(format!(
                "state.bin ends inside the entry at byte {} (it does not decode to its end)",
                self.entry_start
            ));
        }
    }
}

/// One byte of a uvarint: `Ok(value)` when it is complete, `Err((value, shift))` to go on.
#[allow(clippy::type_complexity)]
fn varint_step(value: u64, shift: u32, byte: u8) -> Result<std::result::Result<u64, (u64, u32)>> {
    ensure!(shift < 64, "state.bin has an overlong varint");
    let value = value | (u64::from(byte & 0x7f) << shift);
    Ok(if byte & 0x80 == 0 {
        Ok(value)
    } else {
        Err((value, shift + 7))
    })
}

/// Encodes `entries` as Vault's FSM writes state.bin, for tests, the demo and benchmarks.
#[must_use]
pub fn encode_state(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in entries {
        let mut message = Vec::new();
        if !key.is_empty() {
            message.push(0x0a);
            put_varint(&mut message, key.len() as u64);
            message.extend_from_slice(key.as_bytes());
        }
        if !value.is_empty() {
            message.push(0x12);
            put_varint(&mut message, value.len() as u64);
            message.extend_from_slice(value);
        }
        put_varint(&mut out, message.len() as u64);
        out.extend_from_slice(&message);
    }
    out
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::build::{ArchiveOptions, archive_bytes};

    fn decode(state: &[u8], depth: usize, piece: usize) -> Result<StateDecoder> {
        let mut decoder = StateDecoder::new(depth);
        for chunk in state.chunks(piece.max(1)) {
            decoder.feed(chunk);
        }
        decoder.finish();
        match decoder.failed.take() {
            Some(why) => Err(anyhow::anyhow!(why)),
            None => Ok(decoder),
        }
    }

    fn groups(decoder: StateDecoder) -> HashMap<String, (u64, u64)> {
        decoder.tally.groups
    }

    fn sample() -> Vec<u8> {
        let big = vec![7u8; 300];
        encode_state(&[
            ("core/keyring", b"k1"),
            ("core/master", b"m"),
            ("logical/uuid-1/secret-a", &big),
            ("logical/uuid-1/secret-b", b"vv"),
            ("sys/token/id/h1", b"t"),
            ("", b""),
        ])
    }

    #[test]
    fn prefixes_take_the_first_segments_or_the_whole_key() {
        assert_eq!(key_prefix("logical/uuid/a/b", 2), "logical/uuid/");
        assert_eq!(key_prefix("core/keyring", 2), "core/keyring");
        assert_eq!(key_prefix("core/keyring", 1), "core/");
        assert_eq!(key_prefix("a/b/", 2), "a/b/");
        assert_eq!(key_prefix("plain", 3), "plain");
        assert_eq!(key_prefix("x/y", 0), "");
    }

    #[test]
    fn counts_keys_and_value_bytes_by_prefix_in_any_piece_size() {
        let state = sample();
        for piece in [1, 2, 3, 7, 64, state.len()] {
            let decoder = decode(&state, 2, piece).unwrap();
            assert_eq!(decoder.keys, 6, "piece {piece}");
            assert_eq!(decoder.value_bytes, 2 + 1 + 300 + 2 + 1);
            let groups = groups(decoder);
            assert_eq!(groups["logical/uuid-1/"], (2, 302));
            assert_eq!(groups["core/keyring"], (1, 2));
            assert_eq!(groups["sys/token/"], (1, 1));
        }
        let shallow = decode(&state, 1, 5).unwrap();
        assert_eq!(groups(shallow)["core/"], (2, 3));
    }

    #[test]
    fn reads_seal_wrap_and_unknown_fields() {
        // key, seal_wrap = true (field 3, varint), a fixed64 and a fixed32 field, then value.
        let mut message = vec![0x0a, 3, b'a', b'/', b'b', 0x18, 0x01];
        message.extend([
            0x21, 1, 2, 3, 4, 5, 6, 7, 8, 0x2d, 1, 2, 3, 4, 0x12, 2, 9, 9,
        ]);
        let mut state = vec![message.len() as u8];
        state.extend(&message);
        let decoder = decode(&state, 2, 1).unwrap();
        assert_eq!((decoder.keys, decoder.value_bytes), (1, 2));
    }

    #[test]
    fn refuses_a_state_that_does_not_decode_to_its_end() {
        let state = sample();
        for cut in 1..state.len() {
            let decoded = decode(&state[..cut], 2, 5);
            let whole_entries = decode(&state[..cut], 2, cut).is_ok();
            assert_eq!(decoded.is_ok(), whole_entries);
        }
        // Cutting inside the first entry always fails.
        assert!(decode(&state[..5], 2, 5).is_err());
        // A field longer than its entry, and a tag whose field length lies past the entry.
        assert!(decode(&[3, 0x0a, 9, b'a'], 2, 1).is_err());
        assert!(decode(&[1, 0x0a, 0], 2, 1).is_err());
        // Wire type 3 (groups) is not a StorageEntry.
        assert!(decode(&[1, 0x0b], 2, 1).is_err());
        // A key over the limit.
        let mut huge = vec![0x0a];
        put_varint(&mut huge, KEY_LIMIT as u64 + 1);
        let mut state = Vec::new();
        put_varint(&mut state, huge.len() as u64 + KEY_LIMIT as u64 + 1);
        state.extend(huge);
        assert!(
            decode(&state, 2, 100)
                .unwrap_err()
                .to_string()
                .contains("key of")
        );
    }

    #[test]
    fn inspects_a_whole_archive() {
        let state = sample();
        let bytes = archive_bytes(&state, &ArchiveOptions::default()).unwrap();
        let report = inspect(&bytes[..], DEFAULT_DEPTH).unwrap();
        assert_eq!(report.keys, Some(6));
        assert!(report.not_decoded.is_empty());
        assert!(report.other.is_none());
        assert_eq!(report.index, 1234);
        assert_eq!(report.id, "bolt-snapshot");
        assert_eq!(report.version, 1);
        assert_eq!(report.state_size, state.len() as u64);
        assert_eq!(report.size, bytes.len() as u64);
        assert_eq!(report.servers.len(), 1);
        assert_eq!(report.servers[0].suffrage, "voter");
        assert_eq!(report.prefixes[0].prefix, "logical/uuid-1/");
        assert_eq!(report.prefixes[0].count, 2);
    }

    #[test]
    fn reports_a_state_that_is_not_storage_entries_without_refusing_the_snapshot() {
        let bytes = archive_bytes(&[0xff; 40], &ArchiveOptions::default()).unwrap();
        let report = inspect(&bytes[..], 2).unwrap();
        assert_eq!(report.keys, None);
        assert_eq!(report.index, 1234);
        assert_eq!(report.not_decoded.len(), 1, "{:?}", report.not_decoded);
        assert!(report.not_decoded[0].starts_with("state.bin"));
        // What the verifier refuses, inspect still refuses.
        let bad = archive_bytes(
            &sample(),
            &ArchiveOptions {
                fault: Some(crate::archive::build::Fault::FlipStateByte),
                ..ArchiveOptions::default()
            },
        )
        .unwrap();
        assert!(inspect(&bad[..], 2).is_err());
    }

    fn many_prefixes(n: usize, sorted: bool) -> Vec<u8> {
        let mut keys: Vec<String> = (0..n).map(|i| format!("p{i:07}/k")).collect();
        if !sorted {
            // Interleave two halves: every prefix still comes once, but out of order.
            let (a, b) = keys.split_at(n / 2);
            keys = b
                .iter()
                .zip(a)
                .flat_map(|(x, y)| [x.clone(), y.clone()])
                .collect();
        }
        let value = [1u8; 3];
        let entries: Vec<(&str, &[u8])> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), &value[..1 + i % 3]))
            .collect();
        encode_state(&entries)
    }

    #[test]
    fn holds_a_bounded_number_of_prefixes_and_sums_up_the_rest_exactly() {
        let n = TRACKED_PREFIXES * 3 + 17;
        let state = many_prefixes(n, true);
        let decoder = decode(&state, 2, 4096).unwrap();
        assert!(decoder.tally.groups.len() <= TRACKED_PREFIXES);
        assert!(!decoder.out_of_order);
        let total: u64 = (0..n as u64).map(|i| 1 + i % 3).sum();
        let (prefixes, other) = decoder.tally.top();
        assert_eq!(prefixes.len(), SHOWN_PREFIXES);
        assert!(prefixes.iter().all(|p| p.bytes == 3 && p.count == 1));
        let other = other.unwrap();
        assert_eq!(other.prefixes, (n - SHOWN_PREFIXES) as u64);
        assert_eq!(other.count, (n - SHOWN_PREFIXES) as u64);
        assert_eq!(other.bytes, total - 3 * SHOWN_PREFIXES as u64);
    }

    #[test]
    fn keys_out_of_order_make_the_figures_approximate_but_the_totals_exact() {
        let n = TRACKED_PREFIXES * 2;
        let bytes = archive_bytes(&many_prefixes(n, false), &ArchiveOptions::default()).unwrap();
        let report = inspect(&bytes[..], 2).unwrap();
        assert!(report.approximate);
        let other = report.other.unwrap();
        let shown: u64 = report.prefixes.iter().map(|p| p.count).sum();
        assert_eq!(shown + other.count, n as u64);
        // In order, the same keys are exact.
        let bytes = archive_bytes(&many_prefixes(n, true), &ArchiveOptions::default()).unwrap();
        assert!(!inspect(&bytes[..], 2).unwrap().approximate);
    }

    #[test]
    fn long_prefixes_are_cut_at_a_character_boundary() {
        let long = format!("{}/x", "é".repeat(PREFIX_LIMIT));
        let cut = bounded(key_prefix(&long, 1)).into_owned();
        assert!(cut.len() <= PREFIX_LIMIT, "{}", cut.len());
        assert!(cut.ends_with("é…"), "{cut}");
        assert_eq!(bounded("core/"), "core/");
    }
}
