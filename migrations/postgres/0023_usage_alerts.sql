-- Billing and usage alerts. Actions per threshold of the spend limit, and alerts on the call
-- and minute limits, are small JSON documents on the tenant; admission reads them with the row.
ALTER TABLE tenants ADD COLUMN threshold_actions JSONB NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE tenants ADD COLUMN usage_alerts JSONB NOT NULL DEFAULT '{}'::jsonb;
-- Set while the system has the tenant deactivated for reaching a limit: the first day of the
-- period that reactivates it. A person's deactivation clears it, so theirs is never undone.
ALTER TABLE tenants ADD COLUMN suspended_until DATE;
CREATE INDEX tenants_suspended_until ON tenants (suspended_until)
    WHERE suspended_until IS NOT NULL;

-- One row per threshold that fired: the key makes each fire once per period, whichever
-- server's batch crosses it first.
CREATE TABLE usage_alerts (
    tenant_id    UUID NOT NULL REFERENCES tenants (id),
    period_start DATE NOT NULL,
    metric       TEXT NOT NULL,
    threshold    BIGINT NOT NULL,
    used         BIGINT NOT NULL,
    limit_value  BIGINT NOT NULL,
    action       TEXT NOT NULL,
    fired_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, period_start, metric, threshold)
);

-- When a refusal by each limit was last told (`limit.refused`), to tell it at most once a minute.
CREATE TABLE limit_refusals (
    tenant_id       UUID NOT NULL REFERENCES tenants (id),
    limit_key       TEXT NOT NULL,
    last_emitted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, limit_key)
);
