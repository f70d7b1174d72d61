//! Streaming verification of a Vault snapshot, in the same pass as the download.
//!
//! The checks are those of section 9.6 of the Vault API contract (`shared/vault-api.md`),
//! which are stricter than Vault's own client and restore path:
//!
//! 1. the gzip stream decodes to its end: CRC32 and ISIZE match, and nothing follows it
//!    (no trailing bytes, no second member);
//! 2. the tar holds exactly `meta.json`, `state.bin`, `SHA256SUMS`, `SHA256SUMS.sealed`, in that
//!    order, as regular files, each complete, followed by the end-of-archive marker (two zero
//!    blocks) and nothing but zeros;
//! 3. `meta.json` is under 8 KiB, a JSON object with `Index` > 0, `Term`, and a `Size` equal to
//!    state.bin's length;
//! 4. `SHA256SUMS` is under 8 KiB and has exactly two lines `<64 hex>  meta.json` and
//!    `<64 hex>  state.bin` (either order), each matching the SHA-256 of that entry;
//! 5. `SHA256SUMS.sealed` is present, non-empty and under 8 KiB (only the cluster's seal can
//!    open it).
//!
//! A 200 with a truncated body is how a failed Vault snapshot looks (vault#12168): every
//! truncation point fails one of these checks.
//!
//! A hostile archive costs bounded memory and time: the stream is never held whole (256 KiB
//! buffers; the small entries are refused by their header's size before they are read), and
//! the gzip stream may expand to at most [`MAX_EXPANSION`] times its compressed size (plus
//! [`EXPANSION_SLACK`]), which Vault's encrypted state never comes near, so a decompression
//! bomb is refused after reading a little more than its own size times that.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use anyhow::{Context, Result, anyhow, bail, ensure};
use sha2::{Digest, Sha256};

use super::{ENTRY_NAMES, SMALL_ENTRY_LIMIT, hex};

/// Buffer size for the compressed stream and state.bin: large enough that the syscall and
/// per-call overhead is negligible, small enough to keep memory flat.
const BUFFER_SIZE: usize = 256 * 1024;

/// How many times its compressed size the gzip stream may expand to. Vault's barrier encrypts
/// every value, so real state barely compresses (OpenBao stores it uncompressed); deflate's own
/// limit is about 1032.
pub const MAX_EXPANSION: u64 = 200;
/// Expansion allowed beyond [`MAX_EXPANSION`], for small snapshots of mostly headers.
pub const EXPANSION_SLACK: u64 = 16 << 20;

/// What a verified snapshot holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotSummary {
    /// Raft index from meta.json.
    pub index: u64,
    /// Raft term from meta.json.
    pub term: u64,
    /// Length of state.bin.
    pub state_size: u64,
    /// Length of the gzip stream, i.e. of the file as stored.
    pub archive_size: u64,
}

#[derive(serde::Deserialize)]
struct Meta {
    #[serde(rename = "Index")]
    index: u64,
    #[serde(rename = "Term")]
    term: u64,
    #[serde(rename = "Size")]
    size: u64,
}

/// Reads `reader` to its end and verifies it is a complete, intact Vault snapshot.
///
/// # Errors
/// A message saying which check failed, e.g. `gzip stream is truncated or corrupt: ...` or
/// `hash check failed for "state.bin"`.
pub fn verify<R: Read>(reader: R) -> Result<SnapshotSummary> {
    verify_observing(reader, &mut |_| Ok(())).map(|(summary, _)| summary)
}

