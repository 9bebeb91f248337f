//! Cached report reads over HTTP on loopback, server and client sharing the machine's
//! cores: requests per second and latency of `GET /api/v1/batches/{id}/report` (a
//! completed batch of the conformance vectors, stored by the real dataflow into SQLite),
//! against the limit of the same HTTP stack: an axum handler that returns the same bytes
//! from memory, measured in the same run. The clients: reqwest (keep-alive, `C`
//! concurrent requests, on one tokio thread) and, when `wrk` is installed
//! (`apt-get install wrk`), wrk with one thread and `C` connections: a client written
//! for load, so that the figure is the server's more than the client's.
//!
//! The servers run on `ARGUS_BENCH_SERVER_THREADS` tokio threads (default 1, which leaves
//! the other core to the client; `argus serve` runs 2).
//! Beside each rate, the server's CPU time per request (its runtime threads' run time
//! over the measurement, from `/proc/self/task/*/schedstat`, divided by the requests
//! served): on a machine shared with other work the rates move with the load, the server's
//! own CPU time per request much less.
//!
//! `ARGUS_BENCH_SECONDS` (default 10) per measurement, `ARGUS_BENCH_CONCURRENCY` (64).
//! `ARGUS_BENCH_CLIENT=wrk`: wrk only (the reqwest rows skipped, for short runs);
//! `ARGUS_BENCH_CLIENT=in-process`: no HTTP, the routers called as services on one thread
//! (nanoseconds per request, each body read to its end; rounds alternate, best of each).
//! `ARGUS_BENCH_LOG=info` (or any filter): a log subscriber writing nowhere, as `argus
//! serve` runs one at `info`, so that the request spans cost what they cost there.
//! `ARGUS_BENCH_SERVE=1`: no measurement; prints the two URLs and the server thread's id,
//! and serves until killed, so that curl, strace or perf can be pointed at the servers.
//! Figures: benches/README.md, "API reads".

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_api::{ApiConfig, AppState, Objects};
use argus_pipeline::{DataflowConfig, FeedEvent, FileReady, Metrics, ReportWriter, VecFeed};
use argus_sinks::diagnosis::Diagnoser;
use argus_sinks::{Store, StoreWriter};

/// The name of the server runtime's threads, whose CPU time is measured.
const SERVER_THREAD: &str = "bench-server";

