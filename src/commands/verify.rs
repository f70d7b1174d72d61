//! `verify FILE...`: check snapshot files with the verifier the cycle uses.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::archive::verify;
use crate::exit::Exit;

pub fn verify(files: &[PathBuf]) -> Result<Exit> {
    let mut bad = 0;
    for path in files {
        let result = File::open(path)
            .with_context(|| format!("cannot open {}", path.display()))
            .and_then(|f| verify::verify(BufReader::new(f)));
        match result {
            Ok(s) => println!(
                "{}: OK, Raft index {}, term {}, {} bytes of state",
                path.display(),
                s.index,
                s.term,
                s.state_size
            ),
            Err(e) => {
                bad += 1;
                println!("{}: BAD, {e:#}", path.display());
            }
        }
    }
    Ok(Exit::failed_if(bad != 0))
}
