-- Agencies, plans, users, tenants, API keys and idempotency records.

CREATE TABLE agencies (
    id             BLOB PRIMARY KEY,
    name           TEXT NOT NULL,
    markup_percent INTEGER NOT NULL DEFAULT 0,
    metadata       TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE plans (
    id                        BLOB PRIMARY KEY,
    code                      TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    amount_cents              INTEGER NOT NULL,
    monthly_spend_limit_cents INTEGER,
    max_agents                INTEGER,
    max_phone_numbers         INTEGER,
    max_concurrent_calls      INTEGER,
    monthly_call_limit        INTEGER,
    max_minutes_per_month     INTEGER,
    external_billing_id       TEXT,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL
);

CREATE TABLE users (
    id         BLOB PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    first_name TEXT,
    last_name  TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE tenants (
    id                        BLOB PRIMARY KEY,
    agency_id                 BLOB REFERENCES agencies (id),
    name                      TEXT NOT NULL,
    slug                      TEXT NOT NULL UNIQUE,
    status                    TEXT NOT NULL,
    plan_id                   BLOB NOT NULL REFERENCES plans (id),
    billing_mode              TEXT NOT NULL,
    owner_user_id             BLOB REFERENCES users (id),
    monthly_spend_limit_cents INTEGER,
    max_agents                INTEGER,
    max_phone_numbers         INTEGER,
    max_concurrent_calls      INTEGER,
    monthly_call_limit        INTEGER,
    max_minutes_per_month     INTEGER,
    billing_alerts            TEXT NOT NULL,
    settings                  TEXT NOT NULL,
    metadata                  TEXT NOT NULL,
    created_at                TEXT NOT NULL,
    updated_at                TEXT NOT NULL
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
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    scope       TEXT NOT NULL,
    agency_id   BLOB REFERENCES agencies (id),
    tenant_id   BLOB REFERENCES tenants (id),
    prefix      TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE INDEX api_keys_by_agency ON api_keys (agency_id, id);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

-- One row per (caller, Idempotency-Key): pending while the first request runs, then its answer.
CREATE TABLE idempotency_keys (
    owner        TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status_code  INTEGER,
    content_type TEXT,
    body         BLOB,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (owner, key)
);

INSERT INTO plans (id, code, name, amount_cents, monthly_spend_limit_cents, max_agents,
                   max_phone_numbers, max_concurrent_calls, monthly_call_limit,
                   max_minutes_per_month, external_billing_id, created_at, updated_at)
VALUES
    (X'01935000000070008000000000000001', 'free', 'Free', 0, NULL, 10, 1, 10, 1000, 5000, NULL, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')),
    (X'01935000000070008000000000000002', 'starter', 'Starter', 4900, NULL, 25, 5, 20, 5000, 20000, NULL, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')),
    (X'01935000000070008000000000000003', 'business', 'Business', 19900, NULL, 100, 25, 50, 25000, 100000, NULL, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')),
    (X'01935000000070008000000000000004', 'enterprise', 'Enterprise', 99900, NULL, NULL, NULL, 500, NULL, NULL, NULL, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'));
