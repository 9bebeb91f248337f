-- Files uploaded through the API (two-phase upload): a row is written once the file's
-- bytes are complete in the object store, and only while its batch is `pending`; the
-- SQLite migration of the same number has the same table, checks and triggers.
CREATE TABLE uploads (
    batch_id       TEXT NOT NULL REFERENCES batches (batch_id) ON DELETE CASCADE,
    file_id        TEXT NOT NULL CHECK (length(file_id) BETWEEN 1 AND 256),
    name           TEXT NOT NULL CHECK (length(name) > 0),
    bytes          BIGINT NOT NULL CHECK (bytes >= 0),
    sha256         TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    uri            TEXT NOT NULL CHECK (length(uri) > 0),
    uploaded_at_ms BIGINT NOT NULL DEFAULT argus_now_ms(),
    PRIMARY KEY (batch_id, file_id)
);

-- A batch takes files only while it is pending: `complete` closes it.
CREATE FUNCTION argus_upload_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT status FROM batches WHERE batch_id = NEW.batch_id) IS DISTINCT FROM 'pending' THEN
        RAISE EXCEPTION 'batch % is not pending: it takes no more files', NEW.batch_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER uploads_pending_only BEFORE INSERT ON uploads
    FOR EACH ROW EXECUTE FUNCTION argus_upload_guard();

-- The report writer does not know digests: a file row written without one takes the
-- upload's (replayed files, which were never uploaded, keep NULL).
CREATE FUNCTION argus_files_sha256_from_upload() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE files SET sha256 = u.sha256 FROM uploads u
    WHERE files.batch_id = NEW.batch_id AND files.file_id = NEW.file_id
      AND u.batch_id = NEW.batch_id AND u.file_id = NEW.file_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER files_sha256_from_upload AFTER INSERT ON files
    FOR EACH ROW WHEN (NEW.sha256 IS NULL) EXECUTE FUNCTION argus_files_sha256_from_upload();
