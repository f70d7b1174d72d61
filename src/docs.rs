//! The man page, README's configuration tables and the shell completions, generated from the
//! clap definitions, the configuration key table ([`crate::config::KEYS`]) and the table of
//! environment variables ([`ENVIRONMENT`]), so they cannot drift from `--help`, from the
//! parser or from each other. `vault-raft-snapshot generate man` writes
//! `man/vault-raft-snapshot.1` and `generate readme` rewrites README's generated blocks; tests
//! fail when a committed copy is stale.

use clap::CommandFactory;
use roff::{Roff, bold, italic, roman};

use crate::cli::Cli;
use crate::config::{DEFAULT_CONFIG_PATH, KEYS, KeyDoc, Section};

/// Every environment variable the agent or a library it drives reads: name, what it does.
/// README's environment table and the man page's ENVIRONMENT come from it, and a test checks
/// that every variable the source reads is listed here.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "VAULT_ADDR, VAULT_NAMESPACE, VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY, VAULT_SKIP_VERIFY, VAULT_TLS_SERVER_NAME",
        "As the Vault CLI applies them, for keys the file does not set (VAULT_TLS_SERVER_NAME is refused, like tls_server_name).",
    ),
    (
        "VAULT_TOKEN",
        "The token for vault_auth_method token, or when no other method is configured; for restore, the token used whatever the configured method (it needs update on sys/storage/raft/snapshot).",
    ),
    (
        "TMPDIR",
        "Where the download is staged when temp_dir is not set (default /tmp).",
    ),
    (
        "AWS_REGION, AWS_DEFAULT_REGION",
        "The S3 region when s3_region is not set; the region of the regional STS endpoint for web identity, and of the aws login when aws_auth_region is not set.",
    ),
    (
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_SECURITY_TOKEN, AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, HOME",
        "The AWS credential chain, for S3 when access_key_id and secret_access_key are not set and for vault_auth_method aws. Its sources, the first configured one used: static keys from the environment; the profile AWS_PROFILE (else [default]) of AWS_SHARED_CREDENTIALS_FILE (else $HOME/.aws/credentials); then web identity, container credentials, instance metadata (rows below). check names the source in use.",
    ),
    (
        "AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME",
        "Web identity (EKS IRSA): the token file, read at every exchange, is traded at STS AssumeRoleWithWebIdentity for temporary credentials, fetched again 5 minutes before they expire.",
    ),
    (
        "AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, AWS_STS_REGIONAL_ENDPOINTS",
        "The STS endpoint for web identity and the aws login: AWS_ENDPOINT_URL_STS (else AWS_ENDPOINT_URL, e.g. a VPC endpoint), else the regional endpoint of AWS_REGION (https://sts.REGION.amazonaws.com: private clusters have no route to the global one); the global https://sts.amazonaws.com only without a region, or with AWS_STS_REGIONAL_ENDPOINTS=legacy in a region that had it.",
    ),
    (
        "AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, AWS_CONTAINER_AUTHORIZATION_TOKEN, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "Container credentials (EKS Pod Identity, ECS): GET the full URI (plain http only to this host, 169.254.170.2 or 169.254.170.23) or 169.254.170.2 + the relative URI, with the token file's content (read at every fetch; else the token) as Authorization.",
    ),
    (
        "AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_DISABLED",
        "Instance metadata, the last source: IMDSv2 only (a PUT for a session token, then the role's credentials) at this address (default http://169.254.169.254); AWS_EC2_METADATA_DISABLED=true turns it off.",
    ),
    (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "A service-account, authorized-user or external_account (workload identity federation) JSON file when credentials_file is not set; checked at start.",
    ),
    (
        "GCE_METADATA_HOST",
        "The GCE/GKE metadata server's host (default metadata.google.internal), for GCS tokens when no credentials file is set and for vault_auth_method gcp.",
    ),
    (
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        "Azure's instance metadata service as a base URL (default http://169.254.169.254), for vault_auth_method azure; the variable Azure's SDKs read.",
    ),
    (
        "STORAGE_EMULATOR_HOST",
        "A GCS emulator to use without credentials, when google_storage.endpoint is not set.",
    ),
    (
        "AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY",
        "The Azure storage account and shared key when account_name and account_key are not set.",
    ),
    (
        "AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST",
        "Azure workload identity (AKS), used when neither account_key nor sas_token is set: the Kubernetes token in AZURE_FEDERATED_TOKEN_FILE (re-read at each token request) is sent as the client assertion to AZURE_AUTHORITY_HOST (default https://login.microsoftonline.com/) for tenant AZURE_TENANT_ID and app AZURE_CLIENT_ID. AZURE_CLIENT_ID alone picks a user-assigned managed identity.",
    ),
    (
        "AZURE_CLIENT_SECRET",
        "An Azure service principal's secret (with AZURE_CLIENT_ID and AZURE_TENANT_ID), used when neither account_key, sas_token nor AZURE_FEDERATED_TOKEN_FILE is set.",
    ),
    (
        "IDENTITY_HEADER",
        "The secret header of an Azure managed identity endpoint (read by object_store), used when neither account_key nor sas_token is set.",
    ),
    (
        "SSL_CERT_FILE, SSL_CERT_DIR",
        "Extra trusted CAs for the system trust store, used for Vault when ca_cert and ca_path are not set, and for S3, GCS and Azure endpoints and their token endpoints (Google STS, Entra ID).",
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
        "VRSA_*, AWS_ENDPOINT_URL",
        "migrate only: VRSA_<KEY PATH> overrides a key of the other agent's file as that agent's viper does (VRSA_SNAPSHOTS_RETAIN); env:// values of keys ours takes as plain text are read; AWS_ENDPOINT_URL set means that agent's S3 endpoint came from it, which the report points out.",
    ),
];

