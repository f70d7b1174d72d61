# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_vault_raft_snapshot_global_optspecs
    string join \n c/config= h/help V/version
end

function __fish_vault_raft_snapshot_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_vault_raft_snapshot_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_vault_raft_snapshot_using_subcommand
    set -l cmd (__fish_vault_raft_snapshot_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -s c -l config -d 'The JSON configuration file [default: /etc/vault.d/snapshot.json]; may also follow the command' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -s V -l version -d 'Print version'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "once" -d 'Take one snapshot, store it, prune, and exit (for a systemd timer or cron)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "run" -d 'Take a snapshot every `frequency`, as a long-running service'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "prune" -d 'Apply retention to every storage now, without taking a snapshot'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "list" -d 'List the snapshots in every storage, newest first: storage, name, time, age, size'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "fetch" -d 'Download a stored snapshot to a file or stdout, verified'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "inspect" -d 'Show what a snapshot file holds: ID, index, term, Raft servers, keys by prefix'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "restore" -d 'Restore a snapshot into the Vault cluster (with --yes)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "drill" -d 'Restore a stored snapshot into a scratch server and prove it: a restore drill'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "verify" -d 'Check snapshot files on disk, with the same checks as a download (no config needed)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "check" -d 'Validate the config and print the resolved settings, secrets masked'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "status" -d 'Show the last cycle\'s results from the metrics file (`metrics_file`)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "migrate" -d 'Convert another agent\'s configuration into this one\'s JSON config'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "generate" -d 'Write the man page or shell completions to stdout (for packagers)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand once" -s c -l config -d 'The JSON configuration file [default: /etc/vault.d/snapshot.json]' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand once" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand run" -s c -l config -d 'The JSON configuration file [default: /etc/vault.d/snapshot.json]' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand prune" -l now -d 'Plan as if the clock read this RFC 3339 time (e.g. 2026-11-20T13:00:00Z); snapshots after it count as future. Only with --dry-run' -r
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand prune" -s c -l config -d 'The JSON configuration file [default: /etc/vault.d/snapshot.json]' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand prune" -l dry-run -d 'Show what would be deleted, and delete nothing'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand prune" -l json -d 'Print the plan as JSON instead of a table'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand list" -l storage -d 'Only this storage: its name (local-0, aws-1, or its `name` key), or its kind alone when it is the only one of that kind' -r
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand list" -s c -l config -d 'The JSON configuration file [default: /etc/vault.d/snapshot.json]' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand list" -l json -d 'Print JSON instead of a table'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand fetch" -l storage -d 'Only from this storage (see `list --storage`)' -r
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand fetch" -s o -l output -d 'Where to write it: a FILE that must not exist, an existing DIR (written as DIR/<name>), or - for stdout (staged in temp_dir and verified whole first: nothing unverified is ever written to stdout)' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand fetch" -s c -l config -d 'The JSON configuration file [default: /etc/vault.d/snapshot.json]' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand inspect" -l depth -d 'How many path segments of each key to group by' -r
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand inspect" -l json -d 'Print JSON'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand restore" -l storage -d 'Only from this storage (see `list --storage`)' -r
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand restore" -l wait -d 'How long to wait, after Vault accepted the snapshot, until the node has applied it and serves requests again (Vault answers before the restore is done), as a Go duration. Exits 1 when it is not back in time' -r
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand restore" -l addr -d 'The Vault address to restore to, instead of the config\'s `addr` or VAULT_ADDR. Restoring a FILE needs no config file: VAULT_ADDR (or --addr) and VAULT_TOKEN do' -r
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand restore" -s c -l config -d 'The JSON configuration file [default: /etc/vault.d/snapshot.json]' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand restore" -l force -d 'Use snapshot-force: restore a snapshot taken on another cluster (other unseal keys). The cluster then takes the snapshot\'s data, unseal keys and tokens'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand restore" -l yes -d 'Really restore; without it nothing is sent'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand drill" -l storage -d 'Only from this storage (see `list --storage`)' -r
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand drill" -s c -l config -d 'The JSON configuration file [default: /etc/vault.d/snapshot.json]' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand drill" -l json -d 'Print the report as JSON'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand drill" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand verify" -s h -l help -d 'Print help'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand check" -s c -l config -d 'The JSON configuration file [default: /etc/vault.d/snapshot.json]' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand check" -l connect -d 'Also reach Vault and every storage'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand status" -l max-age -d 'The oldest last success that is still fine, e.g. 26h (default: twice `frequency`)' -r
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand status" -s c -l config -d 'The JSON configuration file [default: /etc/vault.d/snapshot.json]' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand migrate" -s o -l output -d 'Where to write our config (a file that must not exist); stdout when not given' -r -F
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand migrate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and not __fish_seen_subcommand_from man completions readme help" -s h -l help -d 'Print help'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and not __fish_seen_subcommand_from man completions readme help" -f -a "man" -d 'The man page (roff)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and not __fish_seen_subcommand_from man completions readme help" -f -a "completions" -d 'Completions for a shell'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and not __fish_seen_subcommand_from man completions readme help" -f -a "readme" -d 'README.md with its generated tables (configuration keys, environment) rewritten'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and not __fish_seen_subcommand_from man completions readme help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and __fish_seen_subcommand_from man" -s h -l help -d 'Print help'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and __fish_seen_subcommand_from completions" -s h -l help -d 'Print help'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and __fish_seen_subcommand_from readme" -s h -l help -d 'Print help'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "man" -d 'The man page (roff)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "completions" -d 'Completions for a shell'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "readme" -d 'README.md with its generated tables (configuration keys, environment) rewritten'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "once" -d 'Take one snapshot, store it, prune, and exit (for a systemd timer or cron)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "run" -d 'Take a snapshot every `frequency`, as a long-running service'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "prune" -d 'Apply retention to every storage now, without taking a snapshot'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "list" -d 'List the snapshots in every storage, newest first: storage, name, time, age, size'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "fetch" -d 'Download a stored snapshot to a file or stdout, verified'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "inspect" -d 'Show what a snapshot file holds: ID, index, term, Raft servers, keys by prefix'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "restore" -d 'Restore a snapshot into the Vault cluster (with --yes)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "drill" -d 'Restore a stored snapshot into a scratch server and prove it: a restore drill'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "verify" -d 'Check snapshot files on disk, with the same checks as a download (no config needed)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "check" -d 'Validate the config and print the resolved settings, secrets masked'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "status" -d 'Show the last cycle\'s results from the metrics file (`metrics_file`)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "migrate" -d 'Convert another agent\'s configuration into this one\'s JSON config'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "generate" -d 'Write the man page or shell completions to stdout (for packagers)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and not __fish_seen_subcommand_from once run prune list fetch inspect restore drill verify check status migrate generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "man" -d 'The man page (roff)'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "completions" -d 'Completions for a shell'
complete -c vault-raft-snapshot -n "__fish_vault_raft_snapshot_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "readme" -d 'README.md with its generated tables (configuration keys, environment) rewritten'
