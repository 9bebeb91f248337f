//! The LLM step against a local chat-completions server: a good answer, a timeout, a 500,
//! garbage, an exhausted budget; transient errors retried within the budget; every call
//! charged, a retried batch's included, and none for a batch already written.

use std::time::Duration;

use argus_pipeline::report::FinishedBatch;
use argus_sinks::diagnosis::{Diagnoser, DiagnosisSource, LlmConfig};
use argus_sinks::store::Reservation;
use argus_sinks::{WriteOutcome, write_finished_batch};

use crate::both_backends;
use crate::common::TestDb;
use crate::common::fixtures::synthetic;
use crate::common::llm_server::{Behaviour, LlmServer};

const DAY: &str = "2026-01-21";

fn batch(id: &str) -> FinishedBatch {
    synthetic(id, "WVW00000000000LLM", &[("P0301-00", 150), ("P0302-00", 20), ("B1123-00", 3)])
}

fn config(server: &LlmServer, budget: u64) -> LlmConfig {
    let mut config = LlmConfig::new(&server.base_url, "test-model");
    config.api_key = Some("sk-test".into());
    config.daily_token_budget = budget;
    config.timeout = Duration::from_millis(700);
    config.max_output_tokens = 300;
    config.retry_backoff = Duration::from_millis(20);
    config
}

/// The estimate of one call for `batch(..)`: reserved on a day of its own.
async fn one_call_estimate(db: &TestDb) -> u64 {
    let server = LlmServer::start(Behaviour::Answer { content: good_answer(), total_tokens: 1 }).await;
    let probe = Diagnoser::with_llm(config(&server, 1_000_000)).expect("client");
    probe.diagnose_on(&db.store, &batch("llm-probe"), "2000-01-01").await;
    db.store.token_usage("2000-01-01").await.expect("usage").expect("row").tokens_estimated
}

fn good_answer() -> String {
    serde_json::json!({
        "summary": "Cylinder 1 misfires dominate.",
        "summary_codes": ["P0301-00"],
        "hypotheses": [{"cause": "Ignition coil of cylinder 1", "confidence": 0.7, "codes": ["P0301"]},
                       {"cause": "Shared fuel supply problem", "codes": ["P0301-00", "P0302-00"]}],
        "recommendations": [{"action": "Swap coils 1 and 2 and recheck", "codes": ["P0301-00", "P0302-00"]}],
    })
    .to_string()
}

