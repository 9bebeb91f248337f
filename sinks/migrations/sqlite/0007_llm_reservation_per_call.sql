-- One budget reservation per LLM call, not per batch (see the Postgres migration of the
-- same number). SQLite cannot change a primary key: the table is rebuilt.
CREATE TABLE llm_reservations_per_call (
    batch_id         TEXT NOT NULL,
    attempt          INTEGER NOT NULL CHECK (attempt >= 1),
    day              TEXT NOT NULL REFERENCES token_usage (day),
    tokens_estimated INTEGER NOT NULL CHECK (tokens_estimated > 0),
    tokens_used      INTEGER CHECK (tokens_used >= 0),
    outcome          TEXT,
    created_at_ms    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    PRIMARY KEY (batch_id, attempt),
    CHECK ((tokens_used IS NULL) = (outcome IS NULL))
) STRICT;

INSERT INTO llm_reservations_per_call (batch_id, attempt, day, tokens_estimated, tokens_used, outcome, created_at_ms)
SELECT batch_id, 1, day, tokens_estimated, tokens_used, outcome, created_at_ms FROM llm_reservations;

DROP TABLE llm_reservations;
ALTER TABLE llm_reservations_per_call RENAME TO llm_reservations;
