//! One module per command, each a function from its arguments to an [`Exit`]; this file only
//! dispatches the parsed command line to them and maps an error to its exit status.

pub mod check;
pub mod cycle;
pub mod drill;
pub mod fetch;
pub mod generate;
pub mod inspect;
pub mod list;
mod metrics_sink;
pub mod migrate;
pub mod prune;
pub mod restore;
pub mod status;
mod stored;
pub mod verify;

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Result;
use log::{error, warn};

use crate::cli::{Cli, Command};
use crate::config::{Config, process_env};
use crate::exit::Exit;
use crate::secret::Secret;
use stored::Wanted;

pub use cycle::ALREADY_RUNNING;

/// Runs the parsed command line and returns how it ended; an error is logged here, once.
#[must_use]
pub fn dispatch(cli: Cli) -> Exit {
    let result = match &cli.command {
        Command::Verify { files } => verify::verify(files),
        Command::Generate { what } => generate::generate(what),
        Command::Migrate { file, output } => migrate::migrate(file, output.as_deref()),
        Command::Once(config) => load(cli.config_path(config)).and_then(cycle::once),
        Command::Run(config) => load(cli.config_path(config)).and_then(cycle::run),
        Command::Prune {
            dry_run,
            json,
            now,
            config,
        } => load(cli.config_path(config)).and_then(|c| {
            let options = prune::PruneOptions {
                dry_run: *dry_run,
                json: *json,
                now: now.unwrap_or_else(SystemTime::now),
            };
            prune::prune(c, &options)
        }),
        Command::Check { connect, config } => load(cli.config_path(config))
            .and_then(|c| check::check(c, *connect, &mut std::io::stdout().lock())),
        Command::Status { max_age, config } => {
            load(cli.config_path(config)).and_then(|c| status::status(&c, *max_age))
        }
        Command::List {
            storage,
            json,
            config,
        } => load(cli.config_path(config)).and_then(|c| list::list(c, storage.as_deref(), *json)),
        Command::Fetch {
            snapshot,
            storage,
            output,
            config,
        } => match Wanted::parse(snapshot) {
            Ok(wanted) => load(cli.config_path(config))
                .and_then(|c| fetch::fetch(c, wanted, storage.as_deref(), output)),
            // Another agent's name is one only once the config says so (other_snapshot_names).
            Err(_) => load(cli.config_path(config)).and_then(|c| {
                let wanted = Wanted::parse(snapshot)?;
                fetch::fetch(c, wanted, storage.as_deref(), output)
            }),
        },
        Command::Drill {
            snapshot,
            storage,
            json,
            config,
        } => load(cli.config_path(config)).and_then(|c| {
            // After the load: another agent's name is one only once the config says so.
            let wanted = Wanted::parse(snapshot)?;
            drill::drill(c, wanted, storage.as_deref(), *json)
        }),
        Command::Inspect { file, depth, json } => {
            inspect::inspect(file, usize::from(*depth), *json)
        }
        Command::Restore {
            snapshot,
            storage,
            force,
            yes,
            wait,
            addr,
            config,
        } => {
            let named = cli.config_named(config);
            match restore::RestoreSource::parse(snapshot) {
                Ok(source) => restore::config_for(&source, cli.config_path(config), named)
                    .map(|c| (source, c)),
                // Not a file: a stored name, maybe another agent's (other_snapshot_names),
                // which only the config can tell.
                Err(_) => load(cli.config_path(config)).and_then(|c| {
                    let source = restore::RestoreSource::parse(snapshot)?;
                    Ok((source, c))
                }),
            }
            .and_then(|(source, c)| {
                let c = restore::with_addr(c, addr.as_deref())?;
                let options = restore::RestoreOptions {
                    source,
                    storage: storage.as_deref(),
                    force: *force,
                    yes: *yes,
                    wait: *wait,
                    env_token: process_env("VAULT_TOKEN")
                        .filter(|t| !t.trim().is_empty())
                        .map(|t| Secret::new(t.trim())),
                };
                restore::restore(c, options)
            })
        }
    };
    result.unwrap_or_else(|e| {
        if stdout_closed(&e) {
            return Exit::OutputClosed;
        }
        if stopped_by_signal(&e) {
            // An operator's stop (systemctl stop) is not a failure to alert on; the status
            // stays 1, as documented for a signal, for whoever waits on the command.
            warn!("{STOPPED}: {e:#}");
        } else {
            error!("{e:#}");
        }
        Exit::for_error(&e)
    })
}

