-- Day and all-time rollups per firmware, so that a fleet query filtered by firmware reads one row per
-- (day, code) of its window instead of one per (batch, code): its cost follows the
-- window's days, not the fleet's history (sinks/README.md, "Reads at fleet scale").
-- A day is UTC: `last_ts_ns / 86400e9`; a batch with no record has no day and counts at
-- day -1, which no window's full days include (windows start at 0).
-- Triggers keep both tables equal to what they sum, in the transaction that changes the
-- summed rows: the final write of a completed batch adds, `argus prune` subtracts (a
-- final batch never changes otherwise, migration 0006).

CREATE FUNCTION argus_day(ts_ns BIGINT) RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(ts_ns / 86400000000000, -1)
$$;

-- Completed batches per (firmware, day): the totals of the fleet query.
CREATE TABLE firmware_days (
    firmware     TEXT COLLATE "C" NOT NULL,
    day          BIGINT NOT NULL,
    batches      BIGINT NOT NULL CHECK (batches > 0),
    records      BIGINT NOT NULL CHECK (records >= 0),
    error_events BIGINT NOT NULL CHECK (error_events >= 0),
    PRIMARY KEY (firmware, day)
);

-- Events and batches per (firmware, day, code) over `completed_codes`.
CREATE TABLE firmware_code_days (
    firmware TEXT COLLATE "C" NOT NULL,
    day      BIGINT NOT NULL,
    code     TEXT COLLATE "C" NOT NULL,
    events   BIGINT NOT NULL CHECK (events > 0),
    batches  BIGINT NOT NULL CHECK (batches > 0),
    -- Covering, so that a window's days are one index-only range (the rows of a firmware
    -- and day are not together in the heap).
    PRIMARY KEY (firmware, day, code) INCLUDE (events, batches)
);

-- Distinct VINs do not add up over days: they are counted for the top codes only, from
-- `completed_codes` through this index (one range per code and window).
CREATE INDEX completed_codes_firmware_code ON completed_codes (firmware, code, last_ts_ns) INCLUDE (vin)
    WHERE firmware IS NOT NULL;

INSERT INTO firmware_days (firmware, day, batches, records, error_events)
SELECT firmware, argus_day(last_ts_ns), COUNT(*), SUM(records), SUM(error_events)
FROM batches WHERE status = 'completed' AND firmware IS NOT NULL
GROUP BY 1, 2;

INSERT INTO firmware_code_days (firmware, day, code, events, batches)
SELECT firmware, argus_day(last_ts_ns), code, SUM(events), COUNT(*)
FROM completed_codes WHERE firmware IS NOT NULL
GROUP BY 1, 2, 3;

CREATE FUNCTION argus_firmware_days_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO firmware_days (firmware, day, batches, records, error_events)
    VALUES (NEW.firmware, argus_day(NEW.last_ts_ns), 1, NEW.records, NEW.error_events)
    ON CONFLICT (firmware, day) DO UPDATE SET
        batches = firmware_days.batches + 1,
        records = firmware_days.records + excluded.records,
        error_events = firmware_days.error_events + excluded.error_events;
    RETURN NULL;
END
$$;

CREATE FUNCTION argus_firmware_days_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE firmware_days SET
        batches = batches - 1, records = records - OLD.records, error_events = error_events - OLD.error_events
    WHERE firmware = OLD.firmware AND day = argus_day(OLD.last_ts_ns) AND batches > 1;
    IF NOT FOUND THEN
        DELETE FROM firmware_days WHERE firmware = OLD.firmware AND day = argus_day(OLD.last_ts_ns);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER batches_firmware_days_insert AFTER INSERT ON batches FOR EACH ROW
    WHEN (NEW.status = 'completed' AND NEW.firmware IS NOT NULL)
    EXECUTE FUNCTION argus_firmware_days_add();
CREATE TRIGGER batches_firmware_days_complete AFTER UPDATE OF status ON batches FOR EACH ROW
    WHEN (OLD.status <> 'completed' AND NEW.status = 'completed' AND NEW.firmware IS NOT NULL)
    EXECUTE FUNCTION argus_firmware_days_add();
CREATE TRIGGER batches_firmware_days_prune AFTER DELETE ON batches FOR EACH ROW
    WHEN (OLD.status = 'completed' AND OLD.firmware IS NOT NULL)
    EXECUTE FUNCTION argus_firmware_days_subtract();

CREATE FUNCTION argus_firmware_code_days_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO firmware_code_days (firmware, day, code, events, batches)
    VALUES (NEW.firmware, argus_day(NEW.last_ts_ns), NEW.code, NEW.events, 1)
    ON CONFLICT (firmware, day, code) DO UPDATE SET
        events = firmware_code_days.events + excluded.events,
        batches = firmware_code_days.batches + 1;
    RETURN NULL;
END
$$;

