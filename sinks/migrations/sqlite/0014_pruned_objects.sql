-- The uploaded objects of pruned batches, until `argus prune` has deleted them from the
-- object store (see the Postgres migration of the same number).
CREATE TABLE pruned_objects (
    uri          TEXT PRIMARY KEY CHECK (length(uri) > 0),
    pruned_at_ms INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;
