//! What an LLM writes reaches the batch page as text. A diagnosis whose summary,
//! hypothesis and recommendation carry a script, an image with an error handler, quotes
//! that would close an attribute and a closing tag shows all of it literally and runs
//! none of it, both where the report is loaded into the live page and on a fresh load;
//! and the page's Content-Security-Policy would stop inline script even if escaping
//! ever failed.

use std::time::Duration;

use serde_json::{Value, json};

use super::browser::Browser;
use super::{DESKTOP, assert_clean_console, release_and_wait_for_report, visit, wait_for_status};
use crate::serve::Serve;
use crate::util::ScriptedLlm;

const SCRIPT: &str = "<script>window.pwned = 1</script>";
const IMAGE: &str = r#"<img src=x onerror="window.pwned = 2">"#;
const QUOTES: &str = r#"" onmouseover="window.pwned = 3" x=' & </td></table>"#;

fn hostile_diagnosis(codes: &[String]) -> Value {
    json!({
        "summary": format!("Misfires {SCRIPT} dominate"),
        "summary_codes": [codes[0]],
        "hypotheses": [{"cause": format!("A coil {IMAGE} failing"), "confidence": 0.7, "codes": [codes[0]]}],
        "recommendations": [{"action": format!("Check {QUOTES} the coils"), "codes": [codes[0]]}],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_an_llm_writes_is_shown_as_text_and_never_runs() {
    let llm = ScriptedLlm::start(hostile_diagnosis).await;
    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start_with_env(data.path(), &llm.env()).await;
    let id = serve.upload_batch(&super::vector_with_codes(1)).await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;

    // The page open while the LLM writes; the report is then loaded into it.
    visit(&browser, &serve, &format!("/batches/{id}")).await;
    wait_for_status(&browser, "diagnosing", Duration::from_secs(60)).await;
    let watch = "window.violations = []; document.addEventListener('securitypolicyviolation', \
                 e => window.violations.push(e.violatedDirective));";
    browser.run(watch, json!([])).await;
    release_and_wait_for_report(&browser, &llm).await;
    assert_shown_as_text(&browser, "loaded in place").await;
    let violations = browser.run("return window.violations", json!([])).await;
    assert_eq!(violations, json!([]), "nothing the policy had to stop");

    // A fresh load: the server's rendering alone.
    visit(&browser, &serve, &format!("/batches/{id}")).await;
    assert_shown_as_text(&browser, "fresh load").await;
    browser.run("document.getElementById('diagnosis').scrollIntoView();", json!([])).await;
    browser.screenshot("batch-llm-markup").await;

    // The policy the page is sent with holds in the browser: an inline script does not run.
    let page = serve.client.get(format!("{}/batches/{id}", serve.base)).send().await.unwrap();
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let inline = "const s = document.createElement('script'); s.textContent = 'window.inlineRan = true'; \
                  document.body.append(s); return window.inlineRan === undefined;";
    assert_eq!(browser.run(inline, json!([])).await, true, "inline script blocked");
    let refused = browser.console_errors().await;
    assert!(
        refused.len() == 1 && refused[0].contains("Content Security Policy"),
        "the policy's refusal: {refused:?}"
    );
}

async fn assert_shown_as_text(browser: &Browser, how: &str) {
    let text = browser.text("#diagnosis").await;
    for markup in [SCRIPT, IMAGE, QUOTES] {
        assert!(text.contains(markup), "{how}: {markup:?} not shown literally in {text:?}");
    }
    let elements =
        browser.run("return document.querySelectorAll('main script, main img').length", json!([])).await;
    assert_eq!(elements, 0, "{how}: no element made of the LLM's text");
    let pwned = browser.run("return typeof window.pwned", json!([])).await;
    assert_eq!(pwned, "undefined", "{how}");
    assert_clean_console(browser, how).await;
}
