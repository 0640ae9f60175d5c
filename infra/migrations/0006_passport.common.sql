-- Histories exported for Passport merges, one row per link: an export request seen again
-- (a replay, a restarted exporter) finds its link here and is not sent twice.
CREATE TABLE IF NOT EXISTS passport_exports (
    tenant_id text NOT NULL,
    link_id text NOT NULL,
    source_profile_id text NOT NULL,
    target_key text NOT NULL,
    exported_events integer NOT NULL,
    exported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, link_id)
);
ALTER TABLE passport_exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE passport_exports FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON passport_exports;
CREATE POLICY tenant_isolation ON passport_exports
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
