//! Bearer tokens: 401 without a known token, 403 for the wrong role, admin may do
//! everything; no tokens on a non-loopback address is refused.

use argus_api::{ApiConfig, Role, Tokens};
use serde_json::Value;

use super::{Backend, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_who_may_do_what() {
    let tokens = Tokens::parse_list("vehicle:v-secret,reader:r-secret,admin:a-secret").unwrap();
    let server =
        Server::start_with(Backend::Sqlite, ApiConfig { tokens, ..ApiConfig::default() }, None).await;
    let create = |token: Option<&str>| {
        let request = server
            .client
            .post(server.url("/api/v1/batches"))
            .json(&serde_json::json!({"vehicle_id": "car-1", "vin": "WAUZZZ8V1KA000001"}));
        match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    };
    let status_code = async |request: reqwest::RequestBuilder| {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        (status, body["code"].as_str().unwrap_or_default().to_owned(), body)
    };

    assert_eq!(status_code(create(None)).await.0, 401);
    let (status, code, _) = status_code(create(Some("wrong"))).await;
    assert_eq!((status, code.as_str()), (401, "unauthorized"));
    let (status, code, _) = status_code(create(Some("r-secret"))).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    let (status, _, body) = status_code(create(Some("v-secret"))).await;
    assert_eq!(status, 201);
    let batch = body["batch_id"].as_str().unwrap().to_owned();
    assert_eq!(status_code(create(Some("a-secret"))).await.0, 201);

    let read =
        |token: &str| server.client.get(server.url(&format!("/api/v1/batches/{batch}"))).bearer_auth(token);
    assert_eq!(status_code(read("v-secret")).await.0, 403);
    assert_eq!(status_code(read("r-secret")).await.0, 200);
    assert_eq!(status_code(read("a-secret")).await.0, 200);
    let bare = server.client.get(server.url("/api/v1/fleet/top-errors"));
    let (status, code, _) = status_code(bare).await;
    assert_eq!((status, code.as_str()), (401, "unauthorized"));

    let upload = server
        .client
        .post(server.url(&format!("/api/v1/batches/{batch}/files?name=a.rec")))
        .bearer_auth("r-secret")
        .body("x");
    assert_eq!(status_code(upload).await.0, 403);
    assert!(server.objects().is_empty());

    // Operations stay open (probes and scrapers carry no tokens).
    assert_eq!(server.client.get(server.url("/healthz")).send().await.unwrap().status(), 200);
    server.stop().await;
}

#[test]
fn an_open_server_refuses_a_non_loopback_address() {
    let open = ApiConfig::default();
    let error = open.validate("0.0.0.0:8080".parse().unwrap()).unwrap_err();
    assert!(error.to_string().contains("without tokens"), "{error}");
    assert!(open.validate("127.0.0.1:8080".parse().unwrap()).is_ok());
    let guarded = ApiConfig { tokens: Tokens::from_pairs([(Role::Admin, "a")]), ..ApiConfig::default() };
    assert!(guarded.validate("0.0.0.0:8080".parse().unwrap()).is_ok());
}

/// `argus serve` on a non-loopback address without tokens exits with the reason,
/// before it binds or opens anything.
#[test]
fn the_binary_refuses_to_serve_openly_beyond_loopback() {
    let output = crate::util::argus()
        .args(["serve", "--no-pipeline", "--addr", "0.0.0.0:0", "--database-url", "sqlite::memory:"])
        .args(["--object-store", "/nonexistent", "--brokers", "127.0.0.1:1", "--data-dir", "/nonexistent"])
        .env_remove("ARGUS_API_TOKENS")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing to listen on 0.0.0.0:0 without tokens"), "{stderr}");
}
