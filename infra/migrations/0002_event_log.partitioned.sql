-- The event log on plain PostgreSQL: range-partitioned by month on occurred_at.
-- There is deliberately no default partition: a row for a month without a partition is an
-- error, never a silent misfiling. Writers call core_ensure_event_partitions() first.
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
) PARTITION BY RANGE (occurred_at);

CREATE OR REPLACE FUNCTION core_ensure_event_partition(moment timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamptz := date_trunc('month', moment AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    part text := format('core_events_%s', to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM'));
BEGIN
    IF to_regclass(quote_ident(current_schema()) || '.' || part) IS NOT NULL THEN
        RETURN;
    END IF;
    -- Two writers may meet here; the lock makes the second one find the table.
    PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.' || part));
    IF to_regclass(quote_ident(current_schema()) || '.' || part) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format(
        'CREATE TABLE %I PARTITION OF core_events FOR VALUES FROM (%L) TO (%L)',
        part, month_start, month_start + interval '1 month');
    -- Row triggers are cloned onto partitions; TRUNCATE triggers are not.
    EXECUTE format(
        'CREATE TRIGGER core_events_no_truncate BEFORE TRUNCATE ON %I '
        'FOR EACH STATEMENT EXECUTE FUNCTION core_reject_change()', part);
END
$$;

CREATE INDEX IF NOT EXISTS core_events_stream ON core_events (tenant_id, profile_id, stream_version);

DROP TRIGGER IF EXISTS core_events_append_only ON core_events;
CREATE TRIGGER core_events_append_only BEFORE UPDATE OR DELETE ON core_events
    FOR EACH ROW EXECUTE FUNCTION core_reject_change();
DROP TRIGGER IF EXISTS core_events_no_truncate ON core_events;
CREATE TRIGGER core_events_no_truncate BEFORE TRUNCATE ON core_events
    FOR EACH STATEMENT EXECUTE FUNCTION core_reject_change();
