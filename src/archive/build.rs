//! Writes snapshot archives the way Vault does (`hashicorp/raft-snapshot` `write()`), and the
//! corrupt variants a verifier must refuse.
//!
//! Used by the Vault stand-in in `tests/`, the demo and the benchmark; the agent itself never
//! writes an archive.

use std::io::{self, Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::hex;

/// A way to spoil an archive; each must be refused by [`super::verify::verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Flip one byte of state.bin after hashing it (sums unchanged).
    FlipStateByte,
    /// An extra fifth entry after SHA256SUMS.sealed.
    ExtraEntry,
    /// SHA256SUMS lists `state.bim` instead of `state.bin`.
    WrongNameInSums,
    /// meta.json is 8192 bytes or more.
    BigMeta,
    /// meta.json's `Size` is one more than state.bin's length.
    SizeMismatch,
    /// No SHA256SUMS.sealed and no end-of-archive blocks, but a clean gzip end: only the
    /// tar layer shows the loss (the seal failed midstream).
    NoSealedNoEnd,
    /// SHA256SUMS.sealed is present but empty.
    EmptySealed,
    /// Everything present except the two end-of-archive zero blocks.
    NoEndBlocks,
    /// meta.json says `Index` 0 (Vault refuses such a snapshot).
    ZeroIndex,
    /// SHA256SUMS and SHA256SUMS.sealed swapped: entries out of order.
    WrongOrder,
}

/// What goes into meta.json.
#[derive(Clone, Copy, Debug)]
pub struct ArchiveOptions {
    /// Raft index (> 0 for a valid snapshot).
    pub index: u64,
    /// Raft term.
    pub term: u64,
    /// A fault to build in, or `None` for a valid archive.
    pub fault: Option<Fault>,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        Self {
            index: 1234,
            term: 5,
            fault: None,
        }
    }
}

/// Writes a gzip-compressed tar archive of `state` (exactly `state_len` bytes) to `out`,
/// entry by entry as Vault does, streaming state.bin. Returns `out`.
///
/// # Errors
/// I/O errors of `out` or `state`, or `state` ending before `state_len` bytes.
pub fn write_archive<W: Write, R: Read>(
    out: W,
    state: R,
    state_len: u64,
    options: &ArchiveOptions,
) -> io::Result<W> {
    let fault = options.fault;
    let mtime = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut gz = GzEncoder::new(out, Compression::default());

    let index = if fault == Some(Fault::ZeroIndex) {
        0
    } else {
        options.index
    };
    let size = if fault == Some(Fault::SizeMismatch) {
        state_len + 1
    } else {
        state_len
    };
    let padding = if fault == Some(Fault::BigMeta) {
        format!(",\"Padding\":\"{}\"", "x".repeat(8200))
    } else {
        String::new()
    };
    let meta = format!(
        "{{\"Version\":1,\"ID\":\"bolt-snapshot\",\"Index\":{index},\"Term\":{},\"Peers\":null,\
         \"Configuration\":{{\"Servers\":[{{\"Suffrage\":0,\"ID\":\"node1\",\"Address\":\"127.0.0.1:8201\"}}]}},\
         \"ConfigurationIndex\":1,\"Size\":{size}{padding}}}\n",
        options.term
    );
    append(
        &mut gz,
        "meta.json",
        meta.as_bytes(),
        meta.len() as u64,
        mtime,
    )?;

    let mut hashing = HashingReader {
        inner: state.take(state_len),
        hasher: Sha256::new(),
        flip_at: (fault == Some(Fault::FlipStateByte)).then_some(state_len / 2),
        position: 0,
    };
    append(&mut gz, "state.bin", &mut hashing, state_len, mtime)?;
    if hashing.position != state_len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "state ended before state_len bytes",
        ));
    }
    let state_sum = hex(&hashing.hasher.finalize());
    let meta_sum = hex(&Sha256::digest(meta.as_bytes()));
    let state_name = if fault == Some(Fault::WrongNameInSums) {
        "state.bim"
    } else {
        "state.bin"
    };
    // Go writes these lines in map order, which is random: vary it by index.
    let mut lines = [
        format!("{meta_sum}  meta.json\n"),
        format!("{state_sum}  {state_name}\n"),
    ];
    if options.index % 2 == 1 {
        lines.reverse();
    }
    let sums = lines.concat();
    let sealed: &[u8] = if fault == Some(Fault::EmptySealed) {
        b""
    } else {
        b"\x0a\x20stand-in seal-wrapped blob of the SHA256SUMS list\x12\x04fake"
    };

    if fault == Some(Fault::NoSealedNoEnd) {
        append(
            &mut gz,
            "SHA256SUMS",
            sums.as_bytes(),
            sums.len() as u64,
            mtime,
        )?;
        return gz.finish();
    }
    if fault == Some(Fault::WrongOrder) {
        append(
            &mut gz,
            "SHA256SUMS.sealed",
            sealed,
            sealed.len() as u64,
            mtime,
        )?;
        append(
            &mut gz,
            "SHA256SUMS",
            sums.as_bytes(),
            sums.len() as u64,
            mtime,
        )?;
    } else {
        append(
            &mut gz,
            "SHA256SUMS",
            sums.as_bytes(),
            sums.len() as u64,
            mtime,
        )?;
        append(
            &mut gz,
            "SHA256SUMS.sealed",
            sealed,
            sealed.len() as u64,
            mtime,
        )?;
    }
    if fault == Some(Fault::ExtraEntry) {
        append(&mut gz, "extra.txt", &b"surprise"[..], 8, mtime)?;
    }
    if fault != Some(Fault::NoEndBlocks) {
        gz.write_all(&[0u8; 1024])?;
    }
    gz.finish()
}

/// Builds a whole archive in memory (tests and small stand-in snapshots).
///
/// # Errors
/// Only if compression fails, which writing to memory does not.
pub fn archive_bytes(state: &[u8], options: &ArchiveOptions) -> io::Result<Vec<u8>> {
    write_archive(Vec::new(), state, state.len() as u64, options)
}

/// Deterministic, incompressible bytes (xorshift), so tests need no random-number crate.
#[must_use]
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Appends one ustar entry (mode 0600, uid/gid 0, `mtime`), as Go's `archive/tar` writes it.
fn append<W: Write, R: Read>(
    out: &mut W,
    name: &str,
    mut data: R,
    size: u64,
    mtime: u64,
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name)?;
    header.set_mode(0o600);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(size);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    out.write_all(header.as_bytes())?;
    let copied = io::copy(&mut (&mut data).take(size), out)?;
    let pad = (512 - copied % 512) % 512;
    out.write_all(&vec![0u8; usize::try_from(pad).unwrap_or(0)])
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    flip_at: Option<u64>,
    position: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if let Some(at) = self.flip_at {
            if at >= self.position && at < self.position + n as u64 {
                buf[usize::try_from(at - self.position).unwrap_or(0)] ^= 0xff;
            }
        }
        self.position += n as u64;
        Ok(n)
    }
}
