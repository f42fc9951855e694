-- Billing and usage alerts. Actions per threshold of the spend limit, and alerts on the call
-- and minute limits, are small JSON documents on the tenant; admission reads them with the row.
ALTER TABLE tenants ADD COLUMN threshold_actions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN usage_alerts TEXT NOT NULL DEFAULT '{}';
-- Set while the system has the tenant deactivated for reaching a limit: the first day of the
-- period that reactivates it. A person's deactivation clears it, so theirs is never undone.
ALTER TABLE tenants ADD COLUMN suspended_until TEXT;
CREATE INDEX tenants_suspended_until ON tenants (suspended_until)
    WHERE suspended_until IS NOT NULL;

-- One row per threshold that fired: the key makes each fire once per period, whichever
-- server's batch crosses it first.
CREATE TABLE usage_alerts (
    tenant_id    BLOB NOT NULL REFERENCES tenants (id),
    period_start TEXT NOT NULL,
    metric       TEXT NOT NULL,
    threshold    INTEGER NOT NULL,
    used         INTEGER NOT NULL,
    limit_value  INTEGER NOT NULL,
    action       TEXT NOT NULL,
    fired_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, period_start, metric, threshold)
);

-- When a refusal by each limit was last told (`limit.refused`), to tell it at most once a minute.
CREATE TABLE limit_refusals (
    tenant_id       BLOB NOT NULL REFERENCES tenants (id),
    limit_key       TEXT NOT NULL,
    last_emitted_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, limit_key)
);
