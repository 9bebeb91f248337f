-- Each completed batch's code counts in one row, for the exact scoring of the similar
-- search's candidates (see the Postgres migration of the same number).
CREATE TABLE completed_vectors (
    batch_id  TEXT PRIMARY KEY REFERENCES batches (batch_id) ON DELETE CASCADE,
    code_norm REAL NOT NULL CHECK (code_norm > 0),
    counts    TEXT NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO completed_vectors (batch_id, code_norm, counts)
SELECT c.batch_id, b.code_norm, json_group_array(json_array(c.code, c.events) ORDER BY c.code)
FROM completed_codes c JOIN batches b ON b.batch_id = c.batch_id
GROUP BY c.batch_id, b.code_norm;
