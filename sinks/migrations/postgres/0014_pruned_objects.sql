-- The uploaded objects of pruned batches, until `argus prune` has deleted them from the
-- object store (sinks/src/store/prune.rs). The prune transaction lists them as it
-- deletes their `uploads` rows; the objects are deleted after it commits, so that a
-- crash or an unreachable object store between the two leaves a list to finish from,
-- never an object nothing refers to. `uri` is the upload's, relative to the object
-- store's root. (Batches pruned before this migration left their objects unlisted.)
CREATE TABLE pruned_objects (
    uri          TEXT PRIMARY KEY CHECK (length(uri) > 0),
    pruned_at_ms BIGINT NOT NULL DEFAULT argus_now_ms()
);
