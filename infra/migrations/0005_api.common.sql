-- Read models for the HTTP API, and the isolation that makes them safe to serve.

-- Transaction search: one row per transaction the profile ever had. A removed transaction
-- keeps its row, marked removed, so an older replayed batch cannot bring it back; rows
-- move forward only (the writer applies a row only over a lower version).
CREATE TABLE IF NOT EXISTS transaction_search (
    tenant_id text NOT NULL,
    profile_id text NOT NULL,
    transaction_id text NOT NULL,
    version bigint NOT NULL,
    removed boolean NOT NULL DEFAULT false,
    account_id text,
    day date,
    amount_minor bigint,
    amount numeric,
    currency text,
    status text,
    merchant text,
    clean_merchant text,
    category text[] NOT NULL DEFAULT '{}',
    category_text text NOT NULL DEFAULT '',
    category_source text,
    source_event_id uuid,
    search tsvector GENERATED ALWAYS AS (
        to_tsvector('english',
            coalesce(merchant, '') || ' ' || coalesce(clean_merchant, '') || ' ' || category_text)
    ) STORED,
    PRIMARY KEY (tenant_id, profile_id, transaction_id)
);
CREATE INDEX IF NOT EXISTS transaction_search_text ON transaction_search USING gin (search);
CREATE INDEX IF NOT EXISTS transaction_search_day
    ON transaction_search (tenant_id, profile_id, day DESC, transaction_id DESC);

-- The outcome of each command: the event it produced or the CommandRejected that refused it.
CREATE TABLE IF NOT EXISTS command_outcomes (
    tenant_id text NOT NULL,
    profile_id text NOT NULL,
    command_id text NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    stream_version bigint NOT NULL,
    reason text,
    message text,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, command_id)
);

-- Commands accepted by the API, by idempotency key: the same key and body get the stored
-- response back; the same key with another body is refused.
CREATE TABLE IF NOT EXISTS api_idempotency (
    tenant_id text NOT NULL,
    idempotency_key text NOT NULL,
    request_hash text NOT NULL,
    command_id text NOT NULL,
    profile_id text NOT NULL,
    response jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE UNIQUE INDEX IF NOT EXISTS api_idempotency_command ON api_idempotency (tenant_id, command_id);

-- Row-level security: a reader sees the rows of the tenant set for its transaction with
-- set_config('app.tenant_id', tenant, true), and nothing when none is set. FORCE applies the
-- policies to the tables' owner too; only a role with BYPASSRLS (the stream workers'
-- writer) reads across tenants.
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['view_unified_profile', 'historical_balances',
        'historical_net_worth', 'transaction_search', 'command_outcomes', 'api_idempotency',
        'core_events', 'core_event_ids']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', name);
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', name);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I'
            ' USING (tenant_id = current_setting(''app.tenant_id'', true))'
            ' WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', name);
    END LOOP;
END
$$;

-- The API's role: it owns nothing, cannot bypass row-level security, reads the read models
-- and records idempotency keys. Roles are global to the server; grants are per schema.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fintra_api') THEN
        CREATE ROLE fintra_api LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO fintra_api', current_schema());
END
$$;
GRANT SELECT ON view_unified_profile, historical_balances, historical_net_worth,
    transaction_search, command_outcomes TO fintra_api;
GRANT SELECT, INSERT ON api_idempotency TO fintra_api;
