-- The event log's key ledger: one row per event id, and one per (profile, stream version).
-- The event table itself is partitioned by time, and neither native partitioning nor
-- TimescaleDB can enforce a uniqueness that does not include the time column; this ledger
-- does, so a repeated event is dropped and a diverging one is refused.
CREATE TABLE IF NOT EXISTS core_event_ids (
    event_id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    profile_id text NOT NULL,
    stream_version bigint NOT NULL CHECK (stream_version > 0),
    occurred_at timestamptz NOT NULL,
    UNIQUE (tenant_id, profile_id, stream_version)
);

CREATE OR REPLACE FUNCTION core_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

DROP TRIGGER IF EXISTS core_event_ids_append_only ON core_event_ids;
CREATE TRIGGER core_event_ids_append_only BEFORE UPDATE OR DELETE ON core_event_ids
    FOR EACH ROW EXECUTE FUNCTION core_reject_change();
DROP TRIGGER IF EXISTS core_event_ids_no_truncate ON core_event_ids;
CREATE TRIGGER core_event_ids_no_truncate BEFORE TRUNCATE ON core_event_ids
    FOR EACH STATEMENT EXECUTE FUNCTION core_reject_change();
