//! `inspect FILE`: what a snapshot holds, after it verified.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::stored::inspect_file;
use crate::archive::inspect::Inspection;
use crate::exit::Exit;
use crate::text::escape;

/// Prints what `inspect` shows. Every string that comes from the snapshot (ID, servers,
/// key prefixes, why its contents did not decode) is printed escaped ([`escape`]); the
/// lines are bounded by [`crate::archive::inspect::SHOWN_PREFIXES`] however many keys it holds.
///
/// # Errors
/// Output errors.
pub fn print_inspection(out: &mut impl Write, i: &Inspection) -> Result<()> {
    writeln!(out, "ID           {}", escape(&i.id))?;
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
        writeln!(
            out,
            "  {:<20} {:<24} {}",
            escape(&s.id),
            escape(&s.address),
            escape(&s.suffrage)
        )?;
    }
    for why in &i.not_decoded {
        writeln!(out, "contents not decoded: {}", escape(why))?;
    }
    let (Some(keys), Some(value_bytes)) = (i.keys, i.value_bytes) else {
        return Ok(());
    };
    writeln!(out, "Keys         {keys} ({value_bytes} bytes of values)")?;
    writeln!(out)?;
    let shown: Vec<_> = i.prefixes.iter().map(|p| escape(&p.prefix)).collect();
    let other = i.other.map(|o| format!("({} other prefixes)", o.prefixes));
    let width = shown
        .iter()
        .map(|p| p.chars().count())
        .chain(other.iter().map(String::len))
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
    for (p, prefix) in i.prefixes.iter().zip(&shown) {
        writeln!(out, "{prefix:<width$}  {:>10}  {:>14}", p.count, p.bytes)?;
    }
    if let (Some(o), Some(label)) = (i.other, other) {
        writeln!(out, "{label:<width$}  {:>10}  {:>14}", o.count, o.bytes)?;
    }
    if i.approximate {
        writeln!(
            out,
            "(keys are out of order: a prefix above may also be counted in the other \
             prefixes; the totals are exact)"
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
