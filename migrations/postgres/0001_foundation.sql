-- Agencies, plans, users, tenants, API keys and idempotency records.

CREATE TABLE agencies (
    id             UUID PRIMARY KEY,
    name           TEXT NOT NULL,
    markup_percent BIGINT NOT NULL DEFAULT 0,
    metadata       JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE plans (
    id                        UUID PRIMARY KEY,
    code                      TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    amount_cents              BIGINT NOT NULL,
    monthly_spend_limit_cents BIGINT,
    max_agents                BIGINT,
    max_phone_numbers         BIGINT,
    max_concurrent_calls      BIGINT,
    monthly_call_limit        BIGINT,
    max_minutes_per_month     BIGINT,
    external_billing_id       TEXT,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id         UUID PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    first_name TEXT,
    last_name  TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE tenants (
    id                        UUID PRIMARY KEY,
    agency_id                 UUID REFERENCES agencies (id),
    name                      TEXT NOT NULL,
    slug                      TEXT NOT NULL UNIQUE,
    status                    TEXT NOT NULL,
    plan_id                   UUID NOT NULL REFERENCES plans (id),
    billing_mode              TEXT NOT NULL,
    owner_user_id             UUID REFERENCES users (id),
    monthly_spend_limit_cents BIGINT,
    max_agents                BIGINT,
    max_phone_numbers         BIGINT,
    max_concurrent_calls      BIGINT,
    monthly_call_limit        BIGINT,
    max_minutes_per_month     BIGINT,
    billing_alerts            JSONB NOT NULL,
    settings                  JSONB NOT NULL,
    metadata                  JSONB NOT NULL,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL
);

-- Keyset pagination by each sort key, for the platform and within one agency.
CREATE INDEX tenants_by_name ON tenants (name, id);
CREATE INDEX tenants_by_slug ON tenants (slug, id);
CREATE INDEX tenants_by_created ON tenants (created_at, id);
CREATE INDEX tenants_by_updated ON tenants (updated_at, id);
CREATE INDEX tenants_agency_by_name ON tenants (agency_id, name, id);
CREATE INDEX tenants_agency_by_slug ON tenants (agency_id, slug, id);
CREATE INDEX tenants_agency_by_created ON tenants (agency_id, created_at, id);
CREATE INDEX tenants_agency_by_updated ON tenants (agency_id, updated_at, id);

CREATE TABLE api_keys (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    scope       TEXT NOT NULL,
    agency_id   UUID REFERENCES agencies (id),
    tenant_id   UUID REFERENCES tenants (id),
    prefix      TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

CREATE INDEX api_keys_by_agency ON api_keys (agency_id, id);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

-- One row per (caller, Idempotency-Key): pending while the first request runs, then its answer.
CREATE TABLE idempotency_keys (
    owner        TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status_code  BIGINT,
    content_type TEXT,
    body         BYTEA,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (owner, key)
);

INSERT INTO plans (id, code, name, amount_cents, monthly_spend_limit_cents, max_agents,
                   max_phone_numbers, max_concurrent_calls, monthly_call_limit,
                   max_minutes_per_month, external_billing_id, created_at, updated_at)
VALUES
    ('01935000-0000-7000-8000-000000000001', 'free', 'Free', 0, NULL, 10, 1, 10, 1000, 5000, NULL, now(), now()),
    ('01935000-0000-7000-8000-000000000002', 'starter', 'Starter', 4900, NULL, 25, 5, 20, 5000, 20000, NULL, now(), now()),
    ('01935000-0000-7000-8000-000000000003', 'business', 'Business', 19900, NULL, 100, 25, 50, 25000, 100000, NULL, now(), now()),
    ('01935000-0000-7000-8000-000000000004', 'enterprise', 'Enterprise', 99900, NULL, NULL, NULL, 500, NULL, NULL, NULL, now(), now());
