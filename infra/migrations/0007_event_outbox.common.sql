-- Events committed to the log but not yet acknowledged by the events topic. A batch's new
-- events enter here in the same transaction as the log; the writer publishes them and then
-- deletes them, so an event replayed after a crash (already in the log) is never published
-- again, and one committed but not yet published is published after a restart.
CREATE TABLE IF NOT EXISTS core_event_outbox (
    event_id uuid PRIMARY KEY,
    tenant_id text NOT NULL,
    profile_id text NOT NULL,
    stream_version bigint NOT NULL,
    type text NOT NULL,
    body bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS core_event_outbox_order
    ON core_event_outbox (tenant_id, profile_id, stream_version);
ALTER TABLE core_event_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE core_event_outbox FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON core_event_outbox;
CREATE POLICY tenant_isolation ON core_event_outbox
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
