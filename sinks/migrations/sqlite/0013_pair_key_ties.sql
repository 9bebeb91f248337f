-- The pair index read outward with ties in one order (see the Postgres migration of the
-- same number). SQLite has no INCLUDE: the covered column trails the key.
DROP INDEX completed_pairs_key;
CREATE INDEX completed_pairs_key ON completed_pairs (code_a, code_b, weight_a, batch_id, weight_b);
