//! The dataflow's fleet reports, stored per view: the last one written is the one read.

use argus_pipeline::{FleetReport, FleetTopError};
use argus_sinks::store::FleetView;

use crate::both_backends;
use crate::common::TestDb;

fn fleet(batches: u64) -> FleetReport {
    FleetReport {
        k: 10,
        batches,
        records: 100 * batches,
        error_events: 7 * batches,
        top_errors: vec![FleetTopError { code: "P0301-00".into(), count: 7 * batches, batches, vins: 1 }],
    }
}

async fn the_latest_report_of_each_view_is_kept(db: &TestDb) {
    assert_eq!(db.store.get_fleet_report_json(FleetView::AllTime).await.expect("read"), None);
    db.store.put_fleet_report(FleetView::AllTime, &fleet(1)).await.expect("first");
    db.store.put_fleet_report(FleetView::AllTime, &fleet(2)).await.expect("second");
    db.store.put_fleet_report(FleetView::Window, &fleet(3)).await.expect("window");
    let all = db.store.get_fleet_report_json(FleetView::AllTime).await.expect("read").expect("a row");
    assert_eq!(all, serde_json::to_string(&fleet(2)).unwrap(), "the document's bytes are kept");
    let window = db.store.get_fleet_report_json(FleetView::Window).await.expect("read").expect("a row");
    assert_eq!(serde_json::from_str::<FleetReport>(&window).unwrap(), fleet(3));
}
both_backends!(latest_fleet_rows, the_latest_report_of_each_view_is_kept);
