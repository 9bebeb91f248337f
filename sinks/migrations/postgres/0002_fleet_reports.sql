-- The dataflow's fleet reports as its fleet sink last wrote them: `all` (every completed
-- batch) and `window` (the configured window). The API serves these rows: reads never
-- recompute the fleet. `document` keeps the bytes and key order of the report as written.
CREATE TABLE fleet_reports (
    view          TEXT PRIMARY KEY CHECK (view IN ('all', 'window')),
    document      JSON NOT NULL,
    updated_at_ms BIGINT NOT NULL DEFAULT argus_now_ms()
);
