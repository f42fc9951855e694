-- A tenant's subscription: at most one, the current one. Its plan is the tenant's plan (a
-- change to either changes both), and while it is not canceled its current period is the
-- tenant's billing period: usage counters are keyed by `period_start_day`, the UTC day
-- `current_period_start` falls on, kept with it so that admission joins `tenant_usage` by it.
CREATE TABLE subscriptions (
    id                   UUID PRIMARY KEY,
    tenant_id            UUID NOT NULL UNIQUE REFERENCES tenants (id) ON DELETE CASCADE,
    plan_id              UUID NOT NULL REFERENCES plans (id),
    status               TEXT NOT NULL
        CHECK (status IN ('active', 'trialing', 'past_due', 'canceled')),
    billing_interval     TEXT NOT NULL CHECK (billing_interval IN ('monthly', 'yearly')),
    current_period_start TIMESTAMPTZ NOT NULL,
    current_period_end   TIMESTAMPTZ NOT NULL,
    period_start_day     DATE NOT NULL,
    external_billing_id  TEXT,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL,
    CHECK (current_period_end > current_period_start)
);
