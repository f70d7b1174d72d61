//! The tests' Vault stand-in as a program, for the demo and the benchmark.
//!
//! ```sh
//! cargo run --release --example vault-stand-in -- --listen 127.0.0.1:8200 --state-size 64M
//! ```
//!
//! It builds a valid snapshot archive with `--state-size` bytes of incompressible state (or
//! serves `--archive FILE`), accepts the token `--token` (default `demo-root-token`) and the
//! AppRole `demo-role-id` / `demo-secret-id`, prints its address, and serves until killed.

#[path = "../tests/support/vault_stand_in.rs"]
mod vault_stand_in;

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use vault_raft_snapshot::archive::build::{ArchiveOptions, write_archive};

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8200")]
    listen: String,
    /// Size of state.bin, e.g. 64M, 1G (K, M, G are powers of 1024).
    #[arg(long, default_value = "1M", value_parser = parse_size)]
    state_size: u64,
    /// Serve this archive instead of building one.
    #[arg(long)]
    archive: Option<PathBuf>,
    /// Write the built archive here too (to compare against what the agent stored).
    #[arg(long)]
    save_archive: Option<PathBuf>,
    /// A token that never expires.
    #[arg(long, default_value = "demo-root-token")]
    token: String,
    /// Make state.bin Vault's format (storage entries of 4 KiB random values, keys
    /// `logical/bench/<n>`), so `inspect` can decode it; the size is rounded down to whole
    /// entries.
    #[arg(long)]
    kv_state: bool,
    /// Bytes per HTTP chunk.
    #[arg(long, default_value_t = 32 * 1024)]
    chunk_size: usize,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let (number, scale) = match text.chars().last() {
        Some('K' | 'k') => (&text[..text.len() - 1], 1 << 10),
        Some('M' | 'm') => (&text[..text.len() - 1], 1 << 20),
        Some('G' | 'g') => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    number
        .parse::<u64>()
        .map(|n| n * scale)
        .map_err(|e| format!("invalid size {text:?}: {e}"))
}

/// Bytes of one storage entry of [`KvReader`], length prefix included.
const KV_ENTRY: u64 = 2 + 1 + 1 + 25 + 1 + 2 + 4000;

/// state.bin as Vault's FSM writes it: uvarint-length-prefixed `StorageEntry` messages,
/// generated one at a time.
struct KvReader {
    noise: NoiseReader,
    next: u64,
    entry: Vec<u8>,
    at: usize,
}

impl std::io::Read for KvReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.entry.len() {
            let key = format!("logical/bench/{:011}", self.next);
            let mut value = vec![0u8; 4000];
            std::io::Read::read_exact(&mut self.noise, &mut value)?;
            self.entry = vault_raft_snapshot::archive::inspect::encode_state(&[(&key, &value)]);
            debug_assert_eq!(self.entry.len() as u64, KV_ENTRY);
            self.next += 1;
            self.at = 0;
        }
        let n = buf.len().min(self.entry.len() - self.at);
        buf[..n].copy_from_slice(&self.entry[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Incompressible bytes without holding them all: xorshift, 8 bytes at a time.
struct NoiseReader(u64);

impl std::io::Read for NoiseReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
        Ok(buf.len())
    }
}

fn main() {
    let args = Args::parse();
    let archive = match &args.archive {
        Some(path) => std::fs::read(path).expect("read --archive"),
        None if args.kv_state => {
            let size = args.state_size / KV_ENTRY * KV_ENTRY;
            let state = KvReader {
                noise: NoiseReader(0x9E37_79B9_7F4A_7C15),
                next: 0,
                entry: Vec::new(),
                at: 0,
            };
            let buffer = Vec::with_capacity(usize::try_from(size).unwrap_or(0) + 4096);
            write_archive(buffer, state, size, &ArchiveOptions::default())
                .expect("build the archive")
        }
        None => write_archive(
            Vec::with_capacity(usize::try_from(args.state_size).unwrap_or(0) + 4096),
            NoiseReader(0x9E37_79B9_7F4A_7C15),
            args.state_size,
            &ArchiveOptions::default(),
        )
        .expect("build the archive"),
    };
    if let Some(path) = &args.save_archive {
        std::fs::write(path, &archive).expect("write --save-archive");
    }
    let size = archive.len();
    let vault = vault_stand_in::VaultStandIn::start_on(&args.listen, archive);
    vault.add_static_token(&args.token);
    {
        let mut state = vault.state();
        state.role_id = "demo-role-id".into();
        state.secret_id = "demo-secret-id".into();
        state.chunk_size = args.chunk_size;
    }
    println!(
        "vault stand-in listening on {} ({size} byte snapshot)",
        vault.url()
    );
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
