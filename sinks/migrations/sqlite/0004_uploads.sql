-- Files uploaded through the API (see the Postgres migration of the same number).
CREATE TABLE uploads (
    batch_id       TEXT NOT NULL REFERENCES batches (batch_id) ON DELETE CASCADE,
    file_id        TEXT NOT NULL CHECK (length(file_id) BETWEEN 1 AND 256),
    name           TEXT NOT NULL CHECK (length(name) > 0),
    bytes          INTEGER NOT NULL CHECK (bytes >= 0),
    sha256         TEXT NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    uri            TEXT NOT NULL CHECK (length(uri) > 0),
    uploaded_at_ms INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    PRIMARY KEY (batch_id, file_id)
) STRICT;

CREATE TRIGGER uploads_pending_only BEFORE INSERT ON uploads
WHEN (SELECT status FROM batches WHERE batch_id = NEW.batch_id) IS NOT 'pending'
BEGIN
    SELECT RAISE(ABORT, 'batch is not pending: it takes no more files');
END;

CREATE TRIGGER files_sha256_from_upload AFTER INSERT ON files
WHEN NEW.sha256 IS NULL AND EXISTS (SELECT 1 FROM uploads
                                    WHERE batch_id = NEW.batch_id AND file_id = NEW.file_id)
BEGIN
    UPDATE files SET sha256 = (SELECT sha256 FROM uploads
                               WHERE batch_id = NEW.batch_id AND file_id = NEW.file_id)
    WHERE batch_id = NEW.batch_id AND file_id = NEW.file_id;
END;
