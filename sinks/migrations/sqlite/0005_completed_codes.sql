-- The codes of completed batches, denormalised for reads whose cost must not grow with the
-- fleet's history (see the Postgres migration of the same number). SQLite's default
-- collation (BINARY) is byte order already. SQLite has no INCLUDE: the indexes list the
-- covered columns as trailing keys.
CREATE TABLE completed_codes (
    batch_id   TEXT NOT NULL REFERENCES batches (batch_id) ON DELETE CASCADE,
    code       TEXT NOT NULL,
    events     INTEGER NOT NULL CHECK (events > 0),
    weight     REAL NOT NULL CHECK (weight > 0 AND weight <= 1.000001),
    vin        TEXT,
    firmware   TEXT,
    last_ts_ns INTEGER,
    PRIMARY KEY (batch_id, code)
) STRICT, WITHOUT ROWID;
CREATE INDEX completed_codes_postings ON completed_codes (code, weight DESC, batch_id);
CREATE INDEX completed_codes_firmware ON completed_codes (firmware, last_ts_ns, code, events, vin)
    WHERE firmware IS NOT NULL;
CREATE INDEX completed_codes_vin ON completed_codes (vin, last_ts_ns, code, events, firmware)
    WHERE vin IS NOT NULL;

CREATE INDEX batches_completed_firmware ON batches (firmware, last_ts_ns, records, error_events, vin)
    WHERE status = 'completed' AND firmware IS NOT NULL;
CREATE INDEX batches_completed_vin ON batches (vin, last_ts_ns, records, error_events, firmware)
    WHERE status = 'completed' AND vin IS NOT NULL;

INSERT INTO completed_codes (batch_id, code, events, weight, vin, firmware, last_ts_ns)
SELECT c.batch_id, c.code, c.events, c.events / b.code_norm, b.vin, b.firmware, b.last_ts_ns
FROM batch_codes c JOIN batches b ON b.batch_id = c.batch_id
WHERE b.status = 'completed' AND b.code_norm > 0;