/// [`verify`], handing every piece of `state.bin` to `observe` as it streams past (for
/// `inspect`), and returning meta.json's bytes beside the summary.
///
/// # Errors
/// As [`verify`], and the first error of `observe`.
pub fn verify_observing<R: Read>(
    reader: R,
    observe: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<(SnapshotSummary, Vec<u8>)> {
    let compressed_count = Rc::new(Cell::new(0));
    let mut compressed = BufReader::with_capacity(
        BUFFER_SIZE,
        CountingReader::sharing(reader, Rc::clone(&compressed_count)),
    );
    ensure!(
        !compressed
            .fill_buf()
            .context("failed to read the snapshot")?
            .is_empty(),
        "the snapshot is empty (0 bytes)"
    );
    let gzip = Bounded {
        inner: flate2::bufread::GzDecoder::new(&mut compressed),
        compressed: compressed_count,
        produced: 0,
    };
    let mut archive = tar::Archive::new(CountingReader::new(gzip));

    let mut small = [Vec::new(), Vec::new(), Vec::new()];
    let mut state_hash = Sha256::new();
    let mut state_size = 0;
    let mut entries_end = 0;
    let mut seen = 0;
    for entry in archive.entries().map_err(gzip_or_tar)? {
        let mut entry = entry.map_err(gzip_or_tar)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(&expected) = ENTRY_NAMES.get(seen) else {
            bail!("unexpected file {name:?} after SHA256SUMS.sealed in the snapshot");
        };
        if name != expected {
            if ENTRY_NAMES.contains(&name.as_str()) {
                bail!(
                    "entry {name:?} is out of order: expected {expected:?} at position {}",
                    seen + 1
                );
            }
            bail!("unexpected file {name:?} in the snapshot (expected {expected:?})");
        }
        ensure!(
            entry.header().entry_type().is_file(),
            "entry {name:?} is not a regular file"
        );
        let size = entry.size();
        let read = if name == "state.bin" {
            state_size = size;
            copy_hashing(&mut entry, &mut state_hash, observe)?
        } else {
            ensure!(
                size < SMALL_ENTRY_LIMIT,
                "{name} is {size} bytes; Vault allows less than {SMALL_ENTRY_LIMIT}"
            );
            let slot = &mut small[if seen == 0 { 0 } else { seen - 1 }];
            entry.read_to_end(slot).map_err(gzip_or_tar)? as u64
        };
        ensure!(
            read == size,
            "{name} is truncated: {read} of {size} bytes present"
        );
        entries_end = entry.raw_file_position() + size.div_ceil(512) * 512;
        seen += 1;
    }
    if seen < ENTRY_NAMES.len() {
        bail!(
            "the snapshot is incomplete: {} is missing (the snapshot stream ended early)",
            ENTRY_NAMES[seen]
        );
    }

    let mut tar_stream = archive.into_inner();
    let marker_seen = tar_stream.count.get() > entries_end;
    let trailing = read_zeros(&mut tar_stream).map_err(gzip_or_tar)?;
    let Some(trailing) = trailing else {
        bail!("unexpected data after the end of the tar archive");
    };
    ensure!(
        marker_seen && trailing >= 512,
        "the tar end-of-archive marker is missing (the snapshot stream ended early)"
    );
    drop(tar_stream);
    ensure!(
        compressed
            .fill_buf()
            .context("failed to read the snapshot")?
            .is_empty(),
        "unexpected bytes after the end of the gzip stream"
    );
    let archive_size = compressed.get_ref().count.get();

    let [meta, sums, sealed] = small;
    let meta_sum = hex(&Sha256::digest(&meta));
    let state_sum = hex(&state_hash.finalize());
    let parsed: Meta = serde_json::from_slice(&meta)
        .context("meta.json is not a JSON object with numeric Index, Term and Size")?;
    ensure!(
        parsed.index > 0,
        "meta.json has Index 0: Vault had no snapshot data"
    );
    ensure!(
        parsed.size == state_size,
        "meta.json says Size {} but state.bin is {state_size} bytes",
        parsed.size
    );
    check_sums(&sums, &meta_sum, &state_sum)?;
    ensure!(!sealed.is_empty(), "SHA256SUMS.sealed is empty");
    let summary = SnapshotSummary {
        index: parsed.index,
        term: parsed.term,
        state_size,
        archive_size,
    };
    Ok((summary, meta))
}

/// Checks SHA256SUMS: exactly the two lines `<hash>  meta.json` and `<hash>  state.bin`.
fn check_sums(sums: &[u8], meta_sum: &str, state_sum: &str) -> Result<()> {
    let text = std::str::from_utf8(sums).context("SHA256SUMS is not text")?;
    ensure!(
        text.ends_with('\n'),
        "SHA256SUMS does not end with a newline (it is truncated)"
    );
    let mut meta_listed = false;
    let mut state_listed = false;
    for line in text.lines() {
        let (sum, name) = line
            .split_once("  ")
            .ok_or_else(|| anyhow!("SHA256SUMS has a malformed line {line:?}"))?;
        ensure!(
            sum.len() == 64
                && sum
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "SHA256SUMS has a malformed hash in line {line:?}"
        );
        let (expected, listed) = match name {
            "meta.json" => (meta_sum, &mut meta_listed),
            "state.bin" => (state_sum, &mut state_listed),
            other => bail!("SHA256SUMS lists an unexpected file {other:?}"),
        };
        ensure!(!*listed, "SHA256SUMS lists {name:?} twice");
        *listed = true;
        ensure!(sum == expected, "hash check failed for {name:?}");
    }
    ensure!(
        meta_listed,
        "SHA256SUMS is missing the hash for \"meta.json\""
    );
    ensure!(
        state_listed,
        "SHA256SUMS is missing the hash for \"state.bin\""
    );
    Ok(())
}

/// Streams `entry` into `hasher` and `observe`, returning the number of bytes read.
fn copy_hashing<R: Read>(
    entry: &mut R,
    hasher: &mut Sha256,
    observe: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    let mut buffer = vec![0u8; BUFFER_SIZE];
    let mut total = 0;
    loop {
        let n = match entry.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(gzip_or_tar(e)),
        };
        hasher.update(&buffer[..n]);
        observe(&buffer[..n])?;
        total += n as u64;
    }
}