/// The commands, as SYNOPSIS and COMMANDS show them.
const COMMANDS: &[(&str, &str)] = &[
    (
        "once",
        "Take one snapshot, store it in every storage, prune, and exit. For a systemd timer or cron. On a standby it logs \"Not running on leader node, skipping.\" and exits 0.",
    ),
    (
        "run",
        "Take a snapshot every frequency, as a service. A failed cycle is logged and the loop goes on. SIGTERM, SIGINT or SIGHUP (which does not reload the config) stops it within a second or two with exit status 0, leaving no temporary file; a second signal while the first is handled ends it at once with exit status 1.",
    ),
    (
        "prune [--dry-run [--now TIME]] [--json]",
        "Apply retention to every storage now, without taking a snapshot, and list every snapshot with keep or delete and every rule that keeps it. With --dry-run nothing is deleted; --now TIME (RFC 3339) plans as if the clock read that time; --json prints the plan as data.",
    ),
    (
        "check [--connect]",
        "Validate the configuration (exit status 2 with the usual message when it is bad) and print the resolved settings, every secret-valued key shown as <redacted> or as the file:// or env:// reference it is. With --connect, also reach Vault (sys/leader, with what the leader check would decide, and sys/seal-status), log in and look the token up, ask sys/capabilities-self whether it may read sys/storage/raft/snapshot, and list every storage, without taking a snapshot: one line per step, ok or FAIL; exits 1 naming the first step that failed.",
    ),
    (
        "status",
        "Print the facts of the metrics file (metrics_file) for a human: leadership, the last cycle, and per storage the last success, the last error and the snapshots held.",
    ),
    (
        "verify FILE...",
        "Run the snapshot checks on files on disk (- reads one from stdin); no configuration is needed. One line per file, OK or BAD with the reason; exits 1 when any file is bad.",
    ),
    (
        "list [--storage NAME] [--json]",
        "List every snapshot in every storage (or only NAME), newest first: storage, name, UTC time, age and size. Storages are named by their name key, else by kind and position in their section: local-0, aws-0, gcp-1, azure-0; --storage also takes the kind alone when there is one storage of that kind. Exits 1 when a storage cannot be listed.",
    ),
    (
        "fetch [NAME|latest] [--storage NAME] -o FILE|DIR|-",
        "Download a stored snapshot (default: the newest) into a temporary file beside FILE, verify it, and rename it to FILE. An existing directory DIR means DIR/<name>. With -o - the snapshot is staged in temp_dir, verified whole, and only then copied to stdout (the summary goes to the log). Never overwrites a file (exit 2). When a copy fails verification, the same snapshot is tried in the next storage that holds it, in config order; exits 1 when no copy is good, leaving nothing behind.",
    ),
    (
        "inspect FILE [--depth N] [--json]",
        "Verify a snapshot file and show what it holds: ID, size, Raft index, term and version, the Raft servers, and the keys of state.bin counted and sized by prefix of N path segments (default 2): the 50 prefixes with the most bytes, and one line with the count and bytes of all the others, so output and memory stay bounded whatever the number of keys. Exits 1 only when the file fails verification; what the decoder does not understand is shown as \"contents not decoded: <why>\" with exit status 0. Strings from the snapshot are printed with control characters escaped (\\x1b, \\u{202e}); --json prints them exactly. No configuration is needed.",
    ),
    (
        "restore [NAME|latest|FILE] [--storage NAME] [--force] --yes",
        "Restore a snapshot into the Vault cluster. The snapshot (stored, or a FILE: a path that exists or contains a slash) is fetched into temp_dir and verified first; if it fails, nothing is sent to Vault (exit 1). Its inspect summary is printed (\"contents not decoded: <why>\" when the decoder does not understand state.bin: that never stops a restore of a snapshot that verified). Without --yes nothing is sent and the exit status is 2. With --yes it asks sys/leader for the active node and POSTs the file there with a Content-Length (to sys/storage/raft/snapshot, or snapshot-force with --force); a redirect is never followed. The token is VAULT_TOKEN when set, else the configured auth method's; it needs update on sys/storage/raft/snapshot, and on sys/storage/raft/snapshot-force for --force. When Vault refuses a snapshot taken with other unseal keys, the message says so; --force installs it anyway, and the cluster then takes the snapshot's data, unseal keys and tokens. No timeout applies to the upload unless timeout is set.",
    ),
    (
        "migrate FILE [-o OUT]",
        "Convert another agent's configuration into this one's JSON config: Argelbargel's vault-raft-snapshot-agent (YAML, JSON or TOML, keys in any case, VRSA_* overrides and env:// / file:// values applied as that agent does) or a Vault Enterprise automated-snapshot configuration (vault read -format=json sys/storage/raft/snapshot-auto/config/NAME). Writes to OUT (never overwritten; mode 0600) or stdout, and prints to stderr every key mapped, every key not mapped with the reason, and every change of meaning. Exits 0 when everything was mapped, 1 when something was not (the gaps are listed under migrate_gaps, a key the agent refuses until removed), 2 when FILE cannot be read or is neither agent's. Given such a file with -c, every command says so and to run migrate.",
    ),
];

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
    out.extend_from_slice(synopsis().as_bytes());
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let mut page = String::from_utf8_lossy(&out).into_owned();
    page.push_str(&extra_sections());
    let mut tail = Vec::new();
    let _ = man.render_version_section(&mut tail);
    page.push_str(&String::from_utf8_lossy(&tail));
    page
}

