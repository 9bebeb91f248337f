//! The deployed shape end to end through HTTP: `argus serve --no-pipeline` on Postgres, an
//! S3 server and a Kafka broker takes the uploads; `argus pipeline` processes elsewhere
//! read the events and write the reports. A client following a batch over Server-Sent
//! Events sees it through a `kill -9` of the pipeline, and the reports and fleet report
//! read back equal the conformance vectors' expected ones.

use std::time::Duration;

use crate::db::Db;
use crate::s3::S3Server;
use crate::serve::{Serve, assert_reports_and_fleet, statuses_until_closed, vector_batches};
use crate::streaming::harness::{PipelineArgs, PipelineProcess, broker_with_topics};

const BUCKET: &str = "uploads";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_through_postgres_s3_and_kafka_survive_a_pipeline_kill() {
    let broker = tokio::task::spawn_blocking(|| broker_with_topics(2)).await.unwrap();
    let s3 = tokio::task::spawn_blocking(|| {
        let s3 = S3Server::start();
        s3.create_bucket(BUCKET);
        s3
    })
    .await
    .unwrap();
    let db = Db::postgres().await;
    let data = tempfile::tempdir().unwrap();
    let object_store = format!("s3://{BUCKET}");
    let serve_args: Vec<String> = [
        "--no-pipeline",
        "--database-url",
        &db.url(),
        "--object-store",
        &object_store,
        "--brokers",
        &broker.bootstrap(),
    ]
    .map(str::to_owned)
    .to_vec();
    let serve = Serve::start_with(data.path(), &serve_args, &s3.env()).await;

    // The first pipeline diagnoses with an LLM that never answers: every batch stops at
    // `diagnosing`, its offsets uncommitted.
    let (llm, held) = crate::util::silent_llm().await;
    let pipeline_args = PipelineArgs {
        brokers: broker.bootstrap(),
        database_url: db.url(),
        object_store: object_store.clone().into(),
        log: data.path().join("pipeline.log"),
        extra: vec!["-w".into(), "2".into()],
    };
    let mut stalled_env = s3.env();
    stalled_env.extend([
        ("ARGUS_LLM_BASE_URL", llm),
        ("ARGUS_LLM_MODEL", "silent".to_owned()),
        ("ARGUS_LLM_TIMEOUT_SECS", "600".to_owned()),
    ]);
    let mut stalled = PipelineProcess::start_with_env(&pipeline_args, &stalled_env);

    let mut uploaded = Vec::new();
    for (vector_id, dir) in vector_batches() {
        uploaded.push((vector_id, serve.upload_batch(&dir).await));
    }
    let followed = uploaded
        .iter()
        .map(|(_, id)| {
            (id.clone(), tokio::spawn(statuses_until_closed(serve.url(&format!("/batches/{id}/events")))))
        })
        .collect::<Vec<_>>();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut statuses = Vec::new();
        for (_, id) in &uploaded {
            statuses
                .push(serve.get(&format!("/batches/{id}")).await.1["status"].as_str().unwrap().to_owned());
        }
        if statuses.iter().any(|s| s == "diagnosing")
            && statuses.iter().all(|s| ["diagnosing", "failed"].contains(&s.as_str()))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "batches not all at the LLM: {statuses:?}; log: {}",
            stalled.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stalled.kill9();
    held.abort();

    // A new pipeline reads the uncommitted events again and finishes every batch; the
    // streams opened before the kill see it happen and close.
    let _pipeline = PipelineProcess::start_with_env(&pipeline_args, &s3.env());
    for (id, stream) in followed {
        let statuses = tokio::time::timeout(Duration::from_secs(120), stream)
            .await
            .unwrap_or_else(|_| panic!("{id}: the event stream did not close"))
            .unwrap();
        let last = statuses.last().map(String::as_str);
        assert!(matches!(last, Some("completed" | "failed")), "{id}: {statuses:?}");
        if last == Some("completed") {
            assert!(statuses.contains(&"diagnosing".to_owned()), "{id}: {statuses:?}");
        }
    }
    assert_reports_and_fleet(&serve, &uploaded).await;
    serve.terminate();
    db.drop_it().await;
}
