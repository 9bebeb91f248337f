-- The dataflow's fleet reports as its fleet sink last wrote them (see the Postgres
-- migration of the same number).
CREATE TABLE fleet_reports (
    view          TEXT PRIMARY KEY CHECK (view IN ('all', 'window')),
    document      TEXT NOT NULL CHECK (json_valid(document)),
    updated_at_ms INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
