//! `vault-raft-snapshot`: parse, log, dispatch. Exit codes are in `app`.

use std::process::ExitCode;

use clap::Parser;
use vault_raft_snapshot::{app, cli::Cli, logging};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    // Two TLS crypto providers are linked (ring for ureq, aws-lc-rs for object_store), so
    // rustls cannot choose a process default by itself, and clients that rely on one (rust-s3's
    // attohttpc) would panic on their first HTTPS connection. Choose ring explicitly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    app::run(cli)
}
