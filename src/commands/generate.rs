//! `generate`: the man page, shell completions and README tables from the clap definitions.

use std::io::Write;

use anyhow::{Context, Result};

use crate::cli::Generated;
use crate::docs;
use crate::exit::Exit;

pub fn generate(what: &Generated) -> Result<Exit> {
    let text = match what {
        Generated::Man => docs::man_page(),
        Generated::Completions { shell } => docs::completions(*shell),
        Generated::Readme { file } => {
            let readme = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            docs::refresh_readme(&readme)
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(Exit::Ok)
}
