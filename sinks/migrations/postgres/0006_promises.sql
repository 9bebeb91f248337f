-- The database keeps its promises, whoever writes to it (sinks/README.md, "What the
-- database refuses"); the SQLite migration of the same number makes the same refusals.
--   * A final batch (`completed`, `failed`) is immutable: its row, files, codes, report,
--     diagnosis, postings and uploads take no UPDATE, no new row and no DELETE, except the
--     DELETE of `argus prune`, which leaves a tombstone: a pruned id never comes back.
--   * Reports and diagnoses exist only for final batches, postings only for completed ones.
--   * Kafka positions only move forward; the transitions table is read-only.
--   * VINs have the ISO 3779 shape; file ids are one path segment.
-- Every refusal raises SQLSTATE 23514 (check_violation), as the status trigger does, so
-- that the Rust side tells a refused write from a failure (StoreError::is_constraint_violation).

-- Whether this transaction is `argus prune`'s: it sets `argus.pruning` to `on` for the
-- transaction only (`set_config(..., true)`), so the setting dies with it.
CREATE FUNCTION argus_pruning() RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('argus.pruning', true), '') = 'on'
$$;

CREATE FUNCTION argus_refuse(message TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', message USING ERRCODE = 'check_violation';
END
$$;

-- The ids `argus prune` removed. A tombstone is permanent.
CREATE TABLE batch_tombstones (
    batch_id     TEXT PRIMARY KEY,
    pruned_at_ms BIGINT NOT NULL DEFAULT argus_now_ms()
);

-- Batches that were in flight with a VIN the new check refuses lose it (their files'
-- VIN reaches the report anyway); final batches keep theirs, unchecked (NOT VALID below).
UPDATE batches SET vin = NULL
WHERE vin !~ '^[A-HJ-NPR-Z0-9]{17}$' AND status NOT IN ('completed', 'failed');

-- ISO 3779: 17 characters, digits and capitals except I, O and Q. Checked on every row
-- written from now on; NOT VALID spares rows an older version stored.
ALTER TABLE batches ADD CONSTRAINT batches_vin_iso_3779
    CHECK (vin ~ '^[A-HJ-NPR-Z0-9]{17}$') NOT VALID;
ALTER TABLE completed_codes ADD CONSTRAINT completed_codes_vin_iso_3779
    CHECK (vin ~ '^[A-HJ-NPR-Z0-9]{17}$') NOT VALID;

-- A file id names one object under its batch: never `.` or `..`, no separator (`/`, and
-- `\` = chr(92)); non-empty already. PostgreSQL text cannot hold NUL. The same rule as
-- the file-ready event's (ingest/src/event.rs) and the upload API's.
ALTER TABLE files ADD CONSTRAINT files_file_id_one_segment
    CHECK (file_id NOT IN ('.', '..') AND strpos(file_id, '/') = 0 AND strpos(file_id, chr(92)) = 0) NOT VALID;
ALTER TABLE uploads ADD CONSTRAINT uploads_file_id_one_segment
    CHECK (file_id NOT IN ('.', '..') AND strpos(file_id, '/') = 0 AND strpos(file_id, chr(92)) = 0) NOT VALID;

-- Batches: no tombstoned id inserted; a final row neither updated nor deleted (prune aside).
CREATE FUNCTION argus_batch_final_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM batch_tombstones WHERE batch_id = NEW.batch_id) THEN
            PERFORM argus_refuse(format('batch %s was pruned: its id cannot be used again', NEW.batch_id));
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status IN ('completed', 'failed') THEN
        IF TG_OP = 'DELETE' AND argus_pruning() THEN
            RETURN OLD;
        END IF;
        PERFORM argus_refuse(format('batch %s is %s: a final batch cannot change (only argus prune removes it)',
                                    OLD.batch_id, OLD.status));
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER batches_final_guard BEFORE INSERT OR UPDATE OR DELETE ON batches
    FOR EACH ROW EXECUTE FUNCTION argus_batch_final_guard();

-- Rows written while a batch is open (files, batch_codes, uploads): none is added,
-- changed or removed once the batch is final (prune aside).
CREATE FUNCTION argus_open_batch_rows_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids TEXT[];
    final_batch RECORD;
BEGIN
    IF TG_OP = 'INSERT' THEN
        ids := ARRAY[NEW.batch_id];
    ELSIF TG_OP = 'UPDATE' THEN
        ids := ARRAY[OLD.batch_id, NEW.batch_id];
    ELSIF argus_pruning() THEN
        RETURN OLD;
    ELSE
        ids := ARRAY[OLD.batch_id];
    END IF;
    SELECT batch_id, status INTO final_batch FROM batches
    WHERE batch_id = ANY (ids) AND status IN ('completed', 'failed') LIMIT 1;
    IF FOUND THEN
        PERFORM argus_refuse(format('%s: batch %s is %s: a final batch cannot change',
                                    TG_TABLE_NAME, final_batch.batch_id, final_batch.status));
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER files_final_guard BEFORE INSERT OR UPDATE OR DELETE ON files
    FOR EACH ROW EXECUTE FUNCTION argus_open_batch_rows_guard();
CREATE TRIGGER batch_codes_final_guard BEFORE INSERT OR UPDATE OR DELETE ON batch_codes
    FOR EACH ROW EXECUTE FUNCTION argus_open_batch_rows_guard();
CREATE TRIGGER uploads_final_guard BEFORE UPDATE OR DELETE ON uploads
    FOR EACH ROW EXECUTE FUNCTION argus_open_batch_rows_guard();

-- Rows that a batch's final write adds (reports, diagnoses, completed_codes): only for a
-- batch in one of the statuses given as trigger arguments, never changed, removed only by
-- prune. The write flips the status before it adds them (store/write.rs).
CREATE FUNCTION argus_final_batch_rows_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch_status TEXT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT status INTO batch_status FROM batches WHERE batch_id = NEW.batch_id;
        IF batch_status IS NULL OR NOT batch_status = ANY (TG_ARGV) THEN
            PERFORM argus_refuse(format('%s: batch %s is %s, not %s', TG_TABLE_NAME, NEW.batch_id,
                                        coalesce(batch_status, 'missing'), array_to_string(TG_ARGV, ' or ')));
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' AND argus_pruning() THEN
        RETURN OLD;
    END IF;
    PERFORM argus_refuse(format('%s of batch %s cannot change: the batch is final', TG_TABLE_NAME, OLD.batch_id));
    RETURN NULL;
END
$$;
CREATE TRIGGER reports_final_guard BEFORE INSERT OR UPDATE OR DELETE ON reports
    FOR EACH ROW EXECUTE FUNCTION argus_final_batch_rows_guard('completed', 'failed');
CREATE TRIGGER diagnoses_final_guard BEFORE INSERT OR UPDATE OR DELETE ON diagnoses
    FOR EACH ROW EXECUTE FUNCTION argus_final_batch_rows_guard('completed', 'failed');
CREATE TRIGGER completed_codes_final_guard BEFORE INSERT OR UPDATE OR DELETE ON completed_codes
    FOR EACH ROW EXECUTE FUNCTION argus_final_batch_rows_guard('completed');

-- Kafka positions move forward only: no step back, no move to another partition, no
-- delete (forgetting a position is moving it back to the start).
CREATE FUNCTION argus_offset_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM argus_refuse(format('kafka offset %s/%s cannot be deleted: offsets only move forward',
                                    OLD.topic, OLD.partition_id));
    ELSIF NEW.topic <> OLD.topic OR NEW.partition_id <> OLD.partition_id OR NEW.next_offset < OLD.next_offset THEN
        PERFORM argus_refuse(format('kafka offset %s/%s cannot move from %s back to %s',
                                    OLD.topic, OLD.partition_id, OLD.next_offset, NEW.next_offset));
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER kafka_offsets_forward_only BEFORE UPDATE OR DELETE ON kafka_offsets
    FOR EACH ROW EXECUTE FUNCTION argus_offset_guard();

-- Tables no statement may edit: the state machine, and the tombstones (which prune only
-- inserts into).
CREATE FUNCTION argus_read_only_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM argus_refuse(format('%s is read-only: %s refused', TG_TABLE_NAME, TG_OP));
    RETURN NULL;
END
$$;
CREATE TRIGGER batch_status_transitions_read_only
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON batch_status_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION argus_read_only_guard();
CREATE TRIGGER batch_tombstones_permanent BEFORE UPDATE OR DELETE OR TRUNCATE ON batch_tombstones
    FOR EACH STATEMENT EXECUTE FUNCTION argus_read_only_guard();

-- TRUNCATE skips row triggers: it is refused on every table holding final batches' rows
-- and on the offsets.
CREATE TRIGGER batches_no_truncate BEFORE TRUNCATE ON batches
    FOR EACH STATEMENT EXECUTE FUNCTION argus_read_only_guard();
CREATE TRIGGER files_no_truncate BEFORE TRUNCATE ON files
    FOR EACH STATEMENT EXECUTE FUNCTION argus_read_only_guard();
CREATE TRIGGER batch_codes_no_truncate BEFORE TRUNCATE ON batch_codes
    FOR EACH STATEMENT EXECUTE FUNCTION argus_read_only_guard();
CREATE TRIGGER uploads_no_truncate BEFORE TRUNCATE ON uploads
    FOR EACH STATEMENT EXECUTE FUNCTION argus_read_only_guard();
CREATE TRIGGER reports_no_truncate BEFORE TRUNCATE ON reports
    FOR EACH STATEMENT EXECUTE FUNCTION argus_read_only_guard();
CREATE TRIGGER diagnoses_no_truncate BEFORE TRUNCATE ON diagnoses
    FOR EACH STATEMENT EXECUTE FUNCTION argus_read_only_guard();
CREATE TRIGGER completed_codes_no_truncate BEFORE TRUNCATE ON completed_codes
    FOR EACH STATEMENT EXECUTE FUNCTION argus_read_only_guard();
CREATE TRIGGER kafka_offsets_no_truncate BEFORE TRUNCATE ON kafka_offsets
    FOR EACH STATEMENT EXECUTE FUNCTION argus_read_only_guard();

-- What prune looks for: final batches by the time they became final.
CREATE INDEX batches_final_updated ON batches (updated_at_ms) WHERE status IN ('completed', 'failed');
