-- Day rollups per firmware (see the Postgres migration of the same number). A day is
-- `last_ts_ns / 86400e9` (integer division), -1 for a batch with no record. The triggers
-- insert a zero row if missing, then add: the same effect as an upsert, in the form every
-- SQLite version takes inside a trigger.

CREATE TABLE firmware_days (
    firmware     TEXT NOT NULL,
    day          INTEGER NOT NULL,
    batches      INTEGER NOT NULL CHECK (batches >= 0),
    records      INTEGER NOT NULL CHECK (records >= 0),
    error_events INTEGER NOT NULL CHECK (error_events >= 0),
    PRIMARY KEY (firmware, day)
) STRICT, WITHOUT ROWID;

CREATE TABLE firmware_code_days (
    firmware TEXT NOT NULL,
    day      INTEGER NOT NULL,
    code     TEXT NOT NULL,
    events   INTEGER NOT NULL CHECK (events >= 0),
    batches  INTEGER NOT NULL CHECK (batches >= 0),
    PRIMARY KEY (firmware, day, code)
) STRICT, WITHOUT ROWID;

CREATE INDEX completed_codes_firmware_code ON completed_codes (firmware, code, last_ts_ns, vin)
    WHERE firmware IS NOT NULL;

INSERT INTO firmware_days (firmware, day, batches, records, error_events)
SELECT firmware, COALESCE(last_ts_ns / 86400000000000, -1), COUNT(*), SUM(records), SUM(error_events)
FROM batches WHERE status = 'completed' AND firmware IS NOT NULL
GROUP BY 1, 2;

INSERT INTO firmware_code_days (firmware, day, code, events, batches)
SELECT firmware, COALESCE(last_ts_ns / 86400000000000, -1), code, SUM(events), COUNT(*)
FROM completed_codes WHERE firmware IS NOT NULL
GROUP BY 1, 2, 3;

CREATE TRIGGER batches_firmware_days_insert AFTER INSERT ON batches
WHEN NEW.status = 'completed' AND NEW.firmware IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO firmware_days (firmware, day, batches, records, error_events)
    VALUES (NEW.firmware, COALESCE(NEW.last_ts_ns / 86400000000000, -1), 0, 0, 0);
    UPDATE firmware_days SET batches = batches + 1, records = records + NEW.records,
        error_events = error_events + NEW.error_events
    WHERE firmware = NEW.firmware AND day = COALESCE(NEW.last_ts_ns / 86400000000000, -1);
END;

CREATE TRIGGER batches_firmware_days_complete AFTER UPDATE OF status ON batches
WHEN OLD.status <> 'completed' AND NEW.status = 'completed' AND NEW.firmware IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO firmware_days (firmware, day, batches, records, error_events)
    VALUES (NEW.firmware, COALESCE(NEW.last_ts_ns / 86400000000000, -1), 0, 0, 0);
    UPDATE firmware_days SET batches = batches + 1, records = records + NEW.records,
        error_events = error_events + NEW.error_events
    WHERE firmware = NEW.firmware AND day = COALESCE(NEW.last_ts_ns / 86400000000000, -1);
END;

CREATE TRIGGER batches_firmware_days_prune AFTER DELETE ON batches
WHEN OLD.status = 'completed' AND OLD.firmware IS NOT NULL
BEGIN
    UPDATE firmware_days SET batches = batches - 1, records = records - OLD.records,
        error_events = error_events - OLD.error_events
    WHERE firmware = OLD.firmware AND day = COALESCE(OLD.last_ts_ns / 86400000000000, -1);
    DELETE FROM firmware_days
    WHERE firmware = OLD.firmware AND day = COALESCE(OLD.last_ts_ns / 86400000000000, -1) AND batches = 0;
END;

CREATE TRIGGER completed_codes_firmware_insert AFTER INSERT ON completed_codes
WHEN NEW.firmware IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO firmware_code_days (firmware, day, code, events, batches)
    VALUES (NEW.firmware, COALESCE(NEW.last_ts_ns / 86400000000000, -1), NEW.code, 0, 0);
    UPDATE firmware_code_days SET events = events + NEW.events, batches = batches + 1
    WHERE firmware = NEW.firmware AND day = COALESCE(NEW.last_ts_ns / 86400000000000, -1) AND code = NEW.code;