/// SYNOPSIS: one line per command, with the options each takes.
fn synopsis() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"]);
    for (i, (command, _)) in COMMANDS.iter().enumerate() {
        if i > 0 {
            roff.control("br", []);
        }
        let config = if ["verify", "inspect", "migrate"]
            .iter()
            .any(|c| command.starts_with(c))
        {
            ""
        } else {
            "[-c FILE] "
        };
        roff.text([
            bold("vault-raft-snapshot"),
            roman(format!(" {config}{command}")),
        ]);
    }
    roff.control("br", []);
    roff.text([bold("vault-raft-snapshot"), roman(" -h | -V")]);
    roff.render()
}

fn extra_sections() -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    definitions(&mut roff, Term::Bold, COMMANDS);

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

    roff.control("SH", ["RETENTION"]);
    roff.text([roman(
        "A snapshot is kept if any rule keeps it. retain N keeps the newest N. retain_hourly, retain_daily, retain_weekly, retain_monthly and retain_yearly N keep, for the last N hours, days, ISO weeks, months or years that have at least one snapshot, the newest snapshot of each (periods without a snapshot do not use up the count); periods are UTC, from the time in the snapshot's name. retain_within D keeps every snapshot within D of the newest snapshot, counted from the newest snapshot, not from the clock. The newest snapshot is always kept. A count of 0 or a duration of 0s turns a rule off; with every rule off nothing is deleted. A snapshot dated more than 5 minutes in the future, and an object that cannot be a snapshot (under 22 bytes, or in a local directory anything but a regular file), are kept and counted by no rule, and never latest; the latter is never deleted and is warned about by name. A storage object that sets any retention key uses its own keys only.",
    )]);
    roff.control("PP", []);
    roff.text([roman(
        "Example: with hourly snapshots, retain_within 24h, retain_daily 7, retain_weekly 4 and retain_monthly 12 keep every snapshot of the last 24 hours, the last snapshot of each of the last 7 days, of each of the last 4 ISO weeks and of each of the last 12 months: 44 snapshots for a year, instead of 8,760. prune --dry-run shows, per snapshot, every rule that keeps it (for example daily 2026-11-20, weekly 2026-W47, within 24h).",
    )]);

    roff.control("SH", ["ENVIRONMENT"]);
    definitions(&mut roff, Term::Bold, ENVIRONMENT);

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
                "The cycle failed: Vault unreachable or sealed, authentication, verification of the snapshot, or a storage. For verify: a file failed its checks. For status: the last cycle failed. Also the status of a second SIGTERM, SIGINT or SIGHUP while the first is being handled (e.g. while Vault stalls mid-stream), which ends the process at once.",
            ),
            (
                "2",
                "Configuration or usage error; the message names the file and the key.",
            ),
            (
                "141",
                "stdout was closed by the program reading it (e.g. | head -1): the command stopped there, quietly, as a process killed by SIGPIPE would (128 + 13). SIGPIPE itself stays ignored, so a closed socket or stderr never kills the agent.",
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
                "<temp_dir>/.vault-raft-snapshot-<pid>-<random>.tmp",
                "The staged download, verified as it arrives, removed at the end of every cycle (temp_dir, else TMPDIR, else /tmp). restore stages a stored snapshot under the same name, and fetch writes one beside its --output before renaming it into place. The PID is the writer's: a file whose process no longer runs is what a killed agent left, and the next command that writes to that directory removes it.",
            ),
            (
                ".raft_snapshot-<unix ns>.snap.tmp-<pid>",
                "A snapshot being written into a local storage directory; renamed into place once synced, removed like the staged download when its writer was killed.",
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
                "vault-raft-snapshot prune --dry-run --now 2026-12-01T00:00:00Z --json",
                "Try a policy as if it were another time, as data.",
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

/// README's table of the keys of one section, as Markdown.
#[must_use]
pub fn readme_key_table(section: Section) -> String {
    let keys: Vec<&KeyDoc> = KEYS.iter().filter(|k| k.section == section).collect();
    let with_env = keys.iter().any(|k| !k.env.is_empty());
    let mut out = String::from(if with_env {
        "| key | default | environment | meaning |\n|---|---|---|---|\n"
    } else {
        "| key | default | meaning |\n|---|---|---|\n"
    });
    for key in keys {
        // Inside a storage table a key is shown by its own name.
        let name = key
            .key
            .split(", ")
            .map(|k| k.split_once('.').map_or(k, |(_, field)| field))
            .collect::<Vec<_>>()
            .join("`, `");
        let default = if key.default.is_empty() {
            String::new()
        } else {
            key.default.to_string()
        };
        let env = if key.env.is_empty() {
            String::new()
        } else {
            key.env
                .split(", ")
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if with_env {
            out.push_str(&format!("| `{name}` | {default} | {env} | {} |\n", key.doc));
        } else {
            out.push_str(&format!("| `{name}` | {default} | {} |\n", key.doc));
        }
    }
    out
}

/// README's table of environment variables, as Markdown.
#[must_use]
pub fn readme_environment_table() -> String {
    let mut out = String::from("| variable | meaning |\n|---|---|\n");
    for (names, meaning) in ENVIRONMENT {
        let names = names
            .split(", ")
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!("| {names} | {meaning} |\n"));
    }
    out
}

/// `readme` with every generated block (`<!-- generated:NAME -->` ... `<!-- /generated -->`)
/// rewritten from the tables. Unknown names are left as they are.
#[must_use]
pub fn refresh_readme(readme: &str) -> String {
    const END: &str = "<!-- /generated -->";
    let mut out = String::new();
    let mut rest = readme;
    while let Some(start) = rest.find("<!-- generated:") {
        let Some(name_end) = rest[start..].find(" -->").map(|i| start + i) else {
            break;
        };
        let name = &rest[start + "<!-- generated:".len()..name_end];
        let Some(end) = rest[name_end..].find(END).map(|i| name_end + i) else {
            break;
        };
        let body = if name == "environment" {
            Some(readme_environment_table())
        } else {
            Section::ALL
                .iter()
                .find(|s| s.name() == name)
                .map(|s| readme_key_table(*s))
        };
        out.push_str(&rest[..name_end + " -->".len()]);
        match body {
            Some(body) => {
                out.push('\n');
                out.push_str(&body);
            }
            None => out.push_str(&rest[name_end + " -->".len()..end]),
        }
        out.push_str(END);
        rest = &rest[end + END.len()..];
    }
    out.push_str(rest);
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshing_rewrites_only_the_generated_blocks() {
        let readme = "intro\n<!-- generated:local_storage -->\nstale\n<!-- /generated -->\nprose\n<!-- generated:nope -->\nkept\n<!-- /generated -->\n";
        let fresh = refresh_readme(readme);
        assert!(
            fresh.starts_with("intro\n<!-- generated:local_storage -->\n| key |"),
            "{fresh}"
        );
        assert!(fresh.contains("| `path` |"), "{fresh}");
        assert!(!fresh.contains("stale"), "{fresh}");
        assert!(
            fresh.contains("prose\n<!-- generated:nope -->\nkept\n<!-- /generated -->"),
            "{fresh}"
        );
        assert_eq!(refresh_readme(&fresh), fresh);
    }

    /// Every variable name in `var(...)`, `var_os(...)`, `(self.env)(...)` or `key_or_env(...)`
    /// calls under `dir`.
    fn variables_read(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                variables_read(&path, found);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // In a key_or_env call the variable is the last string literal before its end.
            for (i, _) in text.match_indices("key_or_env(") {
                let call: String = text[i..].chars().take_while(|c| *c != ')').collect();
                if let Some(name) = call.rsplit('"').nth(1) {
                    if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                        found.push(name.to_string());
                    }
                }
            }
            for opener in ["var(\"", "var_os(\"", "env)(\""] {
                for (i, _) in text.match_indices(opener) {
                    let rest = &text[i + opener.len()..];
                    let name: String = rest.chars().take_while(|c| *c != '"').collect();
                    if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !name.is_empty()
                    {
                        found.push(name);
                    }
                }
            }
        }
    }

    #[test]
    fn every_environment_variable_the_source_reads_is_documented() {
        let mut found = Vec::new();
        variables_read(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(found.len() > 10, "{found:?}");
        let documented: Vec<&str> = ENVIRONMENT
            .iter()
            .flat_map(|(names, _)| names.split(", "))
            .collect();
        for name in found {
            assert!(
                documented.contains(&name.as_str()),
                "{name} is read but not in docs::ENVIRONMENT"
            );
        }
    }

    #[test]
    fn the_documented_inspect_bound_and_closed_stdout_status_are_the_real_ones() {
        assert_eq!(
            crate::archive::inspect::SHOWN_PREFIXES,
            50,
            "update cli.rs (inspect), COMMANDS and README"
        );
        assert_eq!(
            crate::exit::Exit::OutputClosed.code(),
            141,
            "update EXIT STATUS, cli.rs and README"
        );
    }

    #[test]
    fn the_documented_second_signal_status_is_the_real_one() {
        assert_eq!(
            crate::shutdown::SECOND_SIGNAL_EXIT,
            1,
            "update EXIT STATUS and README"
        );
    }

    #[test]
    fn the_synopsis_shows_every_command_and_verify_without_a_config() {
        let synopsis = synopsis();
        for (command, _) in COMMANDS {
            assert!(
                synopsis.contains(command.split(' ').next().unwrap()),
                "{synopsis}"
            );
        }
        assert!(
            synopsis.contains("[\\-c FILE] once") || synopsis.contains("[-c FILE] once"),
            "{synopsis}"
        );
        assert!(synopsis.contains(" verify FILE"), "{synopsis}");
    }
}
