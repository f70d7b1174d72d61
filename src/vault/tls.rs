//! The TLS client configuration for Vault, built from the files the configuration named
//! (`ca_cert`/`ca_path`, `client_cert`/`client_key`): PEM parsed into `ureq`'s types.
//!
//! It runs when the agent is built, before anything is sent, and its errors are
//! [`ConfigError`]s (exit 2) that name the key or environment variable and the file.

use std::sync::Arc;

use ureq::tls::{Certificate, ClientCert, PemItem, RootCerts, TlsConfig};

use crate::config::{CaSource, ConfigError, NamedPath, TlsSettings};

/// The `ureq` TLS configuration for `settings`.
///
/// Without `ca_cert`/`ca_path`, what the OS trusts (its store, `SSL_CERT_FILE`,
/// `SSL_CERT_DIR`) is trusted, which is where an internal CA for Vault usually lives, rather
/// than only the public web roots.
///
/// # Errors
/// A [`ConfigError`] when a file cannot be read, is not PEM, or holds no certificate (or no
/// private key for `client_key`).
pub fn client_config(settings: &TlsSettings) -> Result<TlsConfig, ConfigError> {
    let mut builder = TlsConfig::builder()
        .root_certs(RootCerts::PlatformVerifier)
        .disable_verification(settings.skip_verify);
    match &settings.ca {
        None => {}
        Some(CaSource::File(file)) => {
            let certs = certificates(file, read_pem(file)?)?;
            builder = builder.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
        Some(CaSource::Dir(dir)) => {
            let entries = std::fs::read_dir(&dir.path).map_err(|e| {
                ConfigError(format!(
                    "{}: cannot read directory {}: {e}",
                    dir.from,
                    dir.path.display()
                ))
            })?;
            let mut certs = Vec::new();
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() {
                    let file = NamedPath {
                        path,
                        from: dir.from.clone(),
                    };
                    certs.extend(certificates(&file, read_pem(&file)?)?);
                }
            }
            if certs.is_empty() {
                return Err(ConfigError(format!(
                    "{}: directory {} holds no PEM certificates",
                    dir.from,
                    dir.path.display()
                )));
            }
            builder = builder.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
    }
    if let Some(client) = &settings.client {
        let chain = certificates(&client.cert, read_pem(&client.cert)?)?;
        let private_key = read_pem(&client.key)?
            .into_iter()
            .find_map(|item| match item {
                PemItem::PrivateKey(k) => Some(k),
                _ => None,
            })
            .ok_or_else(|| {
                ConfigError(format!(
                    "{}: {} holds no PEM private key",
                    client.key.from,
                    client.key.path.display()
                ))
            })?;
        builder = builder.client_cert(Some(ClientCert::new_with_certs(&chain, private_key)));
    }
    Ok(builder.build())
}

fn read_pem(file: &NamedPath) -> Result<Vec<PemItem<'static>>, ConfigError> {
    let bytes = std::fs::read(&file.path).map_err(|e| {
        ConfigError(format!(
            "{}: cannot read {}: {e}",
            file.from,
            file.path.display()
        ))
    })?;
    ureq::tls::parse_pem(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ConfigError(format!(
                "{}: {} is not valid PEM: {e}",
                file.from,
                file.path.display()
            ))
        })
}

fn certificates(
    file: &NamedPath,
    items: Vec<PemItem<'static>>,
) -> Result<Vec<Certificate<'static>>, ConfigError> {
    let certs: Vec<Certificate<'static>> = items
        .into_iter()
        .filter_map(|item| match item {
            PemItem::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        Err(ConfigError(format!(
            "{}: {} holds no PEM certificate",
            file.from,
            file.path.display()
        )))
    } else {
        Ok(certs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientIdentity;

    fn named(path: &std::path::Path, from: &str) -> NamedPath {
        NamedPath {
            path: path.to_path_buf(),
            from: from.to_string(),
        }
    }

    fn error(settings: TlsSettings) -> String {
        match client_config(&settings) {
            Ok(_) => panic!("accepted {settings:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_files_name_their_key_or_variable_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let from_key = "snapshot.json: key \"ca_cert\"";

        let e = error(TlsSettings {
            ca: Some(CaSource::File(named(&missing, from_key))),
            ..TlsSettings::default()
        });
        assert!(
            e.contains(from_key) && e.contains("cannot read") && e.contains("missing.pem"),
            "{e}"
        );

        let e = error(TlsSettings {
            ca: Some(CaSource::File(named(
                &not_pem,
                "environment variable VAULT_CACERT",
            ))),
            ..TlsSettings::default()
        });
        assert!(
            e.contains("environment variable VAULT_CACERT")
                && e.contains("holds no PEM certificate"),
            "{e}"
        );

        let empty = tempfile::tempdir().unwrap();
        let e = error(TlsSettings {
            ca: Some(CaSource::Dir(named(
                empty.path(),
                "snapshot.json: key \"ca_path\"",
            ))),
            ..TlsSettings::default()
        });
        assert!(
            e.contains("key \"ca_path\"") && e.contains("holds no PEM certificates"),
            "{e}"
        );

        let e = error(TlsSettings {
            client: Some(ClientIdentity {
                cert: named(&missing, "snapshot.json: key \"client_cert\""),
                key: named(&not_pem, "snapshot.json: key \"client_key\""),
            }),
            ..TlsSettings::default()
        });
        assert!(e.contains("key \"client_cert\": cannot read"), "{e}");
    }

    #[test]
    fn no_files_means_the_system_store() {
        assert!(client_config(&TlsSettings::default()).is_ok());
    }
}
