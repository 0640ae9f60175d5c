-- The event log on TimescaleDB: a hypertable on occurred_at, chunked weekly.
CREATE TABLE IF NOT EXISTS core_events (
    event_id uuid NOT NULL,
    tenant_id text NOT NULL,
    profile_id text NOT NULL,
    stream_version bigint NOT NULL,
    type text NOT NULL,
    schema_version integer NOT NULL,
    occurred_at timestamptz NOT NULL,
    source jsonb NOT NULL,
    payload jsonb NOT NULL,
    payload_hash text NOT NULL,
    prev_hash text NOT NULL,
    PRIMARY KEY (event_id, occurred_at)
);

SELECT create_hypertable('core_events', 'occurred_at',
                         chunk_time_interval => interval '7 days', if_not_exists => true);

-- Chunks are created by TimescaleDB itself; writers call this the same way on both stores.
CREATE OR REPLACE FUNCTION core_ensure_event_partition(moment timestamptz)
RETURNS void LANGUAGE sql AS $$ SELECT NULL::void $$;

CREATE INDEX IF NOT EXISTS core_events_stream ON core_events (tenant_id, profile_id, stream_version);

DROP TRIGGER IF EXISTS core_events_append_only ON core_events;
CREATE TRIGGER core_events_append_only BEFORE UPDATE OR DELETE ON core_events
    FOR EACH ROW EXECUTE FUNCTION core_reject_change();
DROP TRIGGER IF EXISTS core_events_no_truncate ON core_events;
CREATE TRIGGER core_events_no_truncate BEFORE TRUNCATE ON core_events
    FOR EACH STATEMENT EXECUTE FUNCTION core_reject_change();
