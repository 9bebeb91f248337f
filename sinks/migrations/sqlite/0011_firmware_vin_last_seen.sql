-- Each VIN's latest record time per (firmware, code) (see the Postgres migration of the
-- same number). SQLite does not promise an order among a table's triggers for one event,
-- so these work in either order with migration 0009's: the insert trigger creates the
-- row as 0009's does (that one then counts the batch), and on delete a row already gone
-- is not updated. A multi-row delete fires row by row: each delete of the stored latest
-- looks it up again among the rows left, so the last one to go leaves the right value.
ALTER TABLE firmware_code_vins ADD COLUMN last_ts_ns INTEGER;

UPDATE firmware_code_vins SET last_ts_ns = m.last_ts_ns
FROM (SELECT firmware, code, vin, MAX(last_ts_ns) AS last_ts_ns FROM completed_codes
      WHERE firmware IS NOT NULL AND vin IS NOT NULL GROUP BY 1, 2, 3) AS m
WHERE firmware_code_vins.firmware = m.firmware AND firmware_code_vins.code = m.code
  AND firmware_code_vins.vin = m.vin;

CREATE INDEX firmware_code_vins_last_seen ON firmware_code_vins (firmware, code, last_ts_ns);

CREATE TRIGGER completed_codes_firmware_vins_seen AFTER INSERT ON completed_codes
WHEN NEW.firmware IS NOT NULL AND NEW.vin IS NOT NULL AND NEW.last_ts_ns IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO firmware_code_vins (firmware, code, vin, batches)
    VALUES (NEW.firmware, NEW.code, NEW.vin, 0);
    UPDATE firmware_code_vins SET last_ts_ns = NEW.last_ts_ns
    WHERE firmware = NEW.firmware AND code = NEW.code AND vin = NEW.vin
      AND (last_ts_ns IS NULL OR last_ts_ns < NEW.last_ts_ns);
END;

CREATE TRIGGER completed_codes_firmware_vins_unseen AFTER DELETE ON completed_codes
WHEN OLD.firmware IS NOT NULL AND OLD.vin IS NOT NULL AND OLD.last_ts_ns IS NOT NULL
BEGIN
    UPDATE firmware_code_vins SET last_ts_ns = (
        SELECT MAX(c.last_ts_ns) FROM completed_codes c
        WHERE c.vin = OLD.vin AND c.firmware = OLD.firmware AND c.code = OLD.code)
    WHERE firmware = OLD.firmware AND code = OLD.code AND vin = OLD.vin AND last_ts_ns = OLD.last_ts_ns;
END;
