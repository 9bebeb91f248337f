//! Every bad input of the spec gets its 4xx JSON error `{"error", "code"}` and stores
//! nothing: malformed UUID, unknown batch, upload after complete, empty batch, body over
//! the limit (uploads.rs), wrong content type, path traversal in `name`, bad query
//! parameters and bodies, unknown routes and methods.

use serde_json::Value;

use super::{Backend, Server, both_backends};

/// Sends a request; asserts the status and the error code of its JSON body.
async fn expect(server: &Server, request: reqwest::RequestBuilder, status: u16, code: &str) {
    let response = request.send().await.unwrap();
    let got = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let _ = server;
}

async fn every_bad_input(backend: Backend) {
    let s = Server::start(backend).await;
    let c = &s.client;
    let url = |p: &str| s.url(p);

    // Malformed UUIDs, on every route that takes one.
    for path in ["/api/v1/batches/not-a-uuid", "/api/v1/batches/123/report", "/api/v1/batches/x/events"] {
        expect(&s, c.get(url(path)), 400, "invalid_batch_id").await;
    }
    expect(&s, c.post(url("/api/v1/batches/zz/complete")), 400, "invalid_batch_id").await;
    expect(&s, c.post(url("/api/v1/batches/zz/files?name=a.rec")).body("x"), 400, "invalid_batch_id").await;

    // Unknown batches.
    let unknown = uuid::Uuid::new_v4();
    for path in ["", "/report", "/events"] {
        expect(&s, c.get(url(&format!("/api/v1/batches/{unknown}{path}"))), 404, "unknown_batch").await;
    }
    expect(&s, c.post(url(&format!("/api/v1/batches/{unknown}/complete"))), 404, "unknown_batch").await;
    let upload = format!("/api/v1/batches/{unknown}/files?name=a.rec");
    expect(&s, c.post(url(&upload)).body("x"), 404, "unknown_batch").await;

    // Creating a batch: not JSON, malformed JSON, unknown or ill-typed fields.
    expect(&s, c.post(url("/api/v1/batches")).body("{}"), 415, "unsupported_media_type").await;
    let json = |body: &str| {
        c.post(url("/api/v1/batches")).header("content-type", "application/json").body(body.to_owned())
    };
    expect(&s, json("{"), 400, "invalid_body").await;
    expect(&s, json(r#"{"vin": 17}"#), 400, "invalid_body").await;
    expect(&s, json(r#"{"color": "red"}"#), 400, "invalid_body").await;
    expect(&s, json(r#"{"vin": ""}"#), 400, "invalid_vin").await;
    expect(&s, json(r#"{"vin": "a b"}"#), 400, "invalid_vin").await;
    // Not ISO 3779: 16 characters, an I, lowercase (the store could not hold them).
    expect(&s, json(r#"{"vin": "WAUZZZ8V1KA00000"}"#), 400, "invalid_vin").await;
    expect(&s, json(r#"{"vin": "WAUZZZ8V1KA00000I"}"#), 400, "invalid_vin").await;
    expect(&s, json(r#"{"vin": "wauzzz8v1ka000001"}"#), 400, "invalid_vin").await;
    expect(&s, json(r#"{"vehicle_id": ""}"#), 400, "invalid_body").await;

    // An empty batch cannot complete.
    let batch = s.create_batch("WAUZZZ8V1KA000001").await;
    expect(&s, c.post(url(&format!("/api/v1/batches/{batch}/complete"))), 400, "empty_batch").await;

    // Uploads: wrong content type, names that are not one path segment, a second file of
    // the same name, unknown query parameters.
    let files = |q: &str| url(&format!("/api/v1/batches/{batch}/files{q}"));
    expect(
        &s,
        c.post(files("?name=a.rec")).header("content-type", "text/plain").body("x"),
        415,
        "unsupported_media_type",
    )
    .await;
    for name in ["..", "../../etc/passwd", "a%2Fb.rec", "%2E%2E%2Fx", ".hidden", "a%5Cb", "a%00b"] {
        expect(&s, c.post(files(&format!("?name={name}"))).body("x"), 400, "invalid_file_name").await;
    }
    expect(&s, c.post(files("?nome=a.rec")).body("x"), 400, "invalid_query").await;
    let form = c
        .post(files(""))
        .header("content-type", "multipart/form-data; boundary=B")
        .body("--B\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--B--\r\n");
    expect(&s, form, 400, "invalid_body").await;
    let form = c.post(files("")).header("content-type", "multipart/form-data").body("garbage");
    expect(&s, form, 400, "invalid_body").await;
    assert_eq!(s.upload(&batch, "seg-00.rec", vec![1; 10]).await.0, 201);
    expect(&s, c.post(files("?name=seg-00.rec")).body("again"), 409, "file_exists").await;
    expect(&s, c.post(files("?name=seg-00")).body("again"), 409, "file_exists").await;

    // The report of a batch still moving.
    expect(&s, c.get(url(&format!("/api/v1/batches/{batch}/report"))), 409, "report_not_ready").await;
    // Upload after complete.
    assert_eq!(s.post(&format!("/api/v1/batches/{batch}/complete")).await.0, 202);
    expect(&s, c.post(files("?name=late.rec")).body("x"), 409, "batch_not_pending").await;

    // Query parameters of the reads.
    for q in ["k=0", "k=abc", "k=1001", "window=soon", "window=0s", "colour=red"] {
        expect(&s, c.get(url(&format!("/api/v1/fleet/top-errors?{q}"))), 400, "invalid_query").await;
    }
    for q in ["limit=0", "limit=x", "limit=501", "cursor=zz", "cursor=00"] {
        expect(
            &s,
            c.get(url(&format!("/api/v1/vehicles/WAUZZZ8V1KA000001/batches?{q}"))),
            400,
            "invalid_query",
        )
        .await;
    }

    expect(&s, c.get(url("/api/v1/vehicles/a%20b/batches")), 400, "invalid_vin").await;
    expect(&s, c.get(url("/api/v1/vehicles/%FF/batches")), 400, "bad_request").await;
    expect(&s, c.get(url("/api/v1/batches/%FF")), 400, "bad_request").await;

    // Routes and methods that do not exist.
    expect(&s, c.get(url("/api/v1/nothing")), 404, "no_route").await;
    expect(&s, c.delete(url(&format!("/api/v1/batches/{batch}"))), 405, "method_not_allowed").await;

    // Nothing of the refused uploads was stored.
    assert_eq!(s.objects(), [format!("batches/{batch}/seg-00.rec")]);
    assert_eq!(s.store.list_uploads(&batch).await.unwrap().len(), 1);
    s.stop().await;
}
both_backends!(every_bad_input_, every_bad_input);
