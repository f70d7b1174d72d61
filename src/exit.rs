//! Exit statuses: what a command's outcome means to the systemd timer, cron job or script
//! that runs it. Every command returns one of these; only `main` turns it into a number.

use std::process::ExitCode;

use crate::config::ConfigError;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done (the snapshot stored everywhere, or this node is not the leader).
    Ok,
    /// 1: the work failed (Vault, authentication, verification, a storage, a signal).
    Failed,
    /// 2: a configuration or usage error, or a `restore` preview that sent nothing.
    Usage,
    /// 141 (128 + SIGPIPE, what a shell reports for a process SIGPIPE killed): the reader of
    /// stdout went away (`| head -1`); the command stopped there, quietly.
    OutputClosed,
}

impl Exit {
    /// The process exit code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::OutputClosed => 141,
        }
    }

    /// `Ok` when nothing failed, else `Failed`.
    #[must_use]
    pub fn failed_if(failed: bool) -> Self {
        if failed { Exit::Failed } else { Exit::Ok }
    }

    /// The status for an error that ended a command: a [`ConfigError`] anywhere in its
    /// chain is a usage error, anything else a failure.
    #[must_use]
    pub fn for_error(error: &anyhow::Error) -> Self {
        if error
            .chain()
            .any(|e| e.downcast_ref::<ConfigError>().is_some())
        {
            Exit::Usage
        } else {
            Exit::Failed
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(
            [Exit::Ok, Exit::Failed, Exit::Usage, Exit::OutputClosed].map(Exit::code),
            [0, 1, 2, 128 + libc::SIGPIPE as u8]
        );
        assert_eq!(Exit::failed_if(false), Exit::Ok);
        assert_eq!(Exit::failed_if(true), Exit::Failed);
    }

    #[test]
    fn a_config_error_anywhere_in_the_chain_is_a_usage_error() {
        let plain = anyhow::anyhow!("Vault answered 500");
        assert_eq!(Exit::for_error(&plain), Exit::Failed);
        let config: anyhow::Error = ConfigError("f.json: key \"addr\": bad".into()).into();
        assert_eq!(Exit::for_error(&config), Exit::Usage);
        let wrapped = Err::<(), _>(config)
            .context("opening the session")
            .unwrap_err();
        assert_eq!(Exit::for_error(&wrapped), Exit::Usage);
    }
}