fn runtime(threads: usize, name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

/// Run time so far (ns) of this process's threads named `name`, from their schedstat.
fn threads_cpu_ns(name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|task| {
            let dir = task.ok()?.path();
            if std::fs::read_to_string(dir.join("comm")).ok()?.trim_end() != name {
                return None;
            }
            std::fs::read_to_string(dir.join("schedstat"))
                .ok()?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// Nanoseconds per request of `router` answering `GET uri` in process: cloned and called
/// as a service per request (as `axum::serve` does), its body read to the end.
async fn in_process(router: &axum::Router, uri: &str, requests: u32) -> f64 {
    /// Generic so that the bound brings `Service`'s methods (a supertrait of axum's
    /// `ServiceExt`) into scope without a direct dependency on tower.
    async fn call<S: axum::ServiceExt<axum::extract::Request>>(
        mut service: S,
        request: axum::extract::Request,
    ) -> Result<S::Response, S::Error> {
        std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
        service.call(request).await
    }
    let started = Instant::now();
    for _ in 0..requests {
        let request = axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap();
        let response = call(router.clone(), request).await.unwrap();
        assert!(response.status().is_success());
        std::hint::black_box(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap());
    }
    started.elapsed().as_nanos() as f64 / f64::from(requests)
}

/// The in-process figures: nanoseconds per request of the API and of the limit (the same
/// bytes from a handler on a route of the same shape), rounds alternating, best of each.
fn in_process_rounds(api: &axum::Router, batch: &str, body: bytes::Bytes) {
    let limit = axum::Router::new().route(
        "/api/v1/batches/{id}/report",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let uri = format!("/api/v1/batches/{batch}/report");
    let requests: u32 = common::env_or("ARGUS_BENCH_REQUESTS", 200_000);
    let rounds: usize = common::env_or("ARGUS_BENCH_ROUNDS", 5);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut best_api, mut best_limit) = (f64::INFINITY, f64::INFINITY);
    println!("## API reads in process: {requests} requests a round, {rounds} rounds");
    println!("load before: {}", common::loadavg());
    for round in 0..rounds {
        let api_ns = runtime.block_on(in_process(api, &uri, requests));
        let limit_ns = runtime.block_on(in_process(&limit, &uri, requests));
        println!("round {round}: api {api_ns:.0} ns, limit {limit_ns:.0} ns");
        best_api = best_api.min(api_ns);
        best_limit = best_limit.min(limit_ns);
    }
    println!(
        "best: api **{best_api:.0}** ns/request, limit {best_limit:.0} ns/request, api − limit {:.0} ns",
        best_api - best_limit
    );
    println!("load after: {}", common::loadavg());
}

/// The thread ids of this process's threads named `name`.
fn server_thread_ids(name: &str) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    tasks
        .filter_map(|task| {
            let dir = task.ok()?.path();
            let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
            (comm.trim_end() == name).then(|| dir.file_name()?.to_str().map(str::to_owned))?
        })
        .collect()
}

/// Requests per second, p50 and p99 (ms) of a measurement, and the server's CPU time per
/// request (µs).
type Figures = (f64, f64, f64, f64);

/// Runs `measure` (which returns rate, p50, p99 and the number of requests) and adds the
/// server threads' CPU time per request.
fn with_server_cpu(measure: impl FnOnce() -> Option<(f64, f64, f64, u64)>) -> Option<Figures> {
    let before = threads_cpu_ns(SERVER_THREAD);
    let (rps, p50, p99, requests) = measure()?;
    let cpu_us = (threads_cpu_ns(SERVER_THREAD) - before) as f64 / 1000.0 / requests.max(1) as f64;
    Some((rps, p50, p99, cpu_us))
}

/// Stores the vectors' first batch through the dataflow; returns its id.
fn store_a_report(store: &Store, runtime: &tokio::runtime::Runtime) -> String {
    let batch = "04fe6e32-905c-493b-8980-3cae45dae42c";
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/vectors/data").join(batch);
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let events: Vec<FeedEvent> = paths
        .iter()
        .map(|p| {
            FeedEvent::File(FileReady {
                batch_id: batch.into(),
                file_id: p.file_name().unwrap().to_string_lossy().into_owned(),
                location: p.to_string_lossy().into_owned(),
                file_count: paths.len() as u32,
                size: None,
                position: None,
            })
        })
        .collect();
    let metrics = Arc::new(Metrics::default());
    let mut job = common::job(
        Box::new(VecFeed::new(events)),
        common::Capture::default(),
        DataflowConfig::default(),
        1,
        metrics.clone(),
    );
    let (store, handle) = (store.clone(), runtime.handle().clone());
    job.writers = Arc::new(move |_| {
        let diagnoser = Arc::new(Diagnoser::rules_only());
        let writer = StoreWriter::new(store.clone(), diagnoser, handle.clone(), metrics.clone());
        Ok(vec![Box::new(writer) as Box<dyn ReportWriter>])
    });
    argus_pipeline::run(job).unwrap();
    batch.to_owned()
}

/// Requests per second, p50 and p99 (ms) of `concurrency` clients hammering `url`, and
/// the number of requests timed.
fn hammer(
    client_rt: &tokio::runtime::Runtime,
    url: &str,
    concurrency: usize,
    seconds: u64,
) -> (f64, f64, f64, u64) {
    let client = reqwest::Client::new();
    let url = url.to_owned();
    client_rt.block_on(async move {
        // Warm the connections and the cache.
        for _ in 0..concurrency {
            client.get(&url).send().await.unwrap().bytes().await.unwrap();
        }
        let end = Instant::now() + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while Instant::now() < end {
                        let started = Instant::now();
                        let response = client.get(&url).send().await.unwrap();
                        assert!(response.status().is_success());
                        response.bytes().await.unwrap();
                        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                    }
                    latencies
                })
            })
            .collect();
        let started = Instant::now();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort_by(f64::total_cmp);
        let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
        (all.len() as f64 / elapsed, at(0.5), at(0.99), all.len() as u64)
    })
}

/// Requests per second, p50 and p99 (ms) that `wrk` (one thread, `connections`
/// keep-alive connections) measures on `url`, and the requests it completed; `None` when
/// wrk is not installed.
fn wrk(url: &str, connections: usize, seconds: u64) -> Option<(f64, f64, f64, u64)> {
    let output = std::process::Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", url])
        .output()
        .ok()?;
    assert!(output.status.success(), "wrk failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let field = |label: &str| -> &str {
        let line =
            text.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{text}"));
        line.trim_start()[label.len()..].trim()
    };
    let millis = |value: &str| -> f64 {
        let (number, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic()).unwrap());
        let number: f64 = number.parse().unwrap();
        match unit {
            "us" => number / 1000.0,
            "ms" => number,
            "s" => number * 1000.0,
            other => panic!("wrk latency unit {other}"),
        }
    };
    // "  245123 requests in 10.00s, 1.98GB read"
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    Some((field("Requests/sec:").parse().unwrap(), millis(field("50%")), millis(field("99%")), requests))
}

