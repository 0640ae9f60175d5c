-- The dashboard document per profile. Writers upsert only when the version grows, so a
-- replayed or late batch can never move a profile backwards.
CREATE TABLE IF NOT EXISTS view_unified_profile (
    tenant_id text NOT NULL,
    profile_id text NOT NULL,
    version bigint NOT NULL,
    source_event_id uuid,
    doc jsonb NOT NULL,
    PRIMARY KEY (tenant_id, profile_id)
);
