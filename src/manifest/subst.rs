//! Placeholder substitution of SPEC §2: `${NAME}` is replaced, `$${` writes a literal `${`; in a
//! string, and over a located YAML tree (each unresolved placeholder a diagnostic at its node).

use std::collections::BTreeMap;

use super::fields::Diags;
use super::yaml::{Node, Value};

/// Where placeholder values come from, most specific first.
pub struct Vars<'a> {
    /// `definitionSubstitutions` (the definition only).
    pub local: Option<&'a BTreeMap<String, String>>,
    /// `--var` over `--var-file`.
    pub global: &'a BTreeMap<String, String>,
    pub region: Option<&'a str>,
    pub account_id: Option<&'a str>,
}

impl Vars<'_> {
    /// `Ok(None)`: keep the placeholder as text (offline AWS placeholders).
    fn resolve(&self, name: &str) -> Result<Option<String>, ()> {
        match name {
            "AWS::Region" => return Ok(self.region.map(str::to_string)),
            "AWS::AccountId" => return Ok(self.account_id.map(str::to_string)),
            _ => {}
        }
        if let Some(v) = self.local.and_then(|l| l.get(name)) {
            return Ok(Some(v.clone()));
        }
        self.global.get(name).cloned().map(Some).ok_or(())
    }
}

/// Substitutes every placeholder of `s`; the error lists the unresolved placeholders.
pub fn substitute(s: &str, vars: &Vars<'_>) -> Result<String, Vec<String>> {
    if !s.contains("${") {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut unresolved = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            match after.find('}') {
                Some(end) => {
                    let name = &after[..end];
                    match vars.resolve(name) {
                        Ok(Some(v)) => out.push_str(&v),
                        Ok(None) => {
                            out.push_str("${");
                            out.push_str(name);
                            out.push('}');
                        }
                        Err(()) => unresolved.push(format!("${{{name}}}")),
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    unresolved.push(tail.to_string());
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if unresolved.is_empty() {
        Ok(out)
    } else {
        Err(unresolved)
    }
}

/// Substitutes every string of `node`, except under the keys in `skip`.
pub(super) fn substitute_tree(node: &mut Node, vars: &Vars<'_>, skip: &[&str], ds: &mut Diags<'_>) {
    substitute_node(node, vars, skip, false, ds)
}

/// Substitutes a definition: an unquoted YAML scalar that is exactly one placeholder takes the type
/// of its value (`Seconds: ${Timeout}` with `Timeout: "60"` is the number 60), as the text
/// substitution of SAM/CloudFormation `DefinitionSubstitutions` does. Quoted strings stay strings.
pub(super) fn substitute_definition(node: &mut Node, vars: &Vars<'_>, ds: &mut Diags<'_>) {
    substitute_node(node, vars, &[], true, ds)
}

fn is_single_placeholder(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && s[2..].find('}') == Some(s.len() - 3)
}

fn substitute_node(node: &mut Node, vars: &Vars<'_>, skip: &[&str], typed: bool, ds: &mut Diags<'_>) {
    let retype = typed && node.plain && node.as_str().is_some_and(is_single_placeholder);
    match &mut node.value {
        Value::String(s) => match substitute(s, vars) {
            Ok(v) => {
                if retype && !v.contains("${") {
                    node.value = super::yaml::scalar(&v, true);
                } else {
                    *s = v;
                }
            }
            Err(names) => {
                for n in names {
                    ds.at(node.pos, format!("unresolved placeholder {n}"));
                }
            }
        },
        Value::Seq(items) => items
            .iter_mut()
            .for_each(|n| substitute_node(n, vars, skip, typed, ds)),
        Value::Map(entries) => {
            for (k, n) in entries.iter_mut() {
                if !skip.contains(&k.name.as_str()) {
                    substitute_node(n, vars, skip, typed, ds);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_escapes_and_reports() {
        let mut global = BTreeMap::new();
        global.insert("A".to_string(), "x".to_string());
        let local: BTreeMap<String, String> = [("A".to_string(), "y".to_string())].into();
        let vars = Vars {
            local: None,
            global: &global,
            region: None,
            account_id: Some("1"),
        };
        assert_eq!(
            substitute("a-${A}-$${A}-${AWS::AccountId}-${AWS::Region}-$x", &vars).unwrap(),
            "a-x-${A}-1-${AWS::Region}-$x"
        );
        assert_eq!(substitute("${B} ${C}", &vars).unwrap_err(), vec!["${B}", "${C}"]);
        let vars = Vars {
            local: Some(&local),
            ..vars
        };
        assert_eq!(substitute("${A}", &vars).unwrap(), "y");
    }
}
