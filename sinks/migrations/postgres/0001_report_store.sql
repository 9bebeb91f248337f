-- The report store (PostgreSQL). sinks/README.md explains every table; the SQLite
-- migration of the same number has the same tables, constraints and behaviour.
-- Timestamps are Unix milliseconds (BIGINT) in both backends so that the Rust code and
-- the two schemas stay identical; `argus_now_ms()` is the database clock.

CREATE FUNCTION argus_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE AS $$
    SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
$$;

-- The batch state machine as data: every legal move. `new` is the pseudo-state of a row
-- that does not exist yet, so its rows list the statuses a batch may be inserted at.
CREATE TABLE batch_status_transitions (
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO batch_status_transitions (from_status, to_status) VALUES
    ('new', 'pending'),          -- POST /batches
    ('new', 'uploaded'),         -- a batch first seen by the pipeline (replay, streaming)
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
    records       BIGINT NOT NULL DEFAULT 0 CHECK (records >= 0),
    error_events  BIGINT NOT NULL DEFAULT 0 CHECK (error_events >= 0),
    first_ts_ns   BIGINT CHECK (first_ts_ns >= 0),
    last_ts_ns    BIGINT CHECK (last_ts_ns >= 0),
    -- Euclidean norm of the batch's code-count vector (batch_codes), for cosine similarity.
    code_norm     DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (code_norm >= 0),
    failure       TEXT,
    created_at_ms BIGINT NOT NULL DEFAULT argus_now_ms(),
    updated_at_ms BIGINT NOT NULL DEFAULT argus_now_ms(),
    CHECK (error_events <= records),
    CHECK ((first_ts_ns IS NULL) = (last_ts_ns IS NULL)),
    CHECK (first_ts_ns <= last_ts_ns),
    CHECK ((first_ts_ns IS NULL) = (records = 0)),
    CHECK (status <> 'failed' OR failure IS NOT NULL),
    CHECK (status = 'failed' OR failure IS NULL)
);
CREATE INDEX batches_vin_created ON batches (vin, created_at_ms DESC);
CREATE INDEX batches_completed_last_ts ON batches (last_ts_ns) WHERE status = 'completed';

-- Enforces the state machine on every INSERT and UPDATE, whoever issues it.
CREATE FUNCTION argus_batch_status_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM batch_status_transitions
                       WHERE from_status = 'new' AND to_status = NEW.status) THEN
            RAISE EXCEPTION 'illegal batch status: a batch cannot start at %', NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
    ELSE
        IF NEW.status IS DISTINCT FROM OLD.status AND NOT EXISTS (
                SELECT 1 FROM batch_status_transitions
                WHERE from_status = OLD.status AND to_status = NEW.status) THEN
            RAISE EXCEPTION 'illegal batch status move: % -> %', OLD.status, NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
        NEW.updated_at_ms := argus_now_ms();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER batches_status_guard BEFORE INSERT OR UPDATE ON batches
    FOR EACH ROW EXECUTE FUNCTION argus_batch_status_guard();

-- One row per file of a batch: the report's files[] entry plus where the file was read.
CREATE TABLE files (
    batch_id       TEXT NOT NULL REFERENCES batches (batch_id) ON DELETE CASCADE,
    file_id        TEXT NOT NULL CHECK (length(file_id) > 0),
    bytes          BIGINT NOT NULL CHECK (bytes >= 0),
    status         TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'rejected')),
    error          TEXT,
    records        BIGINT NOT NULL CHECK (records >= 0),
    error_events   BIGINT NOT NULL CHECK (error_events >= 0),
    chunks_good    BIGINT NOT NULL CHECK (chunks_good >= 0),
    chunks_corrupt BIGINT NOT NULL CHECK (chunks_corrupt >= 0),
    bytes_skipped  BIGINT NOT NULL CHECK (bytes_skipped >= 0),
    truncated      BOOLEAN NOT NULL,
    uri            TEXT,
    sha256         TEXT CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (batch_id, file_id),
    CHECK (error_events <= records),
    CHECK (bytes_skipped <= bytes),
    -- a rejected file was not read: zero counts and a reason; any other file has no error
    CHECK ((status = 'rejected') = (error IS NOT NULL)),
    CHECK (status <> 'rejected' OR (records = 0 AND error_events = 0 AND chunks_good = 0
                                    AND chunks_corrupt = 0 AND bytes_skipped = 0 AND NOT truncated)),
    -- ok means undamaged; partial means some damage
    CHECK (status <> 'ok' OR (chunks_corrupt = 0 AND bytes_skipped = 0 AND NOT truncated)),
    CHECK (status <> 'partial' OR chunks_corrupt > 0 OR bytes_skipped > 0 OR truncated)
);

