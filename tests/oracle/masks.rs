//! Comparing an answer with one recorded against real AWS whose per-run values were masked
//! (tests/oracle/README.md): a mask token is a wildcard, one token standing for the same value
//! throughout a scenario.

use std::collections::HashMap;

use serde_json::Value;

/// Whole values that stand for any value (dates and the role ARN).
const WHOLE: &[&str] = &["date", "datetime", "timestamp", "snf_role_arn", "sfn_role_arn"];

/// Fields AWS added after some scenarios were recorded: an answer may carry them in addition.
const ADDED_LATER: &[&str] = &["encryptionConfiguration", "redriveCount"];

/// The values mask tokens stood for so far in one scenario.
#[derive(Debug, Default)]
pub struct Bindings {
    tokens: Vec<String>,
    bound: HashMap<String, String>,
}

impl Bindings {
    /// Bindings for a scenario whose recording used `tokens` (its `maskTokens`, plus the
    /// `<...>` tokens found in the values themselves).
    pub fn new(tokens: &[String]) -> Bindings {
        let mut tokens: Vec<String> = tokens
            .iter()
            .filter(|t| !WHOLE.contains(&t.as_str()) && t.len() > 4)
            .cloned()
            .collect();
        tokens.push("111111111111".into());
        // Longest first, so that no token matches inside a longer one.
        tokens.sort_by_key(|t| std::cmp::Reverse(t.len()));
        Bindings {
            tokens,
            bound: HashMap::new(),
        }
    }

    /// `None` when `got` matches `expected`, else the first difference as `path: expected → got`.
    pub fn compare(&mut self, path: &str, expected: &Value, got: &Value) -> Option<String> {
        let differ = || Some(format!("{path}: {expected} → {got}"));
        match (expected, got) {
            (Value::String(e), _) if WHOLE.contains(&e.as_str()) => None,
            (Value::Object(_) | Value::Array(_), Value::String(s)) => match serde_json::from_str(s) {
                Ok(parsed) => self.compare(path, expected, &parsed),
                Err(_) => differ(),
            },
            (Value::String(e), Value::String(g)) => {
                if self.strings(e, g) {
                    None
                } else {
                    differ()
                }
            }
            (Value::Object(e), Value::Object(g)) => {
                for (k, ev) in e {
                    let Some(gv) = g.get(k) else {
                        return Some(format!("{path}.{k}: {ev} → (missing)"));
                    };
                    if let Some(d) = self.compare(&format!("{path}.{k}"), ev, gv) {
                        return Some(d);
                    }
                }
                g.keys()
                    .find(|k| !e.contains_key(*k) && !ADDED_LATER.contains(&k.as_str()))
                    .map(|k| format!("{path}.{k}: (absent) → {}", g[k]))
            }
            (Value::Array(e), Value::Array(g)) if e.len() == g.len() => e
                .iter()
                .zip(g)
                .enumerate()
                .find_map(|(i, (ev, gv))| self.compare(&format!("{path}[{i}]"), ev, gv)),
            _ if expected == got => None,
            _ => differ(),
        }
    }

    /// Whether `got` is `expected` with its tokens replaced consistently; binds new tokens.
    fn strings(&mut self, expected: &str, got: &str) -> bool {
        let mut pattern = String::from("^");
        let mut fresh: Vec<String> = Vec::new();
        let mut rest = expected;
        while !rest.is_empty() {
            match self.next_token(rest) {
                Some((at, token)) => {
                    pattern.push_str(&regex_lite::escape(&rest[..at]));
                    match self.bound.get(&token) {
                        Some(value) => pattern.push_str(&regex_lite::escape(value)),
                        None => {
                            pattern.push_str("(.+?)");
                            fresh.push(token.clone());
                        }
                    }
                    rest = &rest[at + token.len()..];
                }
                None => {
                    pattern.push_str(&regex_lite::escape(rest));
                    rest = "";
                }
            }
        }
        pattern.push('$');
        let Ok(re) = regex_lite::Regex::new(&pattern) else {
            return false;
        };
        let Some(caps) = re.captures(got) else {
            return false;
        };
        for (i, token) in fresh.iter().enumerate() {
            let value = caps.get(i + 1).map_or("", |m| m.as_str()).to_string();
            match self.bound.get(token) {
                Some(v) if *v != value => return false,
                _ => {
                    self.bound.insert(token.clone(), value);
                }
            }
        }
        true
    }

    /// The first token in `text`: its offset and text (`<...>` tokens are found by shape).
    fn next_token(&self, text: &str) -> Option<(usize, String)> {
        let named = self
            .tokens
            .iter()
            .filter_map(|t| text.find(t.as_str()).map(|at| (at, t.clone())));
        let angled = text.find('<').and_then(|at| {
            let end = text[at..].find('>')?;
            Some((at, text[at..=at + end].to_string()))
        });
        named
            .chain(angled)
            .min_by_key(|(at, t)| (*at, std::cmp::Reverse(t.len())))
    }
}
