-- The pair index read outward from the query's component on the first code, a bounded
-- number of rows each way (sinks/src/store/similar_pairs.rs): `batch_id` joins the key so
-- that rows of equal components come in one order, and a cut between them is the same
-- cut on every run.
DROP INDEX completed_pairs_key;
CREATE INDEX completed_pairs_key ON completed_pairs (code_a, code_b, weight_a, batch_id) INCLUDE (weight_b);
