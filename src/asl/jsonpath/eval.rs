//! Selecting with a parsed [`Path`]: Jayway's semantics for definite and indefinite paths and
//! filters.

use serde_json::Value;

use super::{Filter, Op, Path, Selected, Step};

impl Path {
    /// Applies the path's steps to `root`.
    pub fn select(&self, root: &Value) -> Selected {
        if self.is_definite() {
            let mut cur = root;
            for step in &self.steps {
                let next = match step {
                    Step::Field(f) => cur.as_object().and_then(|m| m.get(f)),
                    Step::Index(n) => cur.as_array().and_then(|a| index(a, *n)),
                    _ => None,
                };
                match next {
                    Some(v) => cur = v,
                    None => return Selected::One(None),
                }
            }
            return Selected::One(Some(cur.clone()));
        }
        let mut cur: Vec<&Value> = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for v in cur {
                apply(step, v, &mut next);
            }
            cur = next;
        }
        Selected::Many(cur.into_iter().cloned().collect())
    }
}

fn index(a: &[Value], n: i64) -> Option<&Value> {
    let i = if n < 0 { a.len() as i64 + n } else { n };
    if i < 0 { None } else { a.get(i as usize) }
}

fn apply<'a>(step: &Step, v: &'a Value, out: &mut Vec<&'a Value>) {
    match step {
        Step::Field(f) => {
            if let Some(x) = v.as_object().and_then(|m| m.get(f)) {
                out.push(x);
            }
        }
        Step::Index(n) => {
            if let Some(x) = v.as_array().and_then(|a| index(a, *n)) {
                out.push(x);
            }
        }
        Step::Wildcard => match v {
            Value::Object(m) => out.extend(m.values()),
            Value::Array(a) => out.extend(a.iter()),
            _ => {}
        },
        Step::Slice(start, end, stride) => {
            if let Some(a) = v.as_array() {
                let len = a.len() as i64;
                let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let s = start.map_or(0, norm);
                let e = end.map_or(len, norm);
                let step = stride.unwrap_or(1).max(1);
                let mut i = s;
                while i < e {
                    out.push(&a[i as usize]);
                    i += step;
                }
            }
        }
        Step::Union(steps) => {
            for s in steps {
                apply(s, v, out);
            }
        }
        Step::Descend(inner) => descend(inner, v, out),
        Step::Filter(filter) => match v {
            Value::Array(a) => out.extend(a.iter().filter(|x| test(filter, x))),
            Value::Object(_) if test(filter, v) => out.push(v),
            _ => {}
        },
    }
}

fn descend<'a>(step: &Step, v: &'a Value, out: &mut Vec<&'a Value>) {
    apply(step, v, out);
    match v {
        Value::Object(m) => m.values().for_each(|x| descend(step, x, out)),
        Value::Array(a) => a.iter().for_each(|x| descend(step, x, out)),
        _ => {}
    }
}

fn relative<'a>(steps: &[Step], v: &'a Value) -> Option<&'a Value> {
    let mut cur = v;
    for step in steps {
        cur = match step {
            Step::Field(f) => cur.as_object()?.get(f)?,
            Step::Index(n) => index(cur.as_array()?, *n)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn test(filter: &Filter, v: &Value) -> bool {
    match filter {
        Filter::Exists(steps) => relative(steps, v).is_some(),
        Filter::And(a, b) => test(a, v) && test(b, v),
        Filter::Or(a, b) => test(a, v) || test(b, v),
        Filter::Compare(steps, op, lit) => {
            let Some(x) = relative(steps, v) else {
                return false;
            };
            let ord = match (x, lit) {
                (Value::Number(a), Value::Number(b)) => a
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    .partial_cmp(&b.as_f64().unwrap_or(f64::NAN)),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => {
                    return match op {
                        Op::Eq => x == lit,
                        Op::Ne => x != lit,
                        _ => false,
                    };
                }
            };
            let Some(ord) = ord else { return false };
            match op {
                Op::Eq => ord.is_eq(),
                Op::Ne => !ord.is_eq(),
                Op::Lt => ord.is_lt(),
                Op::Le => ord.is_le(),
                Op::Gt => ord.is_gt(),
                Op::Ge => ord.is_ge(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::asl::jsonpath::Root;

    fn sel(path: &str, v: &Value) -> Selected {
        Path::parse(path).unwrap().select(v)
    }

    #[test]
    fn definite_and_indefinite() {
        let v = json!({"a": {"b": [1, 2, 3]}, "items": [{"n": 1, "s": 0}, {"n": 2, "s": 1}], "q\"x": 5});
        assert_eq!(sel("$.a.b[1]", &v), Selected::One(Some(json!(2))));
        assert_eq!(sel("$.a.b[-1]", &v), Selected::One(Some(json!(3))));
        assert_eq!(sel("$.a.c", &v), Selected::One(None));
        assert_eq!(sel("$", &v), Selected::One(Some(v.clone())));
        assert_eq!(sel("$['q\"x']", &v), Selected::One(Some(json!(5))));
        assert_eq!(sel("$.items[*].n", &v), Selected::Many(vec![json!(1), json!(2)]));
        assert_eq!(sel("$.a.b[1:]", &v), Selected::Many(vec![json!(2), json!(3)]));
        assert_eq!(sel("$.a.b[:1]", &v), Selected::Many(vec![json!(1)]));
        assert_eq!(sel("$..n", &v), Selected::Many(vec![json!(1), json!(2)]));
        assert_eq!(
            sel("$.items[?(@.s == 0)]", &v),
            Selected::Many(vec![json!({"n": 1, "s": 0})])
        );
        assert_eq!(
            sel("$.items[?(@.n > 1 && @.s)]", &v),
            Selected::Many(vec![json!({"n": 2, "s": 1})])
        );
        assert_eq!(Path::parse("$$.Execution.Id").unwrap().root, Root::Context);
        assert_eq!(Path::parse("$var.x").unwrap().root, Root::Variable("var".into()));
        assert!(Path::parse("a.b").is_err());
    }
}
