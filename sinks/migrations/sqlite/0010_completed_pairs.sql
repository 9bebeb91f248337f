-- The pair index of the similar-batch search (see the Postgres migration of the same
-- number). SQLite has no INCLUDE: the index lists the covered columns as trailing keys.
CREATE TABLE completed_pairs (
    batch_id TEXT PRIMARY KEY REFERENCES batches (batch_id) ON DELETE CASCADE,
    code_a   TEXT NOT NULL,
    code_b   TEXT NOT NULL,
    weight_a REAL NOT NULL,
    weight_b REAL NOT NULL,
    CHECK (code_a < code_b)
) STRICT, WITHOUT ROWID;
CREATE INDEX completed_pairs_key ON completed_pairs (code_a, code_b, weight_a, weight_b, batch_id);

WITH heaviest AS (
    SELECT batch_id, code, weight,
           ROW_NUMBER() OVER (PARTITION BY batch_id ORDER BY events DESC, code) AS nth
    FROM completed_codes
)
INSERT INTO completed_pairs (batch_id, code_a, code_b, weight_a, weight_b)
SELECT a.batch_id, a.code, b.code, a.weight, b.weight
FROM heaviest a JOIN heaviest b ON b.batch_id = a.batch_id AND a.code < b.code
WHERE a.nth <= 2 AND b.nth <= 2;