async fn good_answer_is_used_and_charged_once(db: &TestDb) {
    let server = LlmServer::start(Behaviour::Answer { content: good_answer(), total_tokens: 321 }).await;
    let diagnoser = Diagnoser::with_llm(config(&server, 100_000)).expect("client");
    let b = batch("llm-good");
    let diagnosis = diagnoser.diagnose_on(&db.store, &b, DAY).await;
    assert_eq!(diagnosis.source, DiagnosisSource::Llm, "{:?}", diagnosis.fallback_reason);
    assert_eq!(
        (diagnosis.model.as_deref(), diagnosis.fallback_reason.as_deref()),
        (Some("test-model"), None)
    );
    assert_eq!(diagnosis.hypotheses[0].codes, ["P0301-00"], "the base code is mapped to the batch's code");
    assert_eq!(
        diagnosis.recommendations[0].estimated_cost_eur.map(|c| c[0]),
        Some(40.0),
        "estimate from the base"
    );
    assert_eq!(diagnosis.risk, diagnoser.rules(&b).risk, "the risk stays the rules'");

    // The prompt: the batch's top codes with their knowledge-base entries, no raw records.
    let body = server.last_body().await.expect("request body");
    assert_eq!(body["model"], "test-model");
    let user = body["messages"][1]["content"].as_str().expect("user message");
    assert!(user.contains("P0301-00") && user.contains("Cylinder 1 Misfire Detected"), "{user}");
    assert!(!user.contains("ts_ns") && !user.contains("seg-00.rec"), "{user}");

    let usage = db.store.token_usage(DAY).await.expect("usage").expect("a row for the day");
    assert_eq!((usage.tokens_used, usage.tokens_charged, usage.calls), (321, 321, 1));
    assert!(usage.tokens_estimated > 300, "estimate covers the answer limit: {usage:?}");

    // A retry of the same batch (a crash before its write) calls again, and is charged again:
    // the budget counts what was spent.
    let again = diagnoser.diagnose_on(&db.store, &b, DAY).await;
    assert_eq!(again.source, DiagnosisSource::Llm);
    assert_eq!(server.requests(), 2);
    let usage = db.store.token_usage(DAY).await.expect("usage").expect("a row for the day");
    assert_eq!((usage.tokens_used, usage.tokens_charged, usage.calls), (642, 642, 2));

    // Written, then written again: the second write neither calls nor charges.
    db.store.write_batch(&b, &diagnosis).await.expect("write");
    let rewrite = write_finished_batch(&db.store, &diagnoser, &b, &[]).await.expect("rewrite");
    assert!(matches!(rewrite, WriteOutcome::AlreadyFinal(_)));
    assert_eq!(server.requests(), 2);
    assert_eq!(db.store.token_usage(DAY).await.expect("usage").expect("row"), usage);
    let stored = db.store.get_diagnosis("llm-good").await.expect("read").expect("diagnosis");
    assert_eq!(stored.source, DiagnosisSource::Llm);
    let source: String = match &db.store {
        argus_sinks::Store::Postgres(p) => {
            sqlx::query_scalar("SELECT source FROM diagnoses").fetch_one(p).await
        }
        argus_sinks::Store::Sqlite(p) => {
            sqlx::query_scalar("SELECT source FROM diagnoses").fetch_one(p).await
        }
    }
    .expect("source column");
    assert_eq!(source, "llm");
}
both_backends!(llm_good, good_answer_is_used_and_charged_once);

/// Runs one failing server and checks the fallback, its reason, the calls made (retries
/// included) and what was charged for each (`None`: its estimate).
async fn falls_back(
    db: &TestDb,
    behaviour: Behaviour,
    id: &str,
    reason: &str,
    calls: u64,
    each: Option<u64>,
) {
    let server = LlmServer::start(behaviour).await;
    let diagnoser = Diagnoser::with_llm(config(&server, 100_000)).expect("client");
    let b = batch(id);
    let diagnosis = diagnoser.diagnose_on(&db.store, &b, DAY).await;
    assert_eq!(diagnosis.source, DiagnosisSource::Rules);
    let why = diagnosis.fallback_reason.clone().expect("a fallback reason");
    assert!(why.contains(reason), "{why}");
    let rules = diagnoser.rules(&b);
    assert_eq!((&diagnosis.summary, &diagnosis.hypotheses), (&rules.summary, &rules.hypotheses));
    assert_eq!(server.requests() as u64, calls);
    let usage = db.store.token_usage(DAY).await.expect("usage").expect("row");
    assert_eq!(usage.calls, calls);
    let expected = calls * each.unwrap_or(usage.tokens_estimated / calls);
    assert_eq!((usage.tokens_used, usage.tokens_charged), (expected, expected), "{why}");

    // The fallback is what gets stored, reason included.
    let rewrite_diagnoser = Diagnoser::rules_only();
    db.store.write_batch(&b, &diagnosis).await.expect("write");
    let stored = db.store.get_diagnosis(id).await.expect("read").expect("stored");
    assert_eq!(stored.fallback_reason.as_deref(), Some(why.as_str()));
    assert!(matches!(
        write_finished_batch(&db.store, &rewrite_diagnoser, &b, &[]).await.expect("rewrite"),
        WriteOutcome::AlreadyFinal(_)
    ));
    assert_eq!(
        db.store.token_usage(DAY).await.expect("usage").expect("row"),
        usage,
        "the retry charged again"
    );
}

