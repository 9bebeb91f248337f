-- The pair index of the similar-batch search (sinks/src/store/similar.rs): one row per
-- completed batch with at least two codes, keyed by its two heaviest codes (most events
-- first, ties by code; stored in code order) with their components of the batch's unit
-- count vector. A batch close to a query by cosine has, on the query's two heaviest
-- codes, components close to the query's: on a dense posting list such batches sit among
-- thousands of equal weights, here they sit in one short index range.
CREATE TABLE completed_pairs (
    batch_id TEXT COLLATE "C" PRIMARY KEY REFERENCES batches (batch_id) ON DELETE CASCADE,
    code_a   TEXT COLLATE "C" NOT NULL,
    code_b   TEXT COLLATE "C" NOT NULL,
    weight_a DOUBLE PRECISION NOT NULL,
    weight_b DOUBLE PRECISION NOT NULL,
    CHECK (code_a < code_b)
);
CREATE INDEX completed_pairs_key ON completed_pairs (code_a, code_b, weight_a) INCLUDE (weight_b, batch_id);

WITH heaviest AS (
    SELECT batch_id, code, weight,
           ROW_NUMBER() OVER (PARTITION BY batch_id ORDER BY events DESC, code) AS nth
    FROM completed_codes
)
INSERT INTO completed_pairs (batch_id, code_a, code_b, weight_a, weight_b)
SELECT a.batch_id, a.code, b.code, a.weight, b.weight
FROM heaviest a JOIN heaviest b ON b.batch_id = a.batch_id AND a.code < b.code
WHERE a.nth <= 2 AND b.nth <= 2;
