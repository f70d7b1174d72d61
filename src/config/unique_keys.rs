//! The file as JSON, refusing a key written twice in one object at any depth: JSON parsers
//! forgive it silently (the last one wins), which hides a mistake in a config file.

use std::fmt;

use serde::Deserialize;

/// A JSON value whose objects name no key twice (at any depth).
pub(super) struct UniqueKeys(pub serde_json::Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{key}` is written twice"
                )));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(UniqueKeys(object.into()))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(UniqueKeys(items.into()))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(UniqueKeys(serde_json::Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::UniqueKeys;

    /// What `text` parses to: the value, or the error's message.
    fn parse(text: &str) -> Result<serde_json::Value, String> {
        serde_json::from_str::<UniqueKeys>(text)
            .map(|UniqueKeys(value)| value)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_key_written_twice_in_one_object_is_refused_at_any_depth() {
        for (text, expected) in [
            (
                r#"{"retain": 1, "retain": 2}"#,
                "the key `retain` is written twice at line 1",
            ),
            (
                r#"{"local_storage": [{"path": "/a", "path": "/b"}]}"#,
                "the key `path` is written twice",
            ),
            (
                r#"[[{"a": {"b": 1, "b": 1}}]]"#,
                "the key `b` is written twice",
            ),
            ("{\n\"a\": 1,\n\"a\": 1}", "twice at line 3"),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.contains(expected), "row {text}: {error}");
        }
    }

    #[test]
    fn any_other_json_reads_as_serde_json_reads_it() {
        for text in [
            r#"{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}"#,
            r#"{"s": "x\ny", "t": true, "f": false, "n": null, "i": -7, "u": 18446744073709551615, "x": 1.5}"#,
            r#"[1, "two", [3], {}]"#,
            r#""just a string""#,
            "null",
            "{}",
        ] {
            let expected: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(parse(text), Ok(expected), "row {text}");
        }
    }
}
