//! Object keys under a prefix, the same way for every storage: `<prefix>/<snapshot name>`.
//!
//! A prefix is trimmed of slashes at both ends (`"/raft/"`, `"raft/"` and `"raft"` are the
//! same prefix), so the key of a snapshot never depends on how the prefix was written. An
//! empty prefix puts snapshots at the top of the bucket or container. Listing is by
//! `<prefix>/`, so a sibling prefix that starts the same way (`raft-other/`) is never seen,
//! and only a key that is exactly `<prefix>/<a name we write>` parses as a snapshot: nested
//! keys (`<prefix>/x/<name>`) and foreign names are not ours.

use crate::snapshot_name::SnapshotName;

/// The keys of one storage's snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectKeys {
    prefix: String,
}

impl ObjectKeys {
    /// Keys under `prefix` (slashes at its ends are dropped).
    #[must_use]
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_matches('/').to_string(),
        }
    }

    /// The prefix, without slashes at its ends.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// What a listing asks for: `<prefix>/`, or `""` for no prefix.
    #[must_use]
    pub fn list_prefix(&self) -> String {
        if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        }
    }

    /// The key of the object called `object` (a snapshot name, or a temporary name).
    #[must_use]
    pub fn key(&self, object: &str) -> String {
        format!("{}{object}", self.list_prefix())
    }

    /// The key of a snapshot.
    #[must_use]
    pub fn snapshot(&self, name: &SnapshotName) -> String {
        self.key(&name.to_string())
    }

    /// The snapshot a listed key holds, or `None` for any key that is not one of ours.
    #[must_use]
    pub fn parse(&self, key: &str) -> Option<SnapshotName> {
        key.strip_prefix(&self.list_prefix())
            .and_then(SnapshotName::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> SnapshotName {
        SnapshotName::parse("raft_snapshot-7.snap").unwrap()
    }

    #[test]
    fn a_prefix_is_the_same_however_its_slashes_are_written() {
        for written in ["raft", "/raft", "raft/", "/raft/", "//raft//"] {
            let keys = ObjectKeys::new(written);
            assert_eq!(
                keys.snapshot(&name()),
                "raft/raft_snapshot-7.snap",
                "{written}"
            );
            assert_eq!(keys.list_prefix(), "raft/", "{written}");
        }
        let nested = ObjectKeys::new("/a/b/");
        assert_eq!(nested.snapshot(&name()), "a/b/raft_snapshot-7.snap");
    }

    #[test]
    fn no_prefix_puts_snapshots_at_the_top() {
        for written in ["", "/", "//"] {
            let keys = ObjectKeys::new(written);
            assert_eq!(keys.snapshot(&name()), "raft_snapshot-7.snap");
            assert_eq!(keys.list_prefix(), "");
            assert_eq!(keys.parse("raft_snapshot-7.snap"), Some(name()));
        }
    }

    #[test]
    fn only_our_names_directly_under_the_prefix_parse() {
        let keys = ObjectKeys::new("raft");
        assert_eq!(keys.parse("raft/raft_snapshot-7.snap"), Some(name()));
        for foreign in [
            "raft_snapshot-7.snap",
            "raft/x/raft_snapshot-7.snap",
            "raft-other/raft_snapshot-7.snap",
            "raftraft_snapshot-7.snap",
            "raft/raft_snapshot-07.snap",
            "raft/.raft_snapshot-7.snap.tmp-1",
            "raft/notes.txt",
        ] {
            assert_eq!(keys.parse(foreign), None, "{foreign}");
        }
    }
}