-- The report document exactly as served (`document`, JSON keeps the bytes and key order)
-- and its top errors as JSONB for queries.
CREATE TABLE reports (
    batch_id      TEXT PRIMARY KEY REFERENCES batches (batch_id) ON DELETE CASCADE,
    k             INTEGER NOT NULL CHECK (k >= 0),
    document      JSON NOT NULL,
    top_errors    JSONB NOT NULL CHECK (jsonb_typeof(top_errors) = 'array'),
    created_at_ms BIGINT NOT NULL DEFAULT argus_now_ms(),
    CHECK (jsonb_array_length(top_errors) <= k)
);
CREATE INDEX reports_top_errors ON reports USING GIN (top_errors jsonb_path_ops);

-- Every error code of a batch with its count: the fleet query and similarity search read it.
CREATE TABLE batch_codes (
    batch_id TEXT NOT NULL REFERENCES batches (batch_id) ON DELETE CASCADE,
    code     TEXT NOT NULL CHECK (length(code) > 0),
    events   BIGINT NOT NULL CHECK (events > 0),
    PRIMARY KEY (batch_id, code)
);
CREATE INDEX batch_codes_code ON batch_codes (code);

CREATE TABLE diagnoses (
    batch_id        TEXT PRIMARY KEY REFERENCES batches (batch_id) ON DELETE CASCADE,
    source          TEXT NOT NULL CHECK (source IN ('rules', 'llm')),
    fallback_reason TEXT,
    risk            TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high', 'critical')),
    model           TEXT,
    document        JSONB NOT NULL CHECK (jsonb_typeof(document) = 'object'),
    created_at_ms   BIGINT NOT NULL DEFAULT argus_now_ms(),
    CHECK (source = 'rules' OR fallback_reason IS NULL),
    CHECK (source = 'rules' OR model IS NOT NULL)
);

-- The daily LLM token budget. `tokens_charged` is what counts against the budget: the
-- estimate of a call until its real usage is known, then the real usage.
CREATE TABLE token_usage (
    day              TEXT PRIMARY KEY CHECK (day ~ '^\d{4}-\d{2}-\d{2}$'),
    tokens_estimated BIGINT NOT NULL DEFAULT 0 CHECK (tokens_estimated >= 0),
    tokens_used      BIGINT NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
    tokens_charged   BIGINT NOT NULL DEFAULT 0 CHECK (tokens_charged >= 0),
    calls            BIGINT NOT NULL DEFAULT 0 CHECK (calls >= 0)
);

-- One budget reservation per batch, so that a retried or rewritten batch is charged once.
-- No foreign key to batches: the reservation is made before the batch row is written.
CREATE TABLE llm_reservations (
    batch_id         TEXT PRIMARY KEY,
    day              TEXT NOT NULL REFERENCES token_usage (day),
    tokens_estimated BIGINT NOT NULL CHECK (tokens_estimated > 0),
    tokens_used      BIGINT CHECK (tokens_used >= 0),
    outcome          TEXT,
    created_at_ms    BIGINT NOT NULL DEFAULT argus_now_ms(),
    CHECK ((tokens_used IS NULL) = (outcome IS NULL))
);

-- Kafka positions covered by stored reports: written in the same transaction as them.
CREATE TABLE kafka_offsets (
    topic         TEXT NOT NULL CHECK (length(topic) > 0),
    partition_id  INTEGER NOT NULL CHECK (partition_id >= 0),
    next_offset   BIGINT NOT NULL CHECK (next_offset >= 0),
    updated_at_ms BIGINT NOT NULL DEFAULT argus_now_ms(),
    PRIMARY KEY (topic, partition_id)
);
