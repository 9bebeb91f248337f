-- The database keeps its promises, whoever writes to it: the same refusals as the
-- PostgreSQL migration of the same number (read its header). SQLite differs in three ways:
--   * No session settings: `argus prune` marks its transaction with the one row of
--     `prune_in_progress`, inserted and deleted inside it.
--   * `INSERT OR REPLACE` deletes the conflicting row without firing delete triggers
--     (unless PRAGMA recursive_triggers is on, off by default), so BEFORE INSERT triggers
--     refuse a row that would replace a final one, whatever the pragma.
--   * A CHECK cannot be added to an existing table: triggers check VINs and file ids.

CREATE TABLE batch_tombstones (
    batch_id     TEXT PRIMARY KEY,
    pruned_at_ms INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
) STRICT;

-- Present only inside a prune transaction: DELETEs of final rows are allowed then.
CREATE TABLE prune_in_progress (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1)
) STRICT;

-- Present only while `batches_touch` stamps `updated_at_ms` after an UPDATE: that UPDATE
-- follows the one that made a batch final, and is not a change of it.
CREATE TABLE batch_touch_in_progress (
    batch_id TEXT PRIMARY KEY
) STRICT;

DROP TRIGGER batches_touch;
CREATE TRIGGER batches_touch AFTER UPDATE ON batches
WHEN NEW.updated_at_ms IS OLD.updated_at_ms
BEGIN
    INSERT INTO batch_touch_in_progress (batch_id) VALUES (NEW.batch_id);
    UPDATE batches SET updated_at_ms = CAST(unixepoch('subsec') * 1000 AS INTEGER)
    WHERE batch_id = NEW.batch_id;
    DELETE FROM batch_touch_in_progress WHERE batch_id = NEW.batch_id;
END;

-- In-flight batches with a VIN the new check refuses lose it (see the Postgres migration).
UPDATE batches SET vin = NULL
WHERE status NOT IN ('completed', 'failed')
  AND NOT (length(CAST(vin AS BLOB)) = 17 AND vin NOT GLOB '*[^A-HJ-NPR-Z0-9]*');

-- Batches.
CREATE TRIGGER batches_not_tombstoned BEFORE INSERT ON batches
WHEN EXISTS (SELECT 1 FROM batch_tombstones WHERE batch_id = NEW.batch_id)
BEGIN
    SELECT RAISE(ABORT, 'the batch was pruned: its id cannot be used again');
END;