CREATE FUNCTION argus_firmware_code_days_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE firmware_code_days SET events = events - OLD.events, batches = batches - 1
    WHERE firmware = OLD.firmware AND day = argus_day(OLD.last_ts_ns) AND code = OLD.code AND batches > 1;
    IF NOT FOUND THEN
        DELETE FROM firmware_code_days
        WHERE firmware = OLD.firmware AND day = argus_day(OLD.last_ts_ns) AND code = OLD.code;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER completed_codes_firmware_insert AFTER INSERT ON completed_codes FOR EACH ROW
    WHEN (NEW.firmware IS NOT NULL)
    EXECUTE FUNCTION argus_firmware_code_days_add();
CREATE TRIGGER completed_codes_firmware_prune AFTER DELETE ON completed_codes FOR EACH ROW
    WHEN (OLD.firmware IS NOT NULL)
    EXECUTE FUNCTION argus_firmware_code_days_subtract();

-- All time per (firmware, code), distinct VINs included: the unwindowed firmware query
-- reads one row per code. `firmware_code_vins` counts each VIN's batches per
-- (firmware, code), so that a VIN is counted once and uncounted with its last batch.
CREATE TABLE firmware_codes (
    firmware TEXT COLLATE "C" NOT NULL,
    code     TEXT COLLATE "C" NOT NULL,
    events   BIGINT NOT NULL CHECK (events > 0),
    batches  BIGINT NOT NULL CHECK (batches > 0),
    vins     BIGINT NOT NULL CHECK (vins >= 0),
    PRIMARY KEY (firmware, code)
);
CREATE INDEX firmware_codes_top ON firmware_codes (firmware, events DESC, code) INCLUDE (batches, vins);

CREATE TABLE firmware_code_vins (
    firmware TEXT COLLATE "C" NOT NULL,
    code     TEXT COLLATE "C" NOT NULL,
    vin      TEXT NOT NULL,
    batches  BIGINT NOT NULL CHECK (batches > 0),
    PRIMARY KEY (firmware, code, vin)
);

INSERT INTO firmware_code_vins (firmware, code, vin, batches)
SELECT firmware, code, vin, COUNT(*) FROM completed_codes
WHERE firmware IS NOT NULL AND vin IS NOT NULL GROUP BY 1, 2, 3;

INSERT INTO firmware_codes (firmware, code, events, batches, vins)
SELECT firmware, code, SUM(events), COUNT(*), COUNT(DISTINCT vin) FROM completed_codes
WHERE firmware IS NOT NULL GROUP BY 1, 2;

CREATE FUNCTION argus_firmware_codes_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    vin_batches BIGINT := 0;
BEGIN
    IF NEW.vin IS NOT NULL THEN
        INSERT INTO firmware_code_vins (firmware, code, vin, batches) VALUES (NEW.firmware, NEW.code, NEW.vin, 1)
        ON CONFLICT (firmware, code, vin) DO UPDATE SET batches = firmware_code_vins.batches + 1
        RETURNING batches INTO vin_batches;
    END IF;
    INSERT INTO firmware_codes (firmware, code, events, batches, vins)
    VALUES (NEW.firmware, NEW.code, NEW.events, 1, CASE WHEN vin_batches = 1 THEN 1 ELSE 0 END)
    ON CONFLICT (firmware, code) DO UPDATE SET
        events = firmware_codes.events + excluded.events,
        batches = firmware_codes.batches + 1,
        vins = firmware_codes.vins + excluded.vins;
    RETURN NULL;
END
$$;

CREATE FUNCTION argus_firmware_codes_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    vin_gone INTEGER := 0;
BEGIN
    IF OLD.vin IS NOT NULL THEN
        UPDATE firmware_code_vins SET batches = batches - 1
        WHERE firmware = OLD.firmware AND code = OLD.code AND vin = OLD.vin AND batches > 1;
        IF NOT FOUND THEN
            DELETE FROM firmware_code_vins WHERE firmware = OLD.firmware AND code = OLD.code AND vin = OLD.vin;
            vin_gone := 1;
        END IF;
    END IF;
    UPDATE firmware_codes SET events = events - OLD.events, batches = batches - 1, vins = vins - vin_gone
    WHERE firmware = OLD.firmware AND code = OLD.code AND batches > 1;
    IF NOT FOUND THEN
        DELETE FROM firmware_codes WHERE firmware = OLD.firmware AND code = OLD.code;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER completed_codes_firmware_all_time_insert AFTER INSERT ON completed_codes FOR EACH ROW
    WHEN (NEW.firmware IS NOT NULL)
    EXECUTE FUNCTION argus_firmware_codes_add();
CREATE TRIGGER completed_codes_firmware_all_time_prune AFTER DELETE ON completed_codes FOR EACH ROW
    WHEN (OLD.firmware IS NOT NULL)
    EXECUTE FUNCTION argus_firmware_codes_subtract();
