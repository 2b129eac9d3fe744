//! API Gateway mapping templates: the Velocity subset API Gateway documents (SPEC §7), pure.
//!
//! References (`$x`, `$!x`, `${x}`, `.prop`, `.method(args)`, `[i]`), `#set`, `#if` / `#elseif` /
//! `#else` / `#end`, `#foreach` (with `$foreach.index`, `$foreach.hasNext`, `$velocityCount`),
//! `##` and `#* *#` comments; `$input` (`body`, `json(path)`, `path(path)`, `params()`), `$util`
//! (`escapeJavaScript`, `parseJson`, `urlEncode`, `urlDecode`, `base64Encode`, `base64Decode`),
//! `$context` and `$stageVariables` are given by the caller as data.
//!
//! `parse` turns text into nodes, `render` evaluates them, `util` holds `$util` and the
//! text helpers.

mod parse;
mod render;
mod util;

use serde_json::{Map, Value};

use parse::Parser;
use render::Renderer;
pub use util::{escape_javascript, to_text};

/// What a template can read.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The payload (`$input.body`): the request body, or the integration's response body.
    pub body: String,
    /// `$input.params()`: `{"path": {..}, "querystring": {..}, "header": {..}}`.
    pub params: Value,
    /// `$context`.
    pub context: Value,
    /// `$stageVariables`.
    pub stage_variables: Value,
}

/// Renders a template.
pub fn render(template: &str, input: &Input) -> Result<String, String> {
    let nodes = Parser::new(template).nodes(&[])?.0;
    let mut r = Renderer {
        input,
        vars: Map::new(),
        out: String::new(),
        steps: 0,
    };
    r.nodes(&nodes)?;
    Ok(r.out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::util::{url_decode, url_encode};
    use super::*;

    fn input(body: &str) -> Input {
        Input {
            body: body.into(),
            params: json!({"path": {"id": "7"}, "querystring": {"q": "x"}, "header": {}}),
            context: json!({"stage": "prod", "requestId": "r-1", "identity": {"sourceIp": "127.0.0.1"}}),
            stage_variables: json!({"machine": "arn:m"}),
        }
    }

    #[test]
    fn the_operators_default_template() {
        let t = "{\"input\": \"$util.escapeJavaScript($input.json('$'))\", \"stateMachineArn\": \"arn:aws:states:us-east-1:1:stateMachine:m\"}";
        let out = render(t, &input(r#"{"values": [3, 1, 2]}"#)).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["input"], r#"{"values":[3,1,2]}"#);
    }

    #[test]
    fn directives_references_and_util() {
        let t = r##"#set($items = $input.path('$.values'))
## a comment
{"n": $items.size(), "first": $items[0], "stage": "$context.stage", "sv": "$stageVariables.machine",
"ids": [#foreach($x in $items)"$x"#if($foreach.hasNext),#end#end], "id": "$input.params('id')",
#if($items.size() > 2 && !$missing)"big": true#elseif($items.size() > 0)"small": true#else"none": true#end,
"quiet": "$!missing", "loud": "$missing", "sum": $math, "b64": "$util.base64Encode('hi')"}"##;
        let out = render(
            &t.replace("$math", "#set($s = 1 + 2 * 3)$s"),
            &input(r#"{"values": [3, 1, 2]}"#),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(
            v,
            json!({"n": 3, "first": 3, "stage": "prod", "sv": "arn:m", "ids": ["3", "1", "2"], "id": "7",
                   "big": true, "quiet": "", "loud": "$missing", "sum": 7, "b64": "aGk="})
        );
    }

    #[test]
    fn escape_javascript_is_javas() {
        assert_eq!(escape_javascript("a\"b'c\\d/\n"), "a\\\"b\\'c\\\\d\\/\\n");
        assert!(render("#if($x", &input("")).is_err());
        assert!(render("#foreach($a in [1..3])$a#end", &input("")).unwrap() == "123");
        assert_eq!(url_decode("a%20b+c%zz%é"), "a b c%zz%é");
        assert_eq!(url_encode("a b/é"), "a+b%2F%C3%A9");
    }
}
