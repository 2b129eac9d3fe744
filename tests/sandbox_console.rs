//! The sandbox's web console, `/_sandbox/ui/` (SPEC §13), over HTTP against a sandbox that ran
//! the reference system (reconciled by the real binary, started through the invoke URL) and a
//! STANDARD machine whose Task stand-in throws (created and started with the AWS SDK): the pages
//! list what the store holds, the machine page draws the graph, the execution pages mark the
//! states the run went through (succeeded, or the failing one) and show the error and cause.
//!
//! The REST API page has an invoke form; posting it (as a browser would, form-encoded) starts an
//! execution through the invoke URL's path, counted as an `execute-api` `Invoke`.
//!
//! What a real browser makes of these pages (and the form filled and submitted in it) is
//! `tests/console_browser.rs`.

mod common;
#[path = "common/console.rs"]
mod console;

use console::{REFERENCE, link_to};

async fn get(url: &str) -> (u16, String, String) {
    let r = reqwest::get(url).await.expect("GET");
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, ctype, r.text().await.expect("body"))
}

/// The classes of the state box `name` in a page's SVG.
fn state_classes(html: &str, name: &str) -> Vec<String> {
    let needle = format!("\" data-state=\"{name}\" data-type=");
    let at = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no state box {name}:\n{html}"));
    let start = html[..at].rfind("class=\"").expect("class") + "class=\"".len();
    html[start..at].split_whitespace().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_machines_their_graphs_and_executions_on_the_graph() {
    let ran = console::reference_and_boom().await;
    let (url, express_arn, failed_arn, boom) = (&ran.url, &ran.express_arn, &ran.failed_arn, &ran.boom);

    // The index lists both machines, the REST API and both executions, as links.
    let (status, ctype, index) = get(&format!("{url}/_sandbox/ui/")).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "text/html; charset=utf-8");
    assert!(!index.contains("<script"), "{index}");
    let reference = REFERENCE;
    for href in [
        link_to("machine", reference),
        link_to("machine", boom),
        link_to("execution", express_arn),
        link_to("execution", failed_arn),
    ] {
        assert!(index.contains(&format!("href=\"{href}\"")), "{href} in\n{index}");
    }
    assert!(index.contains("API Gateway State Machine integration"), "{index}");
    assert!(index.contains("POST /execution"), "{index}");

    // The machine page: its graph, with the three branches inside the Parallel state.
    let (status, _, page) = get(&format!("{url}{}", link_to("machine", reference))).await;
    assert_eq!(status, 200);
    assert_eq!(page.matches("<svg").count(), 1);
    for state in ["SumValues", "MaxMinValues", "AverageValues"] {
        assert!(
            page.contains(&format!(
                "data-state=\"{state}\" data-type=\"Task\" data-parent=\"Parallel\""
            )),
            "{state}:\n{page}"
        );
    }
    assert!(page.contains(&format!("href=\"{}\"", link_to("execution", express_arn))));
    assert!(
        !page.contains(&link_to("execution", failed_arn)),
        "only this machine's runs"
    );

    // The EXPRESS run: every state succeeded, with its input and output.
    let (status, _, page) = get(&format!("{url}{}", link_to("execution", express_arn))).await;
    assert_eq!(status, 200);
    for state in ["Parallel", "SumValues", "MaxMinValues", "AverageValues"] {
        assert!(
            state_classes(&page, state).contains(&"succeeded".to_owned()),
            "{state}:\n{page}"
        );
    }
    assert!(page.contains("&quot;sum&quot;: 6"), "SumValues' output:\n{page}");

    // The failed run: Prepare succeeded, Explode failed; the error and the cause, escaped.
    let (status, _, page) = get(&format!("{url}{}", link_to("execution", failed_arn))).await;
    assert_eq!(status, 200);
    assert!(
        state_classes(&page, "Prepare").contains(&"succeeded".to_owned()),
        "{page}"
    );
    assert!(
        state_classes(&page, "Explode").contains(&"failed".to_owned()),
        "{page}"
    );
    assert!(page.contains("<td class=\"error\">Boom.Error</td>"), "{page}");
    assert!(page.contains("it &lt;broke&gt; &amp; stopped"), "{page}");

    // The REST API page: its stage and method, and the invoke form posting to the console.
    let api_page = format!("/_sandbox/ui/api?id={}", ran.api);
    assert!(index.contains(&format!("href=\"{api_page}\"")), "{index}");
    let (status, _, page) = get(&format!("{url}{api_page}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("<td>prod</td>"), "{page}");
    assert!(
        page.contains("<form class=\"invoke\" method=\"post\" action=\"/_sandbox/ui/invoke\" data-method=\"POST\" data-path=\"/execution\">"),
        "{page}"
    );
    let before = common::requests_json(url).await["execute-api"]["Invoke"]
        .as_u64()
        .unwrap_or(0);
    let form = [
        ("api", ran.api.as_str()),
        ("method", "POST"),
        ("stage", "prod"),
        ("path", "/execution"),
        ("body", r#"{"values": [7, 8]}"#),
    ];
    let answer = reqwest::Client::new()
        .post(format!("{url}/_sandbox/ui/invoke"))
        .form(&form)
        .send()
        .await
        .expect("POST the form");
    assert_eq!(answer.status().as_u16(), 200);
    let page = answer.text().await.expect("body");
    assert!(
        page.contains("answered <span class=\"status\">200</span>"),
        "{page}"
    );
    let started = page
        .split("execution?arn=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no link to the execution:\n{page}"))
        .to_owned();
    let e = common::finished(url, &started).await;
    assert_eq!(e["status"], "SUCCEEDED", "{e}");
    assert_eq!(e["input"], serde_json::json!({"values": [7, 8]}), "{e}");
    let after = common::requests_json(url).await["execute-api"]["Invoke"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(after, before + 1, "the form's call counted as one Invoke");

    let (status, _, _) = get(&format!("{url}/_sandbox/ui/execution?arn=nope")).await;
    assert_eq!(status, 404);
    ran.sandbox.shutdown().await;
}
