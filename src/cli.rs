//! The command line: only the clap definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::DEFAULT_CONFIG_PATH;

const AFTER_HELP: &str = "\
Exit codes:
  0  the snapshot was stored in every storage, or this node is not the leader
  1  the cycle failed: Vault, authentication, verification or a storage
  2  configuration or usage error
  141  stdout was closed by its reader (e.g. `| head -1`); the command stopped there

Logging goes to stderr; RUST_LOG sets the level (default: info).
The config file is JSON and accepts the original Go agent's keys; see vault-raft-snapshot(1).";

/// Verified Raft snapshots of HashiCorp Vault.
///
/// Runs beside every Vault node; only the agent on the active node acts. Each cycle streams
/// a Raft snapshot into a temporary file while verifying it (gzip, tar layout, SHA-256 sums,
/// seal), stores it in every configured storage and prunes each by its retention rules
/// (`retain`, the hourly to yearly tiers, `retain_within`).
#[derive(Debug, Parser)]
#[command(name = "vault-raft-snapshot", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The JSON configuration file [default: /etc/vault.d/snapshot.json]; may also follow
    /// the command.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `-c FILE` after a command that reads the configuration (`verify` does not take it).
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The JSON configuration file [default: /etc/vault.d/snapshot.json].
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

fn parse_now(text: &str) -> Result<std::time::SystemTime, String> {
    crate::snapshot_name::parse_rfc3339(text)
        .ok_or_else(|| format!("not an RFC 3339 time: {text:?} (example: 2026-11-20T13:00:00Z)"))
}

impl Cli {
    /// True when `-c`/`--config` was given, before or after the command.
    #[must_use]
    pub fn config_named(&self, after: &ConfigArg) -> bool {
        after.config.is_some() || self.config.is_some()
    }