/// True when `error` is a write to stdout that failed because its reader went away (the
/// `head` of `| head -1` exited): a broken pipe in the chain, and stdout is a pipe or socket
/// whose other end is closed. A broken pipe to Vault or a storage is not that: stdout is
/// still open then, and the error is reported as usual.
///
/// SIGPIPE stays ignored (Rust's default), so such a write is an error and not a death:
/// killing the process on it would also kill it for a socket write in `run`, or for a
/// stderr that journald closed.
fn stdout_closed(error: &anyhow::Error) -> bool {
    let broken_pipe = error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if !broken_pipe {
        return false;
    }
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no timeout; poll only reads and writes it.
    let ready = unsafe { libc::poll(&raw mut fd, 1, 0) };
    ready == 1 && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

/// How a command or cycle ended by SIGTERM, SIGINT or SIGHUP is logged (WARN, not ERROR).
pub const STOPPED: &str = "Stopped by a shutdown signal";

/// True when `error` is a shutdown signal's stop ([`crate::shutdown::INTERRUPTED`] anywhere
/// in its chain), not a failure.
pub(crate) fn stopped_by_signal(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|e| e.to_string().contains(crate::shutdown::INTERRUPTED))
}

/// Reads and validates the config file; nothing else on disk is touched (each command's
/// session probes what it uses).
pub(crate) fn load(path: PathBuf) -> Result<Config> {
    let config = Config::load(&path, &process_env).map_err(|e| migrate::explain(&path, e))?;
    crate::other_names::install(&config.other_snapshot_names);
    announce(&config);
    Ok(config)
}

/// Sets the log format and logs what is legal but probably a mistake.
pub(crate) fn announce(config: &Config) {
    crate::logging::set_format(config.log_format);
    for warning in &config.warnings {
        warn!("{warning}");
    }
    if config.vault.tls.skip_verify {
        warn!(
            "TLS certificate verification is OFF (tls_skip_verify / VAULT_SKIP_VERIFY): \
             anyone on the network path can impersonate Vault and read the snapshot"
        );
    }
    let single = [config.vault.addr.clone()];
    let nodes = if config.vault.nodes.is_empty() {
        &single[..]
    } else {
        &config.vault.nodes[..]
    };
    for addr in nodes.iter().filter(|addr| cleartext_to_another_host(addr)) {
        warn!(
            "addr {addr} is plain http:// to a host that is not this one: the token, secret_id and \
             snapshot travel unencrypted; use https://"
        );
    }
}

/// True for an `http://` address whose host is not loopback (`localhost`, 127.0.0.0/8, ::1).
fn cleartext_to_another_host(addr: &str) -> bool {
    let Ok(uri) = addr.parse::<ureq::http::Uri>() else {
        return false;
    };
    if uri.scheme_str() != Some("http") {
        return false;
    }
    let host = uri.host().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

#[cfg(test)]
mod tests {
    use super::cleartext_to_another_host;

    #[test]
    fn only_plain_http_to_another_host_is_cleartext() {
        for (addr, cleartext) in [
            ("http://vault.internal:8200", true),
            ("http://10.0.0.5:8200", true),
            ("http://127.0.0.1:8200", false),
            ("http://127.8.0.1:8200", false),
            ("http://localhost:8200", false),
            ("http://[::1]:8200", false),
            ("https://vault.internal:8200", false),
        ] {
            assert_eq!(cleartext_to_another_host(addr), cleartext, "{addr}");
        }
    }
}
