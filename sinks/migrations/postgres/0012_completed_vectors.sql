-- Each completed batch's code counts in one row, for the exact scoring of the similar
-- search's candidates (sinks/src/store/similar_vectors.rs): a candidate is then one index
-- probe and one row, instead of a `batches` row and its `batch_codes` rows, pages apart
-- in tables of millions. `counts` is a JSON array of [code, events] in code order;
-- `code_norm` is the batch's stored norm, so the cosine stays the exact one.
CREATE TABLE completed_vectors (
    batch_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES batches (batch_id) ON DELETE CASCADE,
    code_norm DOUBLE PRECISION NOT NULL CHECK (code_norm > 0),
    counts    TEXT NOT NULL
);

INSERT INTO completed_vectors (batch_id, code_norm, counts)
SELECT c.batch_id, b.code_norm, json_agg(json_build_array(c.code, c.events) ORDER BY c.code)::text
FROM completed_codes c JOIN batches b ON b.batch_id = c.batch_id
GROUP BY c.batch_id, b.code_norm;
