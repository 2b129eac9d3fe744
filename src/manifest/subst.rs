//! Placeholder substitution of SPEC §2: `${NAME}` is replaced, `$${` writes a literal `${`.

use std::collections::BTreeMap;

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
