-- The report store (SQLite). Same tables, constraints and behaviour as the PostgreSQL
-- migration of the same number (sinks/README.md). STRICT tables reject values of the
-- wrong type, as Postgres does; booleans are INTEGER 0/1; JSON is TEXT checked by json_valid;
-- timestamps are Unix milliseconds.

CREATE TABLE batch_status_transitions (
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    PRIMARY KEY (from_status, to_status)
) STRICT;
INSERT INTO batch_status_transitions (from_status, to_status) VALUES
    ('new', 'pending'),
    ('new', 'uploaded'),
    ('pending', 'uploaded'),
    ('uploaded', 'scattering'),
    ('scattering', 'gathering'),
    ('gathering', 'diagnosing'),
    ('diagnosing', 'completed'),
    ('uploaded', 'failed'),
    ('scattering', 'failed'),
    ('gathering', 'failed'),
    ('diagnosing', 'failed');

CREATE TABLE batches (
    batch_id      TEXT PRIMARY KEY CHECK (length(batch_id) BETWEEN 1 AND 256),
    status        TEXT NOT NULL CHECK (status IN
                      ('pending', 'uploaded', 'scattering', 'gathering', 'diagnosing', 'completed', 'failed')),
    vin           TEXT,
    vehicle_id    TEXT,
    firmware      TEXT,
    records       INTEGER NOT NULL DEFAULT 0 CHECK (records >= 0),
    error_events  INTEGER NOT NULL DEFAULT 0 CHECK (error_events >= 0),
    first_ts_ns   INTEGER CHECK (first_ts_ns >= 0),
    last_ts_ns    INTEGER CHECK (last_ts_ns >= 0),
    code_norm     REAL NOT NULL DEFAULT 0 CHECK (code_norm >= 0),
    failure       TEXT,
    created_at_ms INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    updated_at_ms INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    CHECK (error_events <= records),
    CHECK ((first_ts_ns IS NULL) = (last_ts_ns IS NULL)),
    CHECK (first_ts_ns <= last_ts_ns),
    CHECK ((first_ts_ns IS NULL) = (records = 0)),
    CHECK (status <> 'failed' OR failure IS NOT NULL),
    CHECK (status = 'failed' OR failure IS NULL)
) STRICT;
CREATE INDEX batches_vin_created ON batches (vin, created_at_ms DESC);
CREATE INDEX batches_completed_last_ts ON batches (last_ts_ns) WHERE status = 'completed';

-- The state machine, enforced on every INSERT and UPDATE whoever issues it.
CREATE TRIGGER batches_status_insert BEFORE INSERT ON batches
WHEN NOT EXISTS (SELECT 1 FROM batch_status_transitions
                 WHERE from_status = 'new' AND to_status = NEW.status)
BEGIN
    SELECT RAISE(ABORT, 'illegal batch status: a batch cannot start there');
END;

CREATE TRIGGER batches_status_update BEFORE UPDATE OF status ON batches
WHEN NEW.status IS NOT OLD.status AND NOT EXISTS (
         SELECT 1 FROM batch_status_transitions
         WHERE from_status = OLD.status AND to_status = NEW.status)
BEGIN
    SELECT RAISE(ABORT, 'illegal batch status move');
END;

-- Keeps updated_at_ms current for any UPDATE that does not set it itself (recursive
-- triggers are off, so the inner UPDATE does not fire this trigger again).
CREATE TRIGGER batches_touch AFTER UPDATE ON batches
WHEN NEW.updated_at_ms IS OLD.updated_at_ms
BEGIN
    UPDATE batches SET updated_at_ms = CAST(unixepoch('subsec') * 1000 AS INTEGER)
    WHERE batch_id = NEW.batch_id;
END;

