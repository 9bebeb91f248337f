-- The codes of completed batches, denormalised for reads whose cost must not grow with the
-- fleet's history (sinks/README.md, "Reads at fleet scale"). One row per (batch, code) of
-- a batch whose final state is `completed`, written by the batch's own write transaction
-- (never changed afterwards: a completed batch is final).
--   weight = events / code_norm: the code's component of the batch's unit count vector.
--   vin, firmware, last_ts_ns: the batch's, copied so that a filtered fleet query reads
--   one index range instead of joining batches to batch_codes.
-- `batch_id` and `code` compare in byte order (COLLATE "C"), as the queries' tie-breaks do.
CREATE TABLE completed_codes (
    batch_id   TEXT COLLATE "C" NOT NULL REFERENCES batches (batch_id) ON DELETE CASCADE,
    code       TEXT COLLATE "C" NOT NULL,
    events     BIGINT NOT NULL CHECK (events > 0),
    weight     DOUBLE PRECISION NOT NULL CHECK (weight > 0 AND weight <= 1.000001),
    vin        TEXT,
    firmware   TEXT,
    last_ts_ns BIGINT,
    PRIMARY KEY (batch_id, code)
);
-- Impact-ordered posting lists: per code, the batches with the largest component first
-- (the similar-batch search reads only the head of each list).
CREATE INDEX completed_codes_postings ON completed_codes (code, weight DESC, batch_id);
-- Covering indexes for the fleet query filtered by firmware or VIN (index-only scans).
CREATE INDEX completed_codes_firmware ON completed_codes (firmware, last_ts_ns) INCLUDE (code, events, vin)
    WHERE firmware IS NOT NULL;
CREATE INDEX completed_codes_vin ON completed_codes (vin, last_ts_ns) INCLUDE (code, events, firmware)
    WHERE vin IS NOT NULL;

-- Totals of the filtered fleet query (batches, records, error events) from the index alone.
CREATE INDEX batches_completed_firmware ON batches (firmware, last_ts_ns) INCLUDE (records, error_events, vin)
    WHERE status = 'completed' AND firmware IS NOT NULL;
CREATE INDEX batches_completed_vin ON batches (vin, last_ts_ns) INCLUDE (records, error_events, firmware)
    WHERE status = 'completed' AND vin IS NOT NULL;

INSERT INTO completed_codes (batch_id, code, events, weight, vin, firmware, last_ts_ns)
SELECT c.batch_id, c.code, c.events, c.events / b.code_norm, b.vin, b.firmware, b.last_ts_ns
FROM batch_codes c JOIN batches b ON b.batch_id = c.batch_id
WHERE b.status = 'completed' AND b.code_norm > 0;