fn main() {
    let seconds: u64 = common::env_or("ARGUS_BENCH_SECONDS", if common::quick() { 2 } else { 10 });
    let concurrency: usize = common::env_or("ARGUS_BENCH_CONCURRENCY", 64);
    if let Ok(filter) = std::env::var("ARGUS_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::sink)
            .init();
    }
    let client: String = common::env_or("ARGUS_BENCH_CLIENT", "all".to_owned());
    let tmp = tempfile::tempdir().unwrap();
    let server_threads: usize = common::env_or("ARGUS_BENCH_SERVER_THREADS", 1);
    let server_rt = runtime(server_threads, SERVER_THREAD);
    let client_rt = runtime(1, "bench-client");
    let url = format!("sqlite://{}?mode=rwc", tmp.path().join("argus.db").display());
    let store = server_rt.block_on(Store::open(&url)).unwrap();
    server_rt.block_on(store.migrate()).unwrap();
    let batch = store_a_report(&store, &server_rt);

    let objects = Objects::local(tmp.path()).unwrap();
    // The metrics recorder installed, as `argus serve` runs: its per-request cost counts.
    let recorder = argus_api::metrics::install_recorder();
    let state = AppState::new(
        ApiConfig::default(),
        store.clone(),
        objects,
        Arc::new(common::accept_all::AcceptAll),
        Some(recorder),
    );
    let router = argus_api::router(state);
    let served_router = router.clone();
    let (api_addr, static_addr, body) = server_rt.block_on(async {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr = api.local_addr().unwrap();
        tokio::spawn(argus_api::serve(api, served_router, std::future::pending()));
        let report_url = format!("http://{api_addr}/api/v1/batches/{batch}/report");
        let body = reqwest::get(&report_url).await.unwrap().bytes().await.unwrap();
        let served = body.clone();
        let limit = axum::Router::new().route(
            "/report",
            axum::routing::get(move || {
                let served = served.clone();
                async move { ([("content-type", "application/json")], served) }
            }),
        );
        let fixed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let static_addr = fixed.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(fixed, limit).await });
        (api_addr, static_addr, body)
    });

    let api_url = format!("http://{api_addr}/api/v1/batches/{batch}/report");
    let limit_url = format!("http://{static_addr}/report");
    if std::env::var("ARGUS_BENCH_SERVE").is_ok_and(|v| !v.is_empty() && v != "0") {
        let tids = server_thread_ids(SERVER_THREAD);
        println!("api: {api_url}\nlimit: {limit_url}\nserver thread: {tids:?}");
        loop {
            std::thread::park();
        }
    }
    if client == "in-process" {
        in_process_rounds(&router, &batch, body);
        return;
    }
    println!(
        "## API reads: {concurrency} concurrent keep-alive clients, {seconds} s each, server {server_threads} tokio thread(s), client one"
    );
    println!("report body: {} bytes; load before: {}", body.len(), common::loadavg());
    let wrk_only = client == "wrk";
    let by_reqwest = (!wrk_only).then(|| {
        let api = with_server_cpu(|| Some(hammer(&client_rt, &api_url, concurrency, seconds))).unwrap();
        let limit = with_server_cpu(|| Some(hammer(&client_rt, &limit_url, concurrency, seconds))).unwrap();
        (api, limit)
    });
    let row = |name: &str, (rps, p50, p99, cpu_us): Figures| {
        vec![
            name.to_owned(),
            format!("{rps:.0}"),
            format!("{p50:.2}"),
            format!("{p99:.2}"),
            format!("{cpu_us:.1}"),
        ]
    };
    let mut rows = Vec::new();
    if let Some((api, limit)) = by_reqwest {
        rows.push(row("reqwest → argus api, cached report", api));
        rows.push(row("reqwest → axum, same bytes (limit)", limit));
    }
    let by_wrk = with_server_cpu(|| wrk(&api_url, concurrency, seconds))
        .zip(with_server_cpu(|| wrk(&limit_url, concurrency, seconds)));
    if let Some((api, limit)) = by_wrk {
        rows.push(row("wrk → argus api, cached report", api));
        rows.push(row("wrk → axum, same bytes (limit)", limit));
    }
    common::print_table(
        &["client → server", "requests/s", "p50 ms", "p99 ms", "server CPU µs/request"],
        &rows,
    );
    if let Some((api, limit)) = by_reqwest {
        println!(
            "api / limit (reqwest): **{:.2}**, server CPU per request limit / api: {:.2} (goal: 50,000 req/s)",
            api.0 / limit.0,
            limit.3 / api.3
        );
    }
    match by_wrk {
        Some((api, limit)) => println!(
            "api / limit (wrk): **{:.2}**, server CPU per request limit / api: **{:.2}**",
            api.0 / limit.0,
            limit.3 / api.3
        ),
        None => println!("wrk not installed: no wrk figures"),
    }
    println!("load after: {}", common::loadavg());
}