/// Reads `reader` to its end. `Some(length)` if every byte was zero, else `None`.
fn read_zeros<R: Read>(reader: &mut R) -> io::Result<Option<u64>> {
    let mut buffer = [0u8; 8192];
    let mut total = 0;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => return Ok(Some(total)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buffer[..n].iter().any(|&b| b != 0) {
            return Ok(None);
        }
        total += n as u64;
    }
}

/// Errors from inside the gzip or tar layers name the layer, so the user knows the snapshot
/// itself is damaged rather than the disk or the network.
fn gzip_or_tar(error: io::Error) -> anyhow::Error {
    anyhow!("the snapshot's gzip/tar stream is truncated or corrupt: {error}")
}

/// A reader that counts the bytes it hands out.
struct CountingReader<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R> CountingReader<R> {
    fn new(inner: R) -> Self {
        Self::sharing(inner, Rc::new(Cell::new(0)))
    }

    /// Counting into `count`, which the caller keeps to read as the stream goes.
    fn sharing(inner: R, count: Rc<Cell<u64>>) -> Self {
        Self { inner, count }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// The decompressed stream, refused once it expands beyond [`MAX_EXPANSION`] times the
/// compressed bytes read so far (plus [`EXPANSION_SLACK`]).
struct Bounded<R> {
    inner: R,
    compressed: Rc<Cell<u64>>,
    produced: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        let allowed = self
            .compressed
            .get()
            .saturating_mul(MAX_EXPANSION)
            .saturating_add(EXPANSION_SLACK);
        if self.produced > allowed {
            return Err(io::Error::other(format!(
                "it expands to more than {MAX_EXPANSION} times its compressed size \
                 (a decompression bomb, not a Vault snapshot)"
            )));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::build::{ArchiveOptions, Fault, archive_bytes, pseudo_random_bytes};

    fn valid(state_len: usize) -> Vec<u8> {
        archive_bytes(
            &pseudo_random_bytes(state_len, 7),
            &ArchiveOptions::default(),
        )
        .unwrap()
    }

    fn faulty(fault: Fault) -> Vec<u8> {
        let options = ArchiveOptions {
            fault: Some(fault),
            ..ArchiveOptions::default()
        };
        archive_bytes(&pseudo_random_bytes(100_000, 7), &options).unwrap()
    }

    fn refused(bytes: &[u8]) -> String {
        match verify(bytes) {
            Ok(summary) => panic!("accepted a bad snapshot: {summary:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    /// A gzipped tar of `entries` (name, size its header claims, body), then `zeros` zero
    /// bytes after the end-of-archive marker.
    fn hostile(entries: &[(&str, u64, &[u8])], zeros: usize) -> Vec<u8> {
        let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut builder = tar::Builder::new(gzip);
        for (name, claimed, body) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(*claimed);
            header.set_mode(0o600);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_path(name).unwrap();
            header.set_cksum();
            builder.append(&header, *body).unwrap();
        }
        let mut gzip = builder.into_inner().unwrap();
        std::io::Write::write_all(&mut gzip, &vec![0; zeros]).unwrap();
        gzip.finish().unwrap()
    }

    /// The four entries of a snapshot with `meta` and `state`, their sums right.
    fn with_meta_and_state(meta: &[u8], state: &[u8]) -> Vec<(String, Vec<u8>)> {
        let sums = format!(
            "{}  meta.json\n{}  state.bin\n",
            hex(&Sha256::digest(meta)),
            hex(&Sha256::digest(state))
        );
        vec![
            ("meta.json".into(), meta.to_vec()),
            ("state.bin".into(), state.to_vec()),
            ("SHA256SUMS".into(), sums.into_bytes()),
            ("SHA256SUMS.sealed".into(), b"sealed".to_vec()),
        ]
    }

    fn honest(entries: &[(String, Vec<u8>)], zeros: usize) -> Vec<u8> {
        let entries: Vec<(&str, u64, &[u8])> = entries
            .iter()
            .map(|(n, b)| (n.as_str(), b.len() as u64, b.as_slice()))
            .collect();
        hostile(&entries, zeros)
    }

    #[test]
    fn hostile_archives_are_refused_with_bounded_memory_and_time() {
        // The helpers make a valid snapshot when nothing is hostile.
        let valid_meta = br#"{"Index":1,"Term":1,"Size":4}"#;
        verify(&honest(&with_meta_and_state(valid_meta, b"data"), 1024)[..]).unwrap();
        // A meta.json whose header claims 4 GiB: refused by its size, nothing read.
        let huge_meta = hostile(&[("meta.json", 4 << 30, b"{}")], 0);
        assert!(
            refused(&huge_meta)
                .contains("meta.json is 4294967296 bytes; Vault allows less than 8192")
        );
        // A state.bin whose header claims 1 TiB over a few bytes: truncated.
        let meta = br#"{"Index":1,"Term":1,"Size":1099511627776}"#;
        let huge_state = hostile(
            &[
                ("meta.json", meta.len() as u64, meta),
                ("state.bin", 1 << 40, b"tiny"),
            ],
            0,
        );
        assert!(
            refused(&huge_state).contains("truncated"),
            "{}",
            refused(&huge_state)
        );
        // A gzip bomb: 64 MiB of zeros in state.bin, about 64 KiB compressed.
        let zeros = vec![0u8; 64 << 20];
        let meta = format!(r#"{{"Index":1,"Term":1,"Size":{}}}"#, zeros.len());
        let bomb = honest(&with_meta_and_state(meta.as_bytes(), &zeros), 0);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        assert!(
            refused(&bomb).contains("decompression bomb"),
            "{}",
            refused(&bomb)
        );
        // ... or the same zeros after the end of the archive.
        let trailing = honest(&with_meta_and_state(valid_meta, b"data"), 64 << 20);
        assert!(
            refused(&trailing).contains("decompression bomb"),
            "{}",
            refused(&trailing)
        );
        // A meta.json nested 4000 deep (under 8 KiB): a parse error, not a stack overflow.
        let nested = format!("{}{}", "[".repeat(4000), "]".repeat(4000));
        let deep = honest(&with_meta_and_state(nested.as_bytes(), b"data"), 0);
        assert!(
            refused(&deep).contains("meta.json is not a JSON object"),
            "{}",
            refused(&deep)
        );
    }

    #[test]
    fn accepts_a_valid_snapshot_and_reports_it() {
        let bytes = valid(100_000);
        let summary = verify(&bytes[..]).unwrap();
        assert_eq!(
            summary,
            SnapshotSummary {
                index: 1234,
                term: 5,
                state_size: 100_000,
                archive_size: bytes.len() as u64,
            }
        );
    }

    #[test]
    fn accepts_both_orders_of_sha256sums_and_an_empty_state() {
        for index in [1, 2] {
            let options = ArchiveOptions {
                index,
                ..ArchiveOptions::default()
            };
            let bytes = archive_bytes(b"", &options).unwrap();
            assert_eq!(verify(&bytes[..]).unwrap().index, index);
        }
    }

    #[test]
    fn accepts_an_uncompressed_gzip_as_openbao_writes_it() {
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&valid(5000)[..])
            .read_to_end(&mut tar)
            .unwrap();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        io::Write::write_all(&mut encoder, &tar).unwrap();
        assert!(verify(&encoder.finish().unwrap()[..]).is_ok());
    }

    #[test]
    fn refuses_every_truncation() {
        let bytes = valid(20_000);
        // Every cut point in the first and last kilobytes, and a stride through the middle.
        let cuts = (0..1024)
            .chain((1024..bytes.len() - 1024).step_by(97))
            .chain(bytes.len() - 1024..bytes.len());
        for cut in cuts {
            assert!(verify(&bytes[..cut]).is_err(), "accepted a cut at {cut}");
        }
    }

    #[test]
    fn refuses_an_empty_body() {
        assert!(refused(b"").contains("empty"));
    }

    #[test]
    fn refuses_a_missing_gzip_trailer() {
        let bytes = valid(10_000);
        assert!(refused(&bytes[..bytes.len() - 8]).contains("truncated or corrupt"));
    }

    #[test]
    fn refuses_a_corrupt_crc() {
        let mut bytes = valid(10_000);
        let at = bytes.len() - 6;
        bytes[at] ^= 1;
        assert!(refused(&bytes).contains("corrupt"));
    }

    #[test]
    fn refuses_trailing_bytes_and_second_members() {
        let mut bytes = valid(10_000);
        bytes.extend_from_slice(b"junk");
        assert!(refused(&bytes).contains("after the end of the gzip stream"));
        let mut twice = valid(1000);
        twice.extend(valid(1000));
        assert!(refused(&twice).contains("after the end of the gzip stream"));
    }

    #[test]
    fn refuses_data_that_is_not_gzip() {
        assert!(refused(b"{\"errors\":[\"permission denied\"]}").contains("gzip"));
    }

    #[test]
    fn refuses_each_archive_fault() {
        let expectations = [
            (Fault::FlipStateByte, "hash check failed for \"state.bin\""),
            (Fault::ExtraEntry, "unexpected file \"extra.txt\""),
            (Fault::WrongNameInSums, "unexpected file \"state.bim\""),
            (Fault::BigMeta, "meta.json is"),
            (Fault::SizeMismatch, "Size 100001 but state.bin is 100000"),
            (Fault::NoSealedNoEnd, "SHA256SUMS.sealed is missing"),
            (Fault::EmptySealed, "SHA256SUMS.sealed is empty"),
            (Fault::NoEndBlocks, "end-of-archive marker is missing"),
            (Fault::ZeroIndex, "Index 0"),
            (Fault::WrongOrder, "out of order"),
        ];
        for (fault, message) in expectations {
            let error = refused(&faulty(fault));
            assert!(error.contains(message), "{fault:?}: {error}");
        }
    }

    #[test]
    fn refuses_a_tar_entry_that_is_not_a_regular_file() {
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(&valid(10)[..])
            .read_to_end(&mut tar_bytes)
            .unwrap();
        // Turn meta.json into a directory entry (typeflag at offset 156) and fix the checksum.
        tar_bytes[156] = b'5';
        let header = tar::Header::from_byte_slice(&tar_bytes[..512]);
        let mut fixed = header.clone();
        fixed.set_cksum();
        tar_bytes[..512].copy_from_slice(fixed.as_bytes());
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut encoder, &tar_bytes).unwrap();
        assert!(refused(&encoder.finish().unwrap()).contains("not a regular file"));
    }
}
