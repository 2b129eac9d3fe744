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

impl Path {
    /// Reads a path back from its [`Display`](fmt::Display) form (`a.b[0]["c d"]`); `None` when
    /// `text` is not one.
    pub fn parse(text: &str) -> Option<Path> {
        let mut segs = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(inner) = rest.strip_prefix('[') {
                if inner.starts_with('"') {
                    let mut it = serde_json::Deserializer::from_str(inner).into_iter::<String>();
                    let key = it.next()?.ok()?;
                    let used = it.byte_offset();
                    segs.push(Segment::Key(key));
                    rest = inner[used..].strip_prefix(']')?;
                } else {
                    let end = inner.find(']')?;
                    segs.push(Segment::Index(inner[..end].parse().ok()?));
                    rest = &inner[end + 1..];
                }
                continue;
            }
            if !segs.is_empty() {
                rest = rest.strip_prefix('.')?;
            }
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            segs.push(Segment::Key(rest[..end].to_owned()));
            rest = &rest[end..];
        }
        Some(Path(segs))
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
    fn parses_what_it_displays() {
        let p = Path::root()
            .key("definition")
            .key("States")
            .key("Step 1")
            .key("Branches")
            .index(10)
            .key("sum.$")
            .key("x\"]y");
        assert_eq!(Path::parse(&p.to_string()), Some(p));
        assert_eq!(Path::parse("[\"a b\"].c"), Some(Path::root().key("a b").key("c")));
        assert_eq!(Path::parse(""), Some(Path::root()));
        for bad in ["a..b", "a[x]", "a[\"b\"", "a[1"] {
            assert_eq!(Path::parse(bad), None, "{bad}");
        }
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