    /// The configuration file: after the command, else before it, else the default.
    #[must_use]
    pub fn config_path(&self, after: &ConfigArg) -> PathBuf {
        after
            .config
            .clone()
            .or_else(|| self.config.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Take one snapshot, store it, prune, and exit (for a systemd timer or cron).
    ///
    /// Exits 0 when the snapshot was stored everywhere or this node is not the leader
    /// ("Not running on leader node, skipping."), 1 when anything failed.
    Once(ConfigArg),
    /// Take a snapshot every `frequency`, as a long-running service.
    ///
    /// A failed cycle is logged and the loop goes on. SIGTERM, SIGINT or SIGHUP stops it cleanly
    /// with exit code 0; a second signal while the first is handled ends it at once with
    /// exit code 1.
    Run(ConfigArg),
    /// Apply retention to every storage now, without taking a snapshot.
    ///
    /// Lists every snapshot with its fate: keep or delete, and every rule that keeps it.
    Prune {
        /// Show what would be deleted, and delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the plan as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Plan as if the clock read this RFC 3339 time (e.g. 2026-11-20T13:00:00Z);
        /// snapshots after it count as future. Only with --dry-run.
        #[arg(long, value_name = "TIME", requires = "dry_run", value_parser = parse_now)]
        now: Option<std::time::SystemTime>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List the snapshots in every storage, newest first: storage, name, time, age, size.
    ///
    /// Exits 1 when a storage cannot be listed (the others are still shown).
    List {
        /// Only this storage: its name (local-0, aws-1, or its `name` key), or its kind
        /// alone when it is the only one of that kind.
        #[arg(long, value_name = "NAME")]
        storage: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Download a stored snapshot to a file or stdout, verified.
    ///
    /// Downloads into a temporary file beside FILE, verifies it, then renames it to FILE.
    /// Never overwrites a file. When a copy fails verification, the same snapshot is tried
    /// in the next storage that holds it; exits 1 when no copy is good.
    Fetch {
        /// A snapshot name as `list` shows it, or `latest`.
        #[arg(default_value = "latest", value_name = "NAME|latest")]
        snapshot: String,
        /// Only from this storage (see `list --storage`).
        #[arg(long, value_name = "NAME")]
        storage: Option<String>,
        /// Where to write it: a FILE that must not exist, an existing DIR (written as
        /// DIR/<name>), or - for stdout (staged in temp_dir and verified whole first: nothing
        /// unverified is ever written to stdout).
        #[arg(short, long, value_name = "FILE|DIR|-")]
        output: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Show what a snapshot file holds: ID, index, term, Raft servers, keys by prefix.
    ///
    /// Verifies the file as it reads it (no config needed); exits 1 only when it fails
    /// verification. A state.bin the decoder does not understand is shown as "contents
    /// not decoded: <why>" and exits 0. At most 50 prefixes are shown, those with the
    /// most bytes, and one line for all the others.
    Inspect {
        /// The snapshot file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// How many path segments of each key to group by.
        #[arg(long, default_value_t = 2, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
        depth: u16,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a snapshot into the Vault cluster (with --yes).
    ///
    /// Fetches and verifies the snapshot first (nothing is sent to Vault if it fails),
    /// prints what it holds, then POSTs it to the active node that sys/leader names.
    /// Without --yes it only shows what it would do and exits 2. Authenticates with
    /// VAULT_TOKEN when set, else as the config says; the token needs `update` on
    /// sys/storage/raft/snapshot (and sys/storage/raft/snapshot-force for --force).
    Restore {
        /// A snapshot name as `list` shows it, `latest`, or a snapshot file (a path that
        /// exists, or contains '/').
        #[arg(default_value = "latest", value_name = "NAME|latest|FILE")]
        snapshot: String,
        /// Only from this storage (see `list --storage`).
        #[arg(long, value_name = "NAME")]
        storage: Option<String>,
        /// Use snapshot-force: restore a snapshot taken on another cluster (other unseal
        /// keys). The cluster then takes the snapshot's data, unseal keys and tokens.
        #[arg(long)]
        force: bool,
        /// Really restore; without it nothing is sent.
        #[arg(long)]
        yes: bool,
        /// How long to wait, after Vault accepted the snapshot, until the node has applied
        /// it and serves requests again (Vault answers before the restore is done), as a Go
        /// duration. Exits 1 when it is not back in time.
        #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::duration::parse)]
        wait: std::time::Duration,
        /// The Vault address to restore to, instead of the config's `addr` or VAULT_ADDR.
        /// Restoring a FILE needs no config file: VAULT_ADDR (or --addr) and VAULT_TOKEN do.
        #[arg(long, value_name = "URL")]
        addr: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Restore a stored snapshot into a scratch server and prove it: a restore drill.
    ///
    /// Fetches and verifies the snapshot, starts the `drill.server` binary on 127.0.0.1 with
    /// Raft storage in a private directory under temp_dir, initialises it, restores the
    /// snapshot with snapshot-force, unseals it with drill.unseal_keys (or drill.seal), waits
    /// until it is active, logs in as the agent does (or with drill.token), reads every
    /// drill.expect path and compares the restored Raft index with the snapshot's. Prints
    /// each step with its time and the total, the measured restore time. The scratch server
    /// is stopped and its directory removed on every path. Exits 0 when every step passed,
    /// 1 naming the step that failed, 2 for a configuration error.
    Drill {
        /// A snapshot name as `list` shows it, or `latest`.
        #[arg(default_value = "latest", value_name = "NAME|latest")]
        snapshot: String,
        /// Only from this storage (see `list --storage`).
        #[arg(long, value_name = "NAME")]
        storage: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Check snapshot files on disk, with the same checks as a download (no config needed).
    Verify {
        /// Snapshot files to check; - reads one from stdin.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Validate the config and print the resolved settings, secrets masked.
    ///
    /// With --connect, also reach Vault (sys/leader, sys/seal-status), log in, check that
    /// the token may read snapshots, and list every storage, without taking a snapshot: one
    /// line per step; exits 1 naming the first step that failed.
    Check {
        /// Also reach Vault and every storage.
        #[arg(long)]
        connect: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Show the last cycle's results from the metrics file (`metrics_file`).
    ///
    /// Exits 1 when the last cycle failed or the last success is older than `--max-age`
    /// (default: twice `frequency`), so it can serve as a check.
    Status {
        /// The oldest last success that is still fine, e.g. 26h (default: twice `frequency`).
        #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
        max_age: Option<std::time::Duration>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Convert another agent's configuration into this one's JSON config.
    ///
    /// Reads Argelbargel's vault-raft-snapshot-agent config (YAML, JSON or TOML; keys in any
    /// case; VRSA_* environment overrides and env:// / file:// values applied as that agent
    /// does) or a Vault Enterprise automated-snapshot config (the JSON of `vault read
    /// -format=json sys/storage/raft/snapshot-auto/config/NAME`). Writes our JSON config to
    /// OUT (never overwritten; created readable by its owner only) or stdout, and prints to
    /// stderr every key mapped, every key not mapped with the reason, and every change of
    /// meaning. Their snapshot names are listed in `other_snapshot_names`, so their snapshots
    /// stay visible and age out. Exits 0 when everything was mapped, 1 when something was not
    /// (the config is still written, the gaps listed under `migrate_gaps`, which the agent
    /// refuses until removed), 2 when FILE cannot be read or is neither agent's config.
    Migrate {
        /// Their configuration file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Where to write our config (a file that must not exist); stdout when not given.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Write the man page or shell completions to stdout (for packagers).
    #[command(hide = true)]
    Generate {
        /// What to generate.
        #[command(subcommand)]
        what: Generated,
    },
}

/// What `generate` writes.
#[derive(Debug, Subcommand)]
pub enum Generated {
    /// The man page (roff).
    Man,
    /// Completions for a shell.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// README.md with its generated tables (configuration keys, environment) rewritten.
    Readme {
        /// The README to refresh.
        #[arg(default_value = "README.md")]
        file: PathBuf,
    },
}
