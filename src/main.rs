//! `vault-raft-snapshot`: parse, log, dispatch. Exit codes are in `app`.

use std::process::ExitCode;

use clap::Parser;
use vault_raft_snapshot::{app, cli::Cli, logging};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    vault_raft_snapshot::install_crypto_provider();
    app::run(cli)
}