async fn slow_server(db: &TestDb) {
    // Retried three times, each timed-out call charged its estimate.
    let reason = "timed out after 700ms, after 3 retries";
    falls_back(db, Behaviour::Slow(Duration::from_secs(3)), "llm-slow", reason, 4, None).await;
}
both_backends!(llm_timeout, slow_server);

async fn erroring_server(db: &TestDb) {
    falls_back(db, Behaviour::Status(500), "llm-500", "http error 500", 4, Some(0)).await;
}
both_backends!(llm_http_error, erroring_server);

async fn garbage_answer(db: &TestDb) {
    let garbage = Behaviour::Answer { content: "It is probably the spark plugs.".into(), total_tokens: 55 };
    falls_back(db, garbage, "llm-garbage", "did not parse", 1, Some(55)).await;
}
both_backends!(llm_garbage, garbage_answer);

async fn answer_citing_foreign_codes(db: &TestDb) {
    let content = good_answer().replace("P0302-00", "P0999-00");
    let answer = Behaviour::Answer { content, total_tokens: 77 };
    falls_back(db, answer, "llm-foreign", "not a code of the batch", 1, Some(77)).await;
}
both_backends!(llm_foreign_codes, answer_citing_foreign_codes);

async fn budget_exhaustion(db: &TestDb) {
    let server = LlmServer::start(Behaviour::Answer { content: good_answer(), total_tokens: 400 }).await;
    // Far too small for one call: refused before any request.
    let tiny = Diagnoser::with_llm(config(&server, 50)).expect("client");
    let diagnosis = tiny.diagnose_on(&db.store, &batch("llm-tiny"), DAY).await;
    assert!(
        diagnosis.fallback_reason.as_deref().is_some_and(|r| r.contains("budget exhausted")),
        "{diagnosis:?}"
    );
    assert_eq!(server.requests(), 0);
    assert_eq!(db.store.token_usage(DAY).await.expect("usage").expect("row").tokens_charged, 0);

    // Room for one call: the first batch gets it, the second is refused.
    let first_estimate = {
        let probe = Diagnoser::with_llm(config(&server, 1_000_000)).expect("client");
        probe.diagnose_on(&db.store, &batch("llm-probe"), "2000-01-01").await;
        db.store.token_usage("2000-01-01").await.expect("usage").expect("row").tokens_estimated
    };
    let one = Diagnoser::with_llm(config(&server, first_estimate + 10)).expect("client");
    let first = one.diagnose_on(&db.store, &batch("llm-one"), DAY).await;
    assert_eq!(first.source, DiagnosisSource::Llm, "{:?}", first.fallback_reason);
    // Charged 400 now (the real usage); the next estimate does not fit any more.
    let second = one.diagnose_on(&db.store, &batch("llm-two"), DAY).await;
    assert_eq!(second.source, DiagnosisSource::Rules);
    assert!(second.fallback_reason.as_deref().is_some_and(|r| r.contains("budget exhausted")));
    let usage = db.store.token_usage(DAY).await.expect("usage").expect("row");
    assert_eq!((usage.tokens_charged, usage.calls), (400, 1));
}
both_backends!(llm_budget, budget_exhaustion);

async fn nothing_to_ask(db: &TestDb) {
    let server = LlmServer::start(Behaviour::Answer { content: good_answer(), total_tokens: 1 }).await;
    let diagnoser = Diagnoser::with_llm(config(&server, 100_000)).expect("client");
    let quiet = synthetic("llm-quiet", "WVW00000000000009", &[]);
    let diagnosis = diagnoser.diagnose_on(&db.store, &quiet, DAY).await;
    assert_eq!(diagnosis.fallback_reason.as_deref(), Some("no error codes to diagnose"));
    assert_eq!(server.requests(), 0);
    assert_eq!(db.store.token_usage(DAY).await.expect("usage"), None);
}
both_backends!(llm_not_needed, nothing_to_ask);

