//! `verify FILE...`: check snapshot files with the verifier the cycle uses.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::archive::verify;
use crate::exit::Exit;
use crate::text::escape;

/// `verify FILE...`: one line per file, OK or BAD with why; `-` is stdin.
///
/// # Errors
/// Output errors only: a file that cannot be read or fails is a BAD line and exit 1.
pub fn verify(files: &[PathBuf]) -> Result<Exit> {
    let mut bad = 0;
    let mut out = std::io::stdout().lock();
    for path in files {
        let stdin = path.as_os_str() == "-";
        let shown = if stdin {
            "(stdin)".to_string()
        } else {
            path.display().to_string()
        };
        let result = if stdin {
            verify::verify(std::io::stdin().lock())
        } else {
            File::open(path)
                .with_context(|| format!("cannot open {shown}"))
                .and_then(|f| verify::verify(BufReader::new(f)))
        };
        match result {
            Ok(s) => writeln!(
                out,
                "{}: OK, Raft index {}, term {}, {} bytes of state",
                escape(&shown),
                s.index,
                s.term,
                s.state_size
            )?,
            Err(e) => {
                bad += 1;
                writeln!(
                    out,
                    "{}: BAD, {}",
                    escape(&shown),
                    escape(&format!("{e:#}"))
                )?;
            }
        }
    }
    Ok(Exit::failed_if(bad != 0))
}
