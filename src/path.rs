//! Readable paths into data, shared by ASL errors, manifest diagnostics and plan changes:
//! `States.Parallel.Branches[1].States.MaxMinValues.Next`. A key that is not a plain identifier
//! is quoted: `States["Step 1"].Next`.

use std::fmt;

/// One step into a JSON-like value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path from some root value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Path(pub Vec<Segment>);

impl Path {
    /// The empty path (the root).
    pub fn root() -> Self {
        Path(Vec::new())
    }

    /// This path with a key appended.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.into()));
        p
    }

    /// This path with an index appended.
    pub fn index(&self, index: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Index(index));
        p
    }

    /// `prefix` followed by this path (e.g. `definition` + `States.A`).
    pub fn prefixed(&self, prefix: &Path) -> Self {
        Path(prefix.0.iter().chain(self.0.iter()).cloned().collect())
    }

    /// Finds the value this path points at.
    pub fn lookup<'a>(&self, root: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        self.0.iter().try_fold(root, |v, seg| match seg {
            Segment::Key(k) => v.get(k.as_str()),
            Segment::Index(i) => v.get(*i),
        })
    }
}

fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Key(k) if is_plain(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Key(k) => write!(f, "[{}]", serde_json::Value::String(k.clone()))?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_readably() {
        let p = Path::root()
            .key("States")
            .key("Parallel")
            .key("Branches")
            .index(1)
            .key("Next");
        assert_eq!(p.to_string(), "States.Parallel.Branches[1].Next");
        let q = Path::root().key("States").key("Step 1").key("Next");
        assert_eq!(q.to_string(), "States[\"Step 1\"].Next");
        assert_eq!(
            Path::root()
                .key("a")
                .prefixed(&Path::root().key("definition"))
                .to_string(),
            "definition.a"
        );
    }

    #[test]
    fn looks_up_values() {
        let v = serde_json::json!({"a": [{"b": 1}]});
        assert_eq!(
            Path::root().key("a").index(0).key("b").lookup(&v),
            Some(&serde_json::json!(1))
        );
        assert_eq!(Path::root().key("x").lookup(&v), None);
    }
}
