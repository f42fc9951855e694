-- Metering: agents, calls, usage events, live counters, period counters and daily rollups.
-- Every tenant-owned table leads its keys with tenant_id.

CREATE TABLE agents (
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    id         UUID NOT NULL,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL,
    metadata   JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- The row admission locks: it serializes admissions of one tenant and holds the live count.
CREATE TABLE tenant_counters (
    tenant_id    UUID PRIMARY KEY REFERENCES tenants (id),
    active_calls BIGINT NOT NULL DEFAULT 0,
    last_call_at TIMESTAMPTZ
);

INSERT INTO tenant_counters (tenant_id) SELECT id FROM tenants;

-- Usage of one billing period (the calendar month in UTC, keyed by its first day).
CREATE TABLE tenant_usage (
    tenant_id    UUID NOT NULL REFERENCES tenants (id),
    period_start DATE NOT NULL,
    calls        BIGINT NOT NULL DEFAULT 0,
    seconds      BIGINT NOT NULL DEFAULT 0,
    cost_cents   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, period_start)
);

-- Completed conversations per tenant, day and channel; sentiment in millionths, so sums are exact.
CREATE TABLE usage_daily (
    tenant_id                UUID NOT NULL REFERENCES tenants (id),
    day                      DATE NOT NULL,
    channel                  TEXT NOT NULL,
    conversations            BIGINT NOT NULL DEFAULT 0,
    seconds                  BIGINT NOT NULL DEFAULT 0,
    cost_cents               BIGINT NOT NULL DEFAULT 0,
    sentiment_micros_sum     BIGINT NOT NULL DEFAULT 0,
    sentiment_count          BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, channel)
);

CREATE TABLE calls (
    tenant_id         UUID NOT NULL REFERENCES tenants (id),
    id                UUID NOT NULL,
    agent_id          UUID,
    channel           TEXT NOT NULL,
    direction         TEXT,
    external_id       TEXT,
    metadata          JSONB NOT NULL,
    status            TEXT NOT NULL,
    period_start      DATE NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL,
    lease_expires_at  TIMESTAMPTZ NOT NULL,
    ended_at          TIMESTAMPTZ,
    duration_seconds  BIGINT,
    cost_cents        BIGINT,
    sentiment_micros  BIGINT,
    ended_reason      TEXT,
    recording_url     TEXT,
    end_fingerprint   TEXT,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX calls_by_started ON calls (tenant_id, started_at, id);
CREATE INDEX calls_leases ON calls (lease_expires_at) WHERE status = 'active';

CREATE TABLE usage_events (
    tenant_id        UUID NOT NULL REFERENCES tenants (id),
    id               TEXT NOT NULL,
    occurred_at      TIMESTAMPTZ NOT NULL,
    channel          TEXT NOT NULL,
    duration_seconds BIGINT NOT NULL,
    cost_cents       BIGINT NOT NULL,
    sentiment_micros BIGINT,
    agent_id         UUID,
    received_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
