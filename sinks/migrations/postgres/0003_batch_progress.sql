-- Progress while a batch is gathered: how many of its files are parsed, of how many.
-- The pipeline's progress writer raises `files_parsed` as files finish (best effort, never
-- backwards); the batch's final write sets both to what its report holds. `file_count` is
-- NULL until the pipeline (or the upload API) knows it.
ALTER TABLE batches ADD COLUMN file_count INTEGER CHECK (file_count >= 0);
ALTER TABLE batches ADD COLUMN files_parsed INTEGER NOT NULL DEFAULT 0 CHECK (files_parsed >= 0);
ALTER TABLE batches ADD CONSTRAINT batches_files_parsed_le_count
    CHECK (file_count IS NULL OR files_parsed <= file_count);