async fn transient_errors_are_retried(db: &TestDb) {
    let answer = Behaviour::Answer { content: good_answer(), total_tokens: 321 };
    let steps = vec![Behaviour::Status(503), Behaviour::RateLimited { retry_after_secs: 1 }, answer];
    let server = LlmServer::start(Behaviour::Sequence(steps)).await;
    let diagnoser = Diagnoser::with_llm(config(&server, 100_000)).expect("client");
    let estimate = one_call_estimate(db).await;
    let diagnosis = diagnoser.diagnose_on(&db.store, &batch("llm-retried"), DAY).await;
    assert_eq!(diagnosis.source, DiagnosisSource::Llm, "{:?}", diagnosis.fallback_reason);
    assert_eq!(server.requests(), 3);
    let arrivals = server.arrivals().await;
    assert!(arrivals[2] - arrivals[1] >= Duration::from_secs(1), "the 429's Retry-After was not honoured");
    assert!(arrivals[1] - arrivals[0] < Duration::from_secs(1), "the first retry waits the short backoff");
    // Three calls reserved, the refused ones settled at 0, the answer at its real usage.
    let usage = db.store.token_usage(DAY).await.expect("usage").expect("row");
    assert_eq!(
        (usage.calls, usage.tokens_estimated, usage.tokens_used, usage.tokens_charged),
        (3, 3 * estimate, 321, 321)
    );
}
both_backends!(llm_transient_retried, transient_errors_are_retried);

async fn retries_stop_at_the_budget(db: &TestDb) {
    let estimate = one_call_estimate(db).await;
    let server = LlmServer::start(Behaviour::Slow(Duration::from_secs(3))).await;
    // Room for two calls: the second retry is refused before it is made.
    let budget = 2 * estimate + 10;
    let diagnoser = Diagnoser::with_llm(config(&server, budget)).expect("client");
    let diagnosis = diagnoser.diagnose_on(&db.store, &batch("llm-bounded"), DAY).await;
    let why = diagnosis.fallback_reason.expect("a fallback");
    assert!(why.contains("budget exhausted") && why.ends_with("after 2 retries"), "{why}");
    assert_eq!(server.requests(), 2);
    let usage = db.store.token_usage(DAY).await.expect("usage").expect("row");
    assert_eq!((usage.calls, usage.tokens_charged), (2, 2 * estimate));
    assert!(usage.tokens_charged <= budget);
}
both_backends!(llm_retries_bounded, retries_stop_at_the_budget);

async fn an_open_reservation_stays_charged(db: &TestDb) {
    // A process reserved a call for the batch and died before settling it: the call may
    // have been made, so its estimate stays charged, and the retry reserves a call of its own.
    let crashed = db.store.reserve_tokens("llm-crashed", DAY, 1_000, 100_000).await.expect("reserve");
    assert!(matches!(&crashed, Reservation::Granted(t) if t.attempt == 1), "{crashed:?}");
    let server = LlmServer::start(Behaviour::Answer { content: good_answer(), total_tokens: 321 }).await;
    let diagnoser = Diagnoser::with_llm(config(&server, 100_000)).expect("client");
    let diagnosis = diagnoser.diagnose_on(&db.store, &batch("llm-crashed"), DAY).await;
    assert_eq!(diagnosis.source, DiagnosisSource::Llm, "{:?}", diagnosis.fallback_reason);
    let usage = db.store.token_usage(DAY).await.expect("usage").expect("row");
    assert_eq!((usage.calls, usage.tokens_used, usage.tokens_charged), (1, 321, 1_000 + 321));
    // Settling the dead process's ticket now would not count the retry's call twice.
    let Reservation::Granted(ticket) = crashed else { unreachable!() };
    assert!(db.store.settle_tokens(&ticket, 0, "abandoned").await.expect("settle"));
    assert!(!db.store.settle_tokens(&ticket, 0, "abandoned").await.expect("settle"), "settled once only");
    let usage = db.store.token_usage(DAY).await.expect("usage").expect("row");
    assert_eq!((usage.calls, usage.tokens_charged), (2, 321));
}
both_backends!(llm_open_reservation, an_open_reservation_stays_charged);
