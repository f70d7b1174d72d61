//! `vault-raft-snapshot`: parse, log, dispatch. Exit statuses are in `exit`.

use std::process::ExitCode;

use clap::Parser;
use vault_raft_snapshot::{cli::Cli, commands, logging};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    vault_raft_snapshot::install_crypto_provider();
    commands::dispatch(cli).into()
}