CREATE TRIGGER batches_final_not_replaced BEFORE INSERT ON batches
WHEN EXISTS (SELECT 1 FROM batches WHERE batch_id = NEW.batch_id AND status IN ('completed', 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'the batch is final: it cannot be inserted again');
END;

CREATE TRIGGER batches_final_update BEFORE UPDATE ON batches
WHEN OLD.status IN ('completed', 'failed')
     AND NOT EXISTS (SELECT 1 FROM batch_touch_in_progress WHERE batch_id = OLD.batch_id)
BEGIN
    SELECT RAISE(ABORT, 'the batch is final: it cannot change');
END;

CREATE TRIGGER batches_final_delete BEFORE DELETE ON batches
WHEN OLD.status IN ('completed', 'failed') AND NOT EXISTS (SELECT 1 FROM prune_in_progress)
BEGIN
    SELECT RAISE(ABORT, 'the batch is final: only argus prune removes it');
END;

-- ISO 3779 VINs: 17 bytes, each a digit or a capital other than I, O and Q.
CREATE TRIGGER batches_vin_insert BEFORE INSERT ON batches
WHEN NEW.vin IS NOT NULL AND NOT (length(CAST(NEW.vin AS BLOB)) = 17 AND NEW.vin NOT GLOB '*[^A-HJ-NPR-Z0-9]*')
BEGIN
    SELECT RAISE(ABORT, 'malformed VIN: expected 17 of 0-9 and A-Z except I, O, Q (ISO 3779)');
END;

CREATE TRIGGER batches_vin_update BEFORE UPDATE OF vin ON batches
WHEN NEW.vin IS NOT NULL AND NOT (length(CAST(NEW.vin AS BLOB)) = 17 AND NEW.vin NOT GLOB '*[^A-HJ-NPR-Z0-9]*')
BEGIN
    SELECT RAISE(ABORT, 'malformed VIN: expected 17 of 0-9 and A-Z except I, O, Q (ISO 3779)');
END;

-- Rows written while a batch is open: files, batch_codes, uploads.
CREATE TRIGGER files_final_insert BEFORE INSERT ON files
WHEN EXISTS (SELECT 1 FROM batches WHERE batch_id = NEW.batch_id AND status IN ('completed', 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'files: the batch is final: it takes no more files');
END;
CREATE TRIGGER files_final_update BEFORE UPDATE ON files
WHEN EXISTS (SELECT 1 FROM batches WHERE batch_id IN (OLD.batch_id, NEW.batch_id)
                                     AND status IN ('completed', 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'files: the batch is final: its files cannot change');
END;
CREATE TRIGGER files_final_delete BEFORE DELETE ON files
WHEN NOT EXISTS (SELECT 1 FROM prune_in_progress)
     AND EXISTS (SELECT 1 FROM batches WHERE batch_id = OLD.batch_id AND status IN ('completed', 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'files: the batch is final: only argus prune removes its files');
END;

CREATE TRIGGER batch_codes_final_insert BEFORE INSERT ON batch_codes
WHEN EXISTS (SELECT 1 FROM batches WHERE batch_id = NEW.batch_id AND status IN ('completed', 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'batch_codes: the batch is final: it takes no more codes');
END;
CREATE TRIGGER batch_codes_final_update BEFORE UPDATE ON batch_codes
WHEN EXISTS (SELECT 1 FROM batches WHERE batch_id IN (OLD.batch_id, NEW.batch_id)
                                     AND status IN ('completed', 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'batch_codes: the batch is final: its codes cannot change');
END;
CREATE TRIGGER batch_codes_final_delete BEFORE DELETE ON batch_codes
WHEN NOT EXISTS (SELECT 1 FROM prune_in_progress)
     AND EXISTS (SELECT 1 FROM batches WHERE batch_id = OLD.batch_id AND status IN ('completed', 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'batch_codes: the batch is final: only argus prune removes its codes');
END;

CREATE TRIGGER uploads_final_update BEFORE UPDATE ON uploads
WHEN EXISTS (SELECT 1 FROM batches WHERE batch_id IN (OLD.batch_id, NEW.batch_id)
                                     AND status IN ('completed', 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'uploads: the batch is final: its uploads cannot change');
END;
CREATE TRIGGER uploads_final_delete BEFORE DELETE ON uploads
WHEN NOT EXISTS (SELECT 1 FROM prune_in_progress)
     AND EXISTS (SELECT 1 FROM batches WHERE batch_id = OLD.batch_id AND status IN ('completed', 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'uploads: the batch is final: only argus prune removes its uploads');
END;

-- File ids are one path segment (see the Postgres migration); NUL is checked on the bytes,
-- as SQLite's text functions stop at the first NUL.
CREATE TRIGGER files_file_id_insert BEFORE INSERT ON files
WHEN NEW.file_id IN ('.', '..') OR instr(NEW.file_id, '/') > 0 OR instr(NEW.file_id, char(92)) > 0
     OR instr(CAST(NEW.file_id AS BLOB), x'00') > 0
BEGIN
    SELECT RAISE(ABORT, 'malformed file id: not . or .., no /, \ or NUL');
END;
CREATE TRIGGER files_file_id_update BEFORE UPDATE OF file_id ON files
WHEN NEW.file_id IN ('.', '..') OR instr(NEW.file_id, '/') > 0 OR instr(NEW.file_id, char(92)) > 0
     OR instr(CAST(NEW.file_id AS BLOB), x'00') > 0
BEGIN
    SELECT RAISE(ABORT, 'malformed file id: not . or .., no /, \ or NUL');
END;
CREATE TRIGGER uploads_file_id_insert BEFORE INSERT ON uploads
WHEN NEW.file_id IN ('.', '..') OR instr(NEW.file_id, '/') > 0 OR instr(NEW.file_id, char(92)) > 0
     OR instr(CAST(NEW.file_id AS BLOB), x'00') > 0
BEGIN
    SELECT RAISE(ABORT, 'malformed file id: not . or .., no /, \ or NUL');
END;
CREATE TRIGGER uploads_file_id_update BEFORE UPDATE OF file_id ON uploads
WHEN NEW.file_id IN ('.', '..') OR instr(NEW.file_id, '/') > 0 OR instr(NEW.file_id, char(92)) > 0
     OR instr(CAST(NEW.file_id AS BLOB), x'00') > 0
BEGIN
    SELECT RAISE(ABORT, 'malformed file id: not . or .., no /, \ or NUL');
END;

-- Rows a batch's final write adds: reports and diagnoses of final batches, postings of
-- completed ones; written once (a second insert would REPLACE), never changed.
CREATE TRIGGER reports_final_insert BEFORE INSERT ON reports
WHEN NOT EXISTS (SELECT 1 FROM batches WHERE batch_id = NEW.batch_id AND status IN ('completed', 'failed'))
     OR EXISTS (SELECT 1 FROM reports WHERE batch_id = NEW.batch_id)
BEGIN
    SELECT RAISE(ABORT, 'reports: only a final batch has a report, written once');
END;
CREATE TRIGGER reports_final_update BEFORE UPDATE ON reports
BEGIN
    SELECT RAISE(ABORT, 'reports: a final batch''s report cannot change');
END;
CREATE TRIGGER reports_final_delete BEFORE DELETE ON reports
WHEN NOT EXISTS (SELECT 1 FROM prune_in_progress)
BEGIN
    SELECT RAISE(ABORT, 'reports: only argus prune removes a report');
END;

CREATE TRIGGER diagnoses_final_insert BEFORE INSERT ON diagnoses
WHEN NOT EXISTS (SELECT 1 FROM batches WHERE batch_id = NEW.batch_id AND status IN ('completed', 'failed'))
     OR EXISTS (SELECT 1 FROM diagnoses WHERE batch_id = NEW.batch_id)
BEGIN
    SELECT RAISE(ABORT, 'diagnoses: only a final batch has a diagnosis, written once');
END;
CREATE TRIGGER diagnoses_final_update BEFORE UPDATE ON diagnoses
BEGIN
    SELECT RAISE(ABORT, 'diagnoses: a final batch''s diagnosis cannot change');
END;
CREATE TRIGGER diagnoses_final_delete BEFORE DELETE ON diagnoses
WHEN NOT EXISTS (SELECT 1 FROM prune_in_progress)
BEGIN
    SELECT RAISE(ABORT, 'diagnoses: only argus prune removes a diagnosis');
END;

CREATE TRIGGER completed_codes_final_insert BEFORE INSERT ON completed_codes
WHEN NOT EXISTS (SELECT 1 FROM batches WHERE batch_id = NEW.batch_id AND status = 'completed')
     OR EXISTS (SELECT 1 FROM completed_codes WHERE batch_id = NEW.batch_id AND code = NEW.code)
BEGIN
    SELECT RAISE(ABORT, 'completed_codes: only a completed batch has postings, written once');
END;
CREATE TRIGGER completed_codes_vin BEFORE INSERT ON completed_codes
WHEN NEW.vin IS NOT NULL AND NOT (length(CAST(NEW.vin AS BLOB)) = 17 AND NEW.vin NOT GLOB '*[^A-HJ-NPR-Z0-9]*')
BEGIN
    SELECT RAISE(ABORT, 'malformed VIN: expected 17 of 0-9 and A-Z except I, O, Q (ISO 3779)');
END;
CREATE TRIGGER completed_codes_final_update BEFORE UPDATE ON completed_codes
BEGIN
    SELECT RAISE(ABORT, 'completed_codes: a completed batch''s postings cannot change');
END;
CREATE TRIGGER completed_codes_final_delete BEFORE DELETE ON completed_codes
WHEN NOT EXISTS (SELECT 1 FROM prune_in_progress)
BEGIN
    SELECT RAISE(ABORT, 'completed_codes: only argus prune removes postings');
END;

-- Kafka positions move forward only (an INSERT OR REPLACE included).
CREATE TRIGGER kafka_offsets_forward_insert BEFORE INSERT ON kafka_offsets
WHEN EXISTS (SELECT 1 FROM kafka_offsets WHERE topic = NEW.topic AND partition_id = NEW.partition_id
                                           AND next_offset > NEW.next_offset)
BEGIN
    SELECT RAISE(ABORT, 'kafka offsets only move forward');
END;
CREATE TRIGGER kafka_offsets_forward_update BEFORE UPDATE ON kafka_offsets
WHEN NEW.next_offset < OLD.next_offset OR NEW.topic IS NOT OLD.topic OR NEW.partition_id IS NOT OLD.partition_id
BEGIN
    SELECT RAISE(ABORT, 'kafka offsets only move forward');
END;
CREATE TRIGGER kafka_offsets_forward_delete BEFORE DELETE ON kafka_offsets
BEGIN
    SELECT RAISE(ABORT, 'kafka offsets only move forward: a position cannot be deleted');
END;

-- Read-only tables: the state machine; the tombstones (prune only inserts, once per id).
CREATE TRIGGER batch_status_transitions_no_insert BEFORE INSERT ON batch_status_transitions
BEGIN
    SELECT RAISE(ABORT, 'batch_status_transitions is read-only');
END;
CREATE TRIGGER batch_status_transitions_no_update BEFORE UPDATE ON batch_status_transitions
BEGIN
    SELECT RAISE(ABORT, 'batch_status_transitions is read-only');
END;
CREATE TRIGGER batch_status_transitions_no_delete BEFORE DELETE ON batch_status_transitions
BEGIN
    SELECT RAISE(ABORT, 'batch_status_transitions is read-only');
END;
CREATE TRIGGER batch_tombstones_once BEFORE INSERT ON batch_tombstones
WHEN EXISTS (SELECT 1 FROM batch_tombstones WHERE batch_id = NEW.batch_id)
BEGIN
    SELECT RAISE(ABORT, 'batch_tombstones are permanent');
END;
CREATE TRIGGER batch_tombstones_no_update BEFORE UPDATE ON batch_tombstones
BEGIN
    SELECT RAISE(ABORT, 'batch_tombstones are permanent');
END;
CREATE TRIGGER batch_tombstones_no_delete BEFORE DELETE ON batch_tombstones
BEGIN
    SELECT RAISE(ABORT, 'batch_tombstones are permanent');
END;

CREATE INDEX batches_final_updated ON batches (updated_at_ms) WHERE status IN ('completed', 'failed');
