//! Report reads: the stored document plus diagnosis and similar batches, 409 before the
//! batch is final (never cached), 100 concurrent cold reads → one store read, ETag/304;
//! the fleet report; a vehicle's batches page by page.

use argus_sinks::store::FleetView;
use serde_json::Value;

use super::{Backend, Server, both_backends, finished_batch, uploaded_batch, write_report};

async fn reports_and_their_cache(backend: Backend) {
    let server = Server::start(backend).await;
    let batch = uploaded_batch(&server, "WAUZZZ8V1KA000001").await;
    let report_url = server.url(&format!("/api/v1/batches/{batch}/report"));

    // Not final: 409, every time from the store.
    let before = server.state.report_loads();
    for _ in 0..3 {
        let (status, body) = server.get(&format!("/api/v1/batches/{batch}/report")).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("report_not_ready")));
    }
    assert_eq!(server.state.report_loads() - before, 3, "a report not ready is never cached");

    // An earlier batch sharing a code, so `similar` has an entry.
    let other = uploaded_batch(&server, "WAUZZZ8V1KA000002").await;
    write_report(&server.store, &finished_batch(&other, "WAUZZZ8V1KA000002", &[("P0301-00", 5)])).await;
    write_report(
        &server.store,
        &finished_batch(&batch, "WAUZZZ8V1KA000001", &[("P0301-00", 3), ("U0100-87", 1)]),
    )
    .await;

    // 100 concurrent cold reads: one store read.
    let before = server.state.report_loads();
    let reads: Vec<_> = (0..100)
        .map(|_| {
            let (client, url) = (server.client.clone(), report_url.clone());
            tokio::spawn(async move {
                let response = client.get(url).send().await.unwrap();
                assert_eq!(response.status(), 200);
                let etag = response.headers()["etag"].to_str().unwrap().to_owned();
                (etag, response.bytes().await.unwrap())
            })
        })
        .collect();
    let mut bodies = Vec::new();
    for read in reads {
        bodies.push(read.await.unwrap());
    }
    assert_eq!(server.state.report_loads() - before, 1, "100 cold reads, one store read");
    assert!(bodies.iter().all(|b| b == &bodies[0]));
    let (etag, body) = bodies.swap_remove(0);

    // The document: the stored bytes, then diagnosis and similar batches.
    let stored = server.store.get_report_json(&batch).await.unwrap().unwrap();
    let text = std::str::from_utf8(&body).unwrap();
    assert!(text.starts_with(stored.trim_end().trim_end_matches('}')), "{text}");
    let mut report: Value = serde_json::from_str(text).unwrap();
    assert_eq!(report["similar"][0]["batch_id"], other.as_str());
    assert_eq!(report["diagnosis"]["similar_batches"], report["similar"]);
    let object = report.as_object_mut().unwrap();
    object.remove("diagnosis");
    object.remove("similar");
    assert_eq!(report, serde_json::from_str::<Value>(&stored).unwrap());

    // ETag and If-None-Match.
    let cached = server.client.get(&report_url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(cached.status(), 304);
    assert!(cached.bytes().await.unwrap().is_empty());
    let listed = server
        .client
        .get(&report_url)
        .header("if-none-match", format!("\"x\", {etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 304);
    let changed = server.client.get(&report_url).header("if-none-match", "\"other\"").send().await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(server.state.report_loads() - before, 1, "cached reads do not touch the store");
    server.stop().await;
}
both_backends!(reports_and_their_cache_, reports_and_their_cache);

async fn fleet_and_vehicle_pages(backend: Backend) {
    let server = Server::start(backend).await;
    let mut ids = Vec::new();
    for (i, codes) in
        [[("P0301-00", 4)], [("P0301-00", 2)], [("U0100-87", 7)], [("P0420-00", 1)], [("P0301-00", 1)]]
            .iter()
            .enumerate()
    {
        let vin = if i < 4 { "WAUZZZ8V1KA000001" } else { "WAUZZZ8V1KA000009" };
        let batch = uploaded_batch(&server, vin).await;
        write_report(&server.store, &finished_batch(&batch, vin, codes)).await;
        ids.push(batch);
        // Distinct creation times, so "newest first" is the upload order reversed.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    // Without a stored fleet row: the query over the store.
    let (status, fleet) = server.get("/api/v1/fleet/top-errors").await;
    assert_eq!(status, 200);
    assert_eq!(fleet["batches"], 5);
    assert_eq!(fleet["top_errors"][0]["code"], "P0301-00");
    assert_eq!(fleet["top_errors"][0]["count"], 7);
    // Filtered by VIN.
    let (_, one) = server.get("/api/v1/fleet/top-errors?vin=WAUZZZ8V1KA000009&k=5").await;
    assert_eq!((one["batches"].as_u64(), one["k"].as_u64()), (Some(1), Some(5)));
    // The batches' records lie in 1970: a 24 h window holds none of them.
    let (_, recent) = server.get("/api/v1/fleet/top-errors?window=24h").await;
    assert_eq!(recent["batches"], 0);

    // With the dataflow's row: served as stored, and cut to a smaller k.
    let stored = r#"{"k":10,"batches":99,"records":1,"error_events":1,"top_errors":[{"code":"A","count":2,"batches":1,"vins":1},{"code":"B","count":1,"batches":1,"vins":1}]}"#;
    let row: argus_pipeline::FleetReport = serde_json::from_str(stored).unwrap();
    server.store.put_fleet_report(FleetView::AllTime, &row).await.unwrap();
    let body =
        server.client.get(server.url("/api/v1/fleet/top-errors")).send().await.unwrap().text().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), serde_json::from_str::<Value>(stored).unwrap());
    let (_, cut) = server.get("/api/v1/fleet/top-errors?k=1").await;
    assert_eq!((cut["k"].as_u64(), cut["top_errors"].as_array().unwrap().len()), (Some(1), 1));

    // A vehicle's batches, two at a time, newest first, each once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.as_ref().map_or(String::new(), |c| format!("&cursor={c}"));
        let (status, page) =
            server.get(&format!("/api/v1/vehicles/WAUZZZ8V1KA000001/batches?limit=2{query}")).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["batches"].as_array().unwrap().iter().map(|b| b["batch_id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut newest_first: Vec<String> = ids[..4].to_vec();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    server.stop().await;
}
both_backends!(fleet_and_vehicle_pages_, fleet_and_vehicle_pages);
