-- The fleet dashboard's latest batches (Store::latest_batches) read the head of this index
-- instead of sorting every batch (see the Postgres migration of the same number).
CREATE INDEX batches_created ON batches (created_at_ms DESC, batch_id DESC);
