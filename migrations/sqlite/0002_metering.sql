-- Metering: agents, calls, usage events, live counters, period counters and daily rollups.
-- Every tenant-owned table leads its keys with tenant_id.

CREATE TABLE agents (
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    id         BLOB NOT NULL,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL,
    metadata   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- The row admission locks: it serializes admissions of one tenant and holds the live count.
CREATE TABLE tenant_counters (
    tenant_id    BLOB PRIMARY KEY REFERENCES tenants (id),
    active_calls INTEGER NOT NULL DEFAULT 0,
    last_call_at TEXT
);

INSERT INTO tenant_counters (tenant_id) SELECT id FROM tenants;

-- Usage of one billing period (the calendar month in UTC, keyed by its first day).
CREATE TABLE tenant_usage (
    tenant_id    BLOB NOT NULL REFERENCES tenants (id),
    period_start TEXT NOT NULL,
    calls        INTEGER NOT NULL DEFAULT 0,
    seconds      INTEGER NOT NULL DEFAULT 0,
    cost_cents   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, period_start)
);

-- Completed conversations per tenant, day and channel; sentiment in millionths, so sums are exact.
CREATE TABLE usage_daily (
    tenant_id                BLOB NOT NULL REFERENCES tenants (id),
    day                      TEXT NOT NULL,
    channel                  TEXT NOT NULL,
    conversations            INTEGER NOT NULL DEFAULT 0,
    seconds                  INTEGER NOT NULL DEFAULT 0,
    cost_cents               INTEGER NOT NULL DEFAULT 0,
    sentiment_micros_sum     INTEGER NOT NULL DEFAULT 0,
    sentiment_count          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, channel)
);

CREATE TABLE calls (
    tenant_id         BLOB NOT NULL REFERENCES tenants (id),
    id                BLOB NOT NULL,
    agent_id          BLOB,
    channel           TEXT NOT NULL,
    direction         TEXT,
    external_id       TEXT,
    metadata          TEXT NOT NULL,
    status            TEXT NOT NULL,
    period_start      TEXT NOT NULL,
    started_at        TEXT NOT NULL,
    lease_expires_at  TEXT NOT NULL,
    ended_at          TEXT,
    duration_seconds  INTEGER,
    cost_cents        INTEGER,
    sentiment_micros  INTEGER,
    ended_reason      TEXT,
    recording_url     TEXT,
    end_fingerprint   TEXT,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX calls_by_started ON calls (tenant_id, started_at, id);
CREATE INDEX calls_leases ON calls (lease_expires_at) WHERE status = 'active';

CREATE TABLE usage_events (
    tenant_id        BLOB NOT NULL REFERENCES tenants (id),
    id               TEXT NOT NULL,
    occurred_at      TEXT NOT NULL,
    channel          TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    cost_cents       INTEGER NOT NULL,
    sentiment_micros INTEGER,
    agent_id         BLOB,
    received_at      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
