-- Daily history: one row per account per day, and net worth per day in the base currency.
-- A profile's rows are replaced whole by the writer when its projection version grows, so
-- they always match the projection of the same version.
CREATE TABLE IF NOT EXISTS historical_balances (
    tenant_id text NOT NULL,
    profile_id text NOT NULL,
    account_id text NOT NULL,
    day date NOT NULL,
    balance_minor bigint NOT NULL,
    currency text NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (tenant_id, profile_id, account_id, day)
);

CREATE TABLE IF NOT EXISTS historical_net_worth (
    tenant_id text NOT NULL,
    profile_id text NOT NULL,
    day date NOT NULL,
    net_worth_minor bigint NOT NULL,
    currency text NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (tenant_id, profile_id, day)
);
