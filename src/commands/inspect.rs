//! `inspect FILE`: what a snapshot holds, after it verified.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::stored::inspect_file;
use crate::archive::inspect::Inspection;
use crate::exit::Exit;

/// Prints what `inspect` shows.
///
/// # Errors
/// Output errors.
pub fn print_inspection(out: &mut impl Write, i: &Inspection) -> Result<()> {
    writeln!(out, "ID           {}", i.id)?;
    writeln!(
        out,
        "Size         {} bytes (state.bin {} bytes)",
        i.size, i.state_size
    )?;
    writeln!(out, "Index        {}", i.index)?;
    writeln!(out, "Term         {}", i.term)?;
    writeln!(out, "Version      {}", i.version)?;
    writeln!(out, "Servers      {}", i.servers.len())?;
    for s in &i.servers {
        writeln!(out, "  {:<20} {:<24} {}", s.id, s.address, s.suffrage)?;
    }
    writeln!(
        out,
        "Keys         {} ({} bytes of values)",
        i.keys, i.value_bytes
    )?;
    writeln!(out)?;
    let width = i
        .prefixes
        .iter()
        .map(|p| p.prefix.len())
        .max()
        .unwrap_or(0)
        .max(24);
    writeln!(
        out,
        "{:<width$}  {:>10}  {:>14}",
        format!("Key prefix (depth {})", i.depth),
        "Count",
        "Bytes"
    )?;
    for p in &i.prefixes {
        writeln!(
            out,
            "{:<width$}  {:>10}  {:>14}",
            p.prefix, p.count, p.bytes
        )?;
    }
    Ok(())
}

/// `inspect FILE`.
///
/// # Errors
/// A file that cannot be read, fails verification, or whose state does not decode.
pub fn inspect(file: &Path, depth: usize, json: bool) -> Result<Exit> {
    let inspection = inspect_file(file, depth)
        .with_context(|| format!("{} is not a good snapshot", file.display()))?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&inspection)?)?;
    } else {
        print_inspection(&mut out, &inspection)?;
    }
    Ok(Exit::Ok)
}