CREATE TABLE files (
    batch_id       TEXT NOT NULL REFERENCES batches (batch_id) ON DELETE CASCADE,
    file_id        TEXT NOT NULL CHECK (length(file_id) > 0),
    bytes          INTEGER NOT NULL CHECK (bytes >= 0),
    status         TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'rejected')),
    error          TEXT,
    records        INTEGER NOT NULL CHECK (records >= 0),
    error_events   INTEGER NOT NULL CHECK (error_events >= 0),
    chunks_good    INTEGER NOT NULL CHECK (chunks_good >= 0),
    chunks_corrupt INTEGER NOT NULL CHECK (chunks_corrupt >= 0),
    bytes_skipped  INTEGER NOT NULL CHECK (bytes_skipped >= 0),
    truncated      INTEGER NOT NULL CHECK (truncated IN (0, 1)),
    uri            TEXT,
    sha256         TEXT CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    PRIMARY KEY (batch_id, file_id),
    CHECK (error_events <= records),
    CHECK (bytes_skipped <= bytes),
    CHECK ((status = 'rejected') = (error IS NOT NULL)),
    CHECK (status <> 'rejected' OR (records = 0 AND error_events = 0 AND chunks_good = 0
                                    AND chunks_corrupt = 0 AND bytes_skipped = 0 AND NOT truncated)),
    CHECK (status <> 'ok' OR (chunks_corrupt = 0 AND bytes_skipped = 0 AND NOT truncated)),
    CHECK (status <> 'partial' OR chunks_corrupt > 0 OR bytes_skipped > 0 OR truncated)
) STRICT;

CREATE TABLE reports (
    batch_id      TEXT PRIMARY KEY REFERENCES batches (batch_id) ON DELETE CASCADE,
    k             INTEGER NOT NULL CHECK (k >= 0),
    document      TEXT NOT NULL CHECK (json_valid(document)),
    top_errors    TEXT NOT NULL CHECK (json_valid(top_errors) AND json_type(top_errors) = 'array'),
    created_at_ms INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    CHECK (json_array_length(top_errors) <= k)
) STRICT;

CREATE TABLE batch_codes (
    batch_id TEXT NOT NULL REFERENCES batches (batch_id) ON DELETE CASCADE,
    code     TEXT NOT NULL CHECK (length(code) > 0),
    events   INTEGER NOT NULL CHECK (events > 0),
    PRIMARY KEY (batch_id, code)
) STRICT;
CREATE INDEX batch_codes_code ON batch_codes (code);

CREATE TABLE diagnoses (
    batch_id        TEXT PRIMARY KEY REFERENCES batches (batch_id) ON DELETE CASCADE,
    source          TEXT NOT NULL CHECK (source IN ('rules', 'llm')),
    fallback_reason TEXT,
    risk            TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high', 'critical')),
    model           TEXT,
    document        TEXT NOT NULL CHECK (json_valid(document) AND json_type(document) = 'object'),
    created_at_ms   INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    CHECK (source = 'rules' OR fallback_reason IS NULL),
    CHECK (source = 'rules' OR model IS NOT NULL)
) STRICT;

CREATE TABLE token_usage (
    day              TEXT PRIMARY KEY CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    tokens_estimated INTEGER NOT NULL DEFAULT 0 CHECK (tokens_estimated >= 0),
    tokens_used      INTEGER NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
    tokens_charged   INTEGER NOT NULL DEFAULT 0 CHECK (tokens_charged >= 0),
    calls            INTEGER NOT NULL DEFAULT 0 CHECK (calls >= 0)
) STRICT;

CREATE TABLE llm_reservations (
    batch_id         TEXT PRIMARY KEY,
    day              TEXT NOT NULL REFERENCES token_usage (day),
    tokens_estimated INTEGER NOT NULL CHECK (tokens_estimated > 0),
    tokens_used      INTEGER CHECK (tokens_used >= 0),
    outcome          TEXT,
    created_at_ms    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    CHECK ((tokens_used IS NULL) = (outcome IS NULL))
) STRICT;

CREATE TABLE kafka_offsets (
    topic         TEXT NOT NULL CHECK (length(topic) > 0),
    partition_id  INTEGER NOT NULL CHECK (partition_id >= 0),
    next_offset   INTEGER NOT NULL CHECK (next_offset >= 0),
    updated_at_ms INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    PRIMARY KEY (topic, partition_id)
) STRICT;
