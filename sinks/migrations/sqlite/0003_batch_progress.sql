-- Progress while a batch is gathered (see the Postgres migration of the same number).
-- SQLite cannot add a table constraint to an existing table; the column checks carry it.
ALTER TABLE batches ADD COLUMN file_count INTEGER CHECK (file_count >= 0);
ALTER TABLE batches ADD COLUMN files_parsed INTEGER NOT NULL DEFAULT 0
    CHECK (files_parsed >= 0 AND (file_count IS NULL OR files_parsed <= file_count));
