-- Webhook delivery. A tenant's settings.webhookUrl is an endpoint row of its own (tenant_id set,
-- reach the tenant's id). An endpoint that keeps failing is disabled: failing_since is when
-- its current run of failures began, disabled_at when delivery gave up on it.
ALTER TABLE webhook_endpoints ADD COLUMN tenant_id UUID REFERENCES tenants (id);
ALTER TABLE webhook_endpoints ADD COLUMN failing_since TIMESTAMPTZ;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_at TIMESTAMPTZ;
CREATE UNIQUE INDEX webhook_endpoints_of_tenant ON webhook_endpoints (tenant_id)
    WHERE tenant_id IS NOT NULL;

-- One event to one endpoint: written with the event, in its transaction. Workers on any
-- replica claim due rows with a lease (the single writer on SQLite), so each is attempted by
-- one worker at a time; (event_id, endpoint_id) is unique, so fan-out and replay never double.
CREATE TABLE webhook_deliveries (
    id              UUID PRIMARY KEY,
    event_id        UUID NOT NULL REFERENCES events (id),
    endpoint_id     UUID NOT NULL REFERENCES webhook_endpoints (id),
    -- The endpoint's reach, so the owner's list reads one index.
    reach           UUID NOT NULL,
    -- The event's tenant, if any, so that purging a tenant removes its deliveries.
    tenant_id       UUID,
    event_type      TEXT NOT NULL,
    -- The tenant's webhookTimeoutSeconds when the event happened.
    timeout_seconds BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until     TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    last_attempt_at TIMESTAMPTZ,
    delivered_at    TIMESTAMPTZ,
    failed_at       TIMESTAMPTZ,
    last_status     BIGINT,
    last_error      TEXT,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
-- A worker with attempts of an endpoint in flight claims that endpoint's next ones.
CREATE INDEX webhook_deliveries_due_by_endpoint ON webhook_deliveries (endpoint_id, next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_by_reach ON webhook_deliveries (reach, id);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
-- Failed deliveries are few among many delivered: the owner's "what failed" reads these.
CREATE INDEX webhook_deliveries_failed_by_endpoint ON webhook_deliveries (endpoint_id, id)
    WHERE delivered_at IS NULL AND failed_at IS NOT NULL;
CREATE INDEX webhook_deliveries_failed_by_reach ON webhook_deliveries (reach, id)
    WHERE delivered_at IS NULL AND failed_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_tenant ON webhook_deliveries (tenant_id)
    WHERE tenant_id IS NOT NULL;

-- Every attempt, kept for the owner to read: the status, the latency and the first KiB of
-- the answer, or why no answer came.
CREATE TABLE webhook_attempts (
    id           UUID PRIMARY KEY,
    -- Cascading, so that deleting a delivery never fails on an attempt recorded meanwhile.
    delivery_id  UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    tenant_id    UUID,
    attempt      BIGINT NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL,
    status_code  BIGINT,
    latency_ms   BIGINT NOT NULL,
    response     TEXT,
    error        TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, attempted_at);
CREATE INDEX webhook_attempts_by_tenant ON webhook_attempts (tenant_id)
    WHERE tenant_id IS NOT NULL;
