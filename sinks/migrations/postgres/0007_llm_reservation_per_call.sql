-- One budget reservation per LLM call, not per batch. A batch retried after a crash, or
-- a transient error retried, calls the LLM again: each call is reserved before it is made
-- and settled with its real usage, so that the day's charge bounds what was really spent.
-- A reservation left open by a crash stays charged at its estimate (the call may have
-- been made). Existing rows are each batch's first call.
ALTER TABLE llm_reservations ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1);
ALTER TABLE llm_reservations ALTER COLUMN attempt DROP DEFAULT;
ALTER TABLE llm_reservations DROP CONSTRAINT llm_reservations_pkey;
ALTER TABLE llm_reservations ADD PRIMARY KEY (batch_id, attempt);
