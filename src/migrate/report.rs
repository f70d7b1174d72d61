//! What `migrate` tells the operator: every key it mapped (and to what), every key it could
//! not map (and why), every change of meaning, and every secret value it had to copy.

use std::fmt::Write as _;

/// The report of one migration.
#[derive(Debug, Default)]
pub struct Report {
    /// Their key, and what it became in ours.
    pub mapped: Vec<(String, String)>,
    /// Their key, and why it has no place in ours.
    pub unmapped: Vec<(String, String)>,
    /// What works differently here, though mapped.
    pub notes: Vec<String>,
    /// Our keys into which a secret's value was copied (not a reference).
    pub copied_secrets: Vec<String>,
}

impl Report {
    /// Records that `theirs` became `ours`.
    pub fn mapped(&mut self, theirs: impl Into<String>, ours: impl Into<String>) {
        self.mapped.push((theirs.into(), ours.into()));
    }

    /// Records that `theirs` could not be mapped, and why.
    pub fn unmapped(&mut self, theirs: impl Into<String>, reason: impl Into<String>) {
        self.unmapped.push((theirs.into(), reason.into()));
    }

    /// Records a change of meaning.
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// The report as printed to stderr; `output` names where the config went.
    #[must_use]
    pub fn render(&self, output: &str) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "Mapped ({}):", self.mapped.len());
        for (theirs, ours) in &self.mapped {
            let _ = writeln!(text, "  {theirs} -> {ours}");
        }
        let _ = writeln!(text, "Not mapped ({}):", self.unmapped.len());
        for (theirs, reason) in &self.unmapped {
            let _ = writeln!(text, "  {theirs}: {reason}");
        }
        let _ = writeln!(text, "Changes of meaning ({}):", self.notes.len());
        for note in &self.notes {
            let _ = writeln!(text, "  - {note}");
        }
        if !self.copied_secrets.is_empty() {
            let mut keys = self.copied_secrets.clone();
            keys.dedup();
            let _ = writeln!(
                text,
                "Secret values copied into {output}{} (better: put each in a file and write \
                 file:///path, or env://NAME): {}",
                if output == "stdout" {
                    ""
                } else {
                    ", created readable by its owner only"
                },
                keys.join(", ")
            );
        }
        if self.unmapped.is_empty() {
            let _ = writeln!(text, "Everything was mapped; written to {output}.");
        } else {
            let _ = writeln!(
                text,
                "{} key(s) could not be mapped; written to {output} with them listed under \
                 \"{}\", which the agent refuses until that key is removed.",
                self.unmapped.len(),
                super::GAPS_KEY
            );
        }
        text
    }
}
