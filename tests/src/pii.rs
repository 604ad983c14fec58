//! The personal data of the fixture world (docs/sandbox.md), and a scanner that looks
//! for it where it must never be: log lines, stored errors, the audit log, metrics.
//!
//! It looks for every person's identity or iqama number, their mobile in both spellings
//! (`05…` and `9665…`), and their full four-part name in Arabic and in English. A
//! finding names the kind and where it was, and masks the value (the report of a leak
//! must not be one).

use std::path::{Path, PathBuf};

use rabt_sandbox::world::World;

/// The seed of every test deployment's world (`simulate.seed`'s default).
pub const SEED: u64 = 1447;

/// One thing found where it must not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `identity number`, `mobile`, `name (ar)` or `name (en)`.
    pub kind: &'static str,
    /// Where: a file and line, a table and column, an endpoint.
    pub place: String,
    /// The value with all but its first two and last two characters masked.
    pub masked: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} in {}", self.kind, self.masked, self.place)
    }
}

/// What to look for.
#[derive(Debug, Clone)]
pub struct Needles(Vec<(&'static str, String)>);

impl Needles {
    /// Everyone of the world of `seed`.
    pub fn of_world(seed: u64) -> Needles {
        let world = World::generate(seed);
        let mut needles = Vec::new();
        for person in world.people() {
            needles.push(("identity number", person.id.to_string()));
            let mobile = person.mobile.to_string();
            if let Some(local) = mobile.strip_prefix("966") {
                needles.push(("mobile", format!("0{local}")));
            }
            needles.push(("mobile", mobile));
            let name = person.name.full();
            needles.push(("name (ar)", name.ar));
            needles.push(("name (en)", name.en));
        }
        Needles(needles)
    }

    /// How many values are looked for.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is looked for.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every needle in `text`; `place` says where the text came from.
    pub fn scan(&self, text: &str, place: &str) -> Vec<Finding> {
        let mut found = Vec::new();
        for (n, line) in text.lines().enumerate() {
            for (kind, value) in &self.0 {
                if contains_standalone(line, value) {
                    found.push(Finding {
                        kind,
                        place: format!("{place}:{}", n + 1),
                        masked: mask(value),
                    });
                }
            }
        }
        found
    }

    /// Every needle in every file under `dir` (recursively).
    pub fn scan_dir(&self, dir: &Path) -> std::io::Result<(usize, Vec<Finding>)> {
        let mut files = 0;
        let mut found = Vec::new();
        let mut pending: Vec<PathBuf> = vec![dir.to_owned()];
        while let Some(path) = pending.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path)? {
                    pending.push(entry?.path());
                }
            } else {
                let bytes = std::fs::read(&path)?;
                files += 1;
                found.extend(self.scan(
                    &String::from_utf8_lossy(&bytes),
                    &path.display().to_string(),
                ));
            }
        }
        Ok((files, found))
    }
}

/// Whether `needle` occurs in `line` not as part of a longer run of digits (an ID inside
/// a longer number is not that ID).
fn contains_standalone(line: &str, needle: &str) -> bool {
    let digits = needle.bytes().all(|b| b.is_ascii_digit());
    line.match_indices(needle).any(|(at, _)| {
        if !digits {
            return true;
        }
        let before = line[..at].bytes().next_back();
        let after = line[at + needle.len()..].bytes().next();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 4 {
        return "*".repeat(chars.len());
    }
    let middle = "*".repeat(chars.len() - 4);
    format!(
        "{}{}{middle}{}{}",
        chars[0],
        chars[1],
        chars[chars.len() - 2],
        chars[chars.len() - 1]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_world_has_its_golden_people_and_finds_them() {
        let needles = Needles::of_world(SEED);
        assert!(needles.len() > 1000, "{}", needles.len());
        let found = needles.scan(
            "lookup of 1000000008 failed\nID 11000000083 is other",
            "log",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, "identity number");
        assert_eq!(found[0].place, "log:1");
        assert!(!found[0].to_string().contains("1000000008"));
        assert!(
            needles
                .scan("task_0190 completed OK in 12 ms", "log")
                .is_empty()
        );
    }
}
