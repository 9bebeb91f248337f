-- Each VIN's latest record time per (firmware, code), so that a window reaching past the
-- firmware's latest batch ("the last 90 days") counts a code's distinct VINs as the VINs
-- seen since the window's start: one index range of this table, instead of a distinct
-- count over every batch of the window (sinks/src/store/fleet_firmware.rs). NULL while
-- none of the VIN's batches has a record.
ALTER TABLE firmware_code_vins ADD COLUMN last_ts_ns BIGINT;

UPDATE firmware_code_vins v SET last_ts_ns = m.last_ts_ns
FROM (SELECT firmware, code, vin, MAX(last_ts_ns) AS last_ts_ns FROM completed_codes
      WHERE firmware IS NOT NULL AND vin IS NOT NULL GROUP BY 1, 2, 3) m
WHERE v.firmware = m.firmware AND v.code = m.code AND v.vin = m.vin;

CREATE INDEX firmware_code_vins_last_seen ON firmware_code_vins (firmware, code, last_ts_ns);

-- Kept by triggers named to fire after migration 0009's (Postgres fires a table's
-- triggers for one event in name order): the row exists on insert, and on delete it is
-- already decremented or gone. A delete of the VIN's latest batch looks the new latest up
-- among the rows left (an AFTER trigger sees the statement's deletes).
CREATE FUNCTION argus_firmware_code_vins_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE firmware_code_vins SET last_ts_ns = GREATEST(last_ts_ns, NEW.last_ts_ns)
    WHERE firmware = NEW.firmware AND code = NEW.code AND vin = NEW.vin;
    RETURN NULL;
END
$$;

CREATE FUNCTION argus_firmware_code_vins_unseen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE firmware_code_vins SET last_ts_ns = (
        SELECT MAX(c.last_ts_ns) FROM completed_codes c
        WHERE c.vin = OLD.vin AND c.firmware = OLD.firmware AND c.code = OLD.code)
    WHERE firmware = OLD.firmware AND code = OLD.code AND vin = OLD.vin AND last_ts_ns = OLD.last_ts_ns;
    RETURN NULL;
END
$$;

CREATE TRIGGER completed_codes_firmware_vins_seen AFTER INSERT ON completed_codes FOR EACH ROW
    WHEN (NEW.firmware IS NOT NULL AND NEW.vin IS NOT NULL AND NEW.last_ts_ns IS NOT NULL)
    EXECUTE FUNCTION argus_firmware_code_vins_seen();
CREATE TRIGGER completed_codes_firmware_vins_unseen AFTER DELETE ON completed_codes FOR EACH ROW
    WHEN (OLD.firmware IS NOT NULL AND OLD.vin IS NOT NULL AND OLD.last_ts_ns IS NOT NULL)
    EXECUTE FUNCTION argus_firmware_code_vins_unseen();