END;

CREATE TRIGGER completed_codes_firmware_prune AFTER DELETE ON completed_codes
WHEN OLD.firmware IS NOT NULL
BEGIN
    UPDATE firmware_code_days SET events = events - OLD.events, batches = batches - 1
    WHERE firmware = OLD.firmware AND day = COALESCE(OLD.last_ts_ns / 86400000000000, -1) AND code = OLD.code;
    DELETE FROM firmware_code_days
    WHERE firmware = OLD.firmware AND day = COALESCE(OLD.last_ts_ns / 86400000000000, -1)
      AND code = OLD.code AND batches = 0;
END;

-- All time per (firmware, code), distinct VINs included, and each VIN's batches per
-- (firmware, code) (see the Postgres migration). A VIN counts when its row reaches one
-- batch, and stops counting when its row is removed.
CREATE TABLE firmware_codes (
    firmware TEXT NOT NULL,
    code     TEXT NOT NULL,
    events   INTEGER NOT NULL CHECK (events >= 0),
    batches  INTEGER NOT NULL CHECK (batches >= 0),
    vins     INTEGER NOT NULL CHECK (vins >= 0),
    PRIMARY KEY (firmware, code)
) STRICT, WITHOUT ROWID;
CREATE INDEX firmware_codes_top ON firmware_codes (firmware, events DESC, code, batches, vins);

CREATE TABLE firmware_code_vins (
    firmware TEXT NOT NULL,
    code     TEXT NOT NULL,
    vin      TEXT NOT NULL,
    batches  INTEGER NOT NULL CHECK (batches >= 0),
    PRIMARY KEY (firmware, code, vin)
) STRICT, WITHOUT ROWID;

INSERT INTO firmware_code_vins (firmware, code, vin, batches)
SELECT firmware, code, vin, COUNT(*) FROM completed_codes
WHERE firmware IS NOT NULL AND vin IS NOT NULL GROUP BY 1, 2, 3;

INSERT INTO firmware_codes (firmware, code, events, batches, vins)
SELECT firmware, code, SUM(events), COUNT(*), COUNT(DISTINCT vin) FROM completed_codes
WHERE firmware IS NOT NULL GROUP BY 1, 2;

CREATE TRIGGER completed_codes_firmware_all_time_insert AFTER INSERT ON completed_codes
WHEN NEW.firmware IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO firmware_code_vins (firmware, code, vin, batches)
    SELECT NEW.firmware, NEW.code, NEW.vin, 0 WHERE NEW.vin IS NOT NULL;
    UPDATE firmware_code_vins SET batches = batches + 1
    WHERE firmware = NEW.firmware AND code = NEW.code AND vin = NEW.vin;
    INSERT OR IGNORE INTO firmware_codes (firmware, code, events, batches, vins)
    VALUES (NEW.firmware, NEW.code, 0, 0, 0);
    UPDATE firmware_codes SET events = events + NEW.events, batches = batches + 1,
        vins = vins + (SELECT COUNT(*) FROM firmware_code_vins
                       WHERE firmware = NEW.firmware AND code = NEW.code AND vin = NEW.vin AND batches = 1)
    WHERE firmware = NEW.firmware AND code = NEW.code;
END;

CREATE TRIGGER completed_codes_firmware_all_time_prune AFTER DELETE ON completed_codes
WHEN OLD.firmware IS NOT NULL
BEGIN
    UPDATE firmware_codes SET events = events - OLD.events, batches = batches - 1,
        vins = vins - (SELECT COUNT(*) FROM firmware_code_vins
                       WHERE firmware = OLD.firmware AND code = OLD.code AND vin = OLD.vin AND batches = 1)
    WHERE firmware = OLD.firmware AND code = OLD.code;
    DELETE FROM firmware_codes WHERE firmware = OLD.firmware AND code = OLD.code AND batches = 0;
    UPDATE firmware_code_vins SET batches = batches - 1
    WHERE firmware = OLD.firmware AND code = OLD.code AND vin = OLD.vin;
    DELETE FROM firmware_code_vins
    WHERE firmware = OLD.firmware AND code = OLD.code AND vin = OLD.vin AND batches = 0;
END;
