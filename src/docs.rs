//! The man page and shell completions, generated from the clap definitions and the
//! configuration key table, so they cannot drift from `--help` or from the parser.
//! `vault-raft-snapshot generate man` writes `man/vault-raft-snapshot.1`; a test fails when the
//! committed copy is stale.

use clap::CommandFactory;
use roff::{Roff, bold, italic, roman};

use crate::cli::Cli;
use crate::config::{DEFAULT_CONFIG_PATH, KEYS};

/// The man page, in roff.
#[must_use]
pub fn man_page() -> String {
    let man = clap_mangen::Man::new(Cli::command())
        .section("1")
        .manual("vault-raft-snapshot manual");
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let mut page = String::from_utf8_lossy(&out).into_owned();
    page.push_str(&extra_sections());
    let mut tail = Vec::new();
    let _ = man.render_version_section(&mut tail);
    page.push_str(&String::from_utf8_lossy(&tail));
    page
}

fn extra_sections() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    definitions(
        &mut roff,
        Term::Bold,
        &[
            (
                "once",
                "Take one snapshot, store it in every storage, prune, and exit. For a systemd timer or cron. On a standby it logs \"Not running on leader node, skipping.\" and exits 0.",
            ),
            (
                "run",
                "Take a snapshot every frequency, as a service. A failed cycle is logged and the loop goes on. SIGTERM or SIGINT stops it within a second or two with exit status 0, leaving no temporary file; a second signal ends it at once.",
            ),
            (
                "prune [--dry-run]",
                "Apply retention to every storage now, without taking a snapshot, and list every snapshot with keep or delete and the reason. With --dry-run nothing is deleted.",
            ),
            (
                "verify FILE...",
                "Run the snapshot checks on files on disk; no configuration is needed.",
            ),
            (
                "status",
                "Print the facts of the metrics file (metrics_file) for a human: leadership, the last cycle, and per storage the last success, the last error and the snapshots held.",
            ),
        ],
    );

    roff.control("SH", ["CONFIGURATION"]);
    roff.text([roman(format!(
        "The configuration file (default {DEFAULT_CONFIG_PATH}) is JSON and accepts the original Go agent's keys unchanged. \
         Unknown keys are an error, everything is validated before anything runs, and an empty string means not set. \
         Where an environment variable is named, it applies when the key is not set."
    ))]);
    for key in KEYS {
        let mut notes = Vec::new();
        if !key.default.is_empty() {
            notes.push(format!("default: {}", key.default));
        }
        if !key.env.is_empty() {
            notes.push(format!("environment: {}", key.env));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        roff.control("TP", [])
            .text([bold(key.key)])
            .text([roman(format!("{}{notes}", key.doc))]);
    }

    roff.control("SH", ["ENVIRONMENT"]);
    definitions(
        &mut roff,
        Term::Bold,
        &[
            (
                "VAULT_ADDR, VAULT_NAMESPACE, VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY, VAULT_SKIP_VERIFY",
                "As the Vault CLI applies them, for keys the file does not set.",
            ),
            (
                "VAULT_TOKEN",
                "The token for vault_auth_method token, or when no other method is configured.",
            ),
            (
                "RUST_LOG",
                "Log level or filter (default info). Secrets are never logged at any level.",
            ),
            (
                "JOURNAL_STREAM",
                "Set by systemd: when it names stderr, log lines carry journal priorities instead of timestamps.",
            ),
            (
                "SSL_CERT_FILE, SSL_CERT_DIR",
                "Extra trusted CAs for the system trust store, used when ca_cert and ca_path are not set.",
            ),
        ],
    );

    roff.control("SH", ["EXIT STATUS"]);
    definitions(
        &mut roff,
        Term::Bold,
        &[
            (
                "0",
                "The snapshot was stored in every storage, or this node is not the leader; run stopped by a signal.",
            ),
            (
                "1",
                "The cycle failed: Vault unreachable or sealed, authentication, verification of the snapshot, or a storage. For verify: a file failed its checks. For status: the last cycle failed.",
            ),
            (
                "2",
                "Configuration or usage error; the message names the file and the key.",
            ),
        ],
    );

    roff.control("SH", ["FILES"]);
    definitions(
        &mut roff,
        Term::Italic,
        &[
            (DEFAULT_CONFIG_PATH, "The configuration file."),
            (
                "raft_snapshot-<unix ns>.snap",
                "Snapshots in each local storage directory, mode 0600; the original agent's names. Other files beside them are never touched.",
            ),
            (
                ".raft_snapshot-<unix ns>.snap.tmp-<pid>",
                "A snapshot being written; renamed into place once synced.",
            ),
        ],
    );

    roff.control("SH", ["EXAMPLES"]);
    definitions(
        &mut roff,
        Term::Bold,
        &[
            (
                "vault-raft-snapshot once",
                "Take one snapshot with /etc/vault.d/snapshot.json.",
            ),
            (
                "vault-raft-snapshot -c ./snapshot.json run",
                "Run as a service with another configuration file.",
            ),
            (
                "vault-raft-snapshot prune --dry-run",
                "Show what retention would delete.",
            ),
            (
                "vault-raft-snapshot verify /var/backups/vault/raft_snapshot-*.snap",
                "Check stored snapshots before a restore.",
            ),
            (
                "systemctl enable --now vault-raft-snapshot.timer",
                "Hourly snapshots with the units from contrib/systemd.",
            ),
        ],
    );
    roff.render()
}

/// How a definition list shows its terms: commands and keys bold, file names italic.
#[derive(Clone, Copy)]
enum Term {
    Bold,
    Italic,
}

/// Appends a `.TP` definition list: each term in its style, its text in roman.
fn definitions(roff: &mut Roff, style: Term, items: &[(&str, &str)]) {
    for (term, text) in items {
        let term = match style {
            Term::Bold => bold(*term),
            Term::Italic => italic(*term),
        };
        roff.control("TP", []).text([term]).text([roman(*text)]);
    }
}

/// Shell completions for `shell`.
#[must_use]
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "vault-raft-snapshot", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}
