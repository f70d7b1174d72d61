//! Reading another agent's file: YAML, JSON or TOML, as viper chooses by the extension (a
//! file without a known extension is tried as JSON, then TOML, then YAML), into one JSON
//! value whose object keys are all lowercase, since viper matches keys case-insensitively.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use crate::config::MAX_CONFIG_BYTES;

/// The syntax a file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.json`.
    Json,
    /// `.yaml`, `.yml`.
    Yaml,
    /// `.toml`.
    Toml,
}

/// A file that cannot be read, parsed, or is neither agent's configuration. Exit code 2.
#[derive(Debug)]
pub struct ReadError {
    /// Names the file and what is wrong.
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReadError {}

/// The format viper would read `path` as, by its extension.
#[must_use]
pub fn format_of(path: &Path) -> Option<Format> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "json" => Some(Format::Json),
        "yaml" | "yml" => Some(Format::Yaml),
        "toml" => Some(Format::Toml),
        _ => None,
    }
}

/// Parses `text` as `format`.
///
/// # Errors
/// The parser's message.
pub fn parse(text: &str, format: Format) -> Result<Value, String> {
    let value = match format {
        Format::Json => serde_json::from_str::<Value>(text).map_err(|e| e.to_string())?,
        Format::Yaml => serde_norway::from_str::<Value>(text).map_err(|e| e.to_string())?,
        Format::Toml => toml::from_str::<Value>(text).map_err(|e| e.to_string())?,
    };
    Ok(lowercase_keys(value))
}

/// Every object key in `value` lowercased, at every depth.
#[must_use]
pub fn lowercase_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.to_lowercase(), lowercase_keys(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lowercase_keys).collect()),
        other => other,
    }
}

/// Reads and parses the file at `path`.
///
/// # Errors
/// A [`ReadError`] naming the file: it cannot be read, is too large, or does not parse.
pub fn read(path: &Path) -> Result<(Value, Format), ReadError> {
    let fail = |why: String| ReadError {
        message: format!("cannot read {}: {why}", path.display()),
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(fail(format!(
            "it is larger than {} KiB; is it the right file?",
            MAX_CONFIG_BYTES / 1024
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| fail("it is not UTF-8 text".into()))?;
    if let Some(format) = format_of(path) {
        return parse(&text, format)
            .map(|v| (v, format))
            .map_err(|e| fail(format!("not valid {format:?}: {e}")));
    }
    for format in [Format::Json, Format::Toml, Format::Yaml] {
        if let Ok(value) = parse(&text, format) {
            if value.is_object() {
                return Ok((value, format));
            }
        }
    }
    Err(fail("not valid JSON, TOML or YAML".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_three_formats_read_alike_with_keys_lowercased() {
        let yaml = "Vault:\n  Nodes:\n    URLs: [\"http://a:8200\"]\nsnapshots:\n  Retain: 3\n";
        let json =
            r#"{"Vault": {"Nodes": {"URLs": ["http://a:8200"]}}, "snapshots": {"Retain": 3}}"#;
        let toml = "[Vault.Nodes]\nURLs = [\"http://a:8200\"]\n[snapshots]\nRetain = 3\n";
        let expected =
            json!({"vault": {"nodes": {"urls": ["http://a:8200"]}}, "snapshots": {"retain": 3}});
        assert_eq!(parse(yaml, Format::Yaml).unwrap(), expected);
        assert_eq!(parse(json, Format::Json).unwrap(), expected);
        assert_eq!(parse(toml, Format::Toml).unwrap(), expected);
    }

    #[test]
    fn the_extension_chooses_the_format() {
        for (name, format) in [
            ("a.yaml", Some(Format::Yaml)),
            ("a.YML", Some(Format::Yaml)),
            ("a.json", Some(Format::Json)),
            ("a.toml", Some(Format::Toml)),
            ("a.conf", None),
            ("snapshots", None),
        ] {
            assert_eq!(format_of(Path::new(name)), format, "{name}");
        }
    }
}
