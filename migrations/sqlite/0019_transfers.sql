-- A tenant's move to another agency (or to self-managed, target NULL): requested by its
-- agency, answered by the target. At most one is pending per tenant.
CREATE TABLE transfers (
    id               BLOB PRIMARY KEY,
    tenant_id        BLOB NOT NULL REFERENCES tenants (id),
    source_agency_id BLOB REFERENCES agencies (id),
    target_agency_id BLOB REFERENCES agencies (id),
    note             TEXT,
    state            TEXT NOT NULL
        CHECK (state IN ('pending', 'accepted', 'rejected', 'cancelled', 'expired')),
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    decided_at       TEXT
);
CREATE UNIQUE INDEX transfers_one_pending ON transfers (tenant_id) WHERE state = 'pending';
CREATE INDEX transfers_by_tenant ON transfers (tenant_id, id);
CREATE INDEX transfers_by_source ON transfers (source_agency_id, id);
CREATE INDEX transfers_by_target ON transfers (target_agency_id, id);

-- A tenant's usage series under an agency it has left: the agency's reports keep counting
-- the months it owned the tenant. tenant_counters keeps the series of the current agency.
CREATE TABLE usage_series_history (
    tenant_id           BLOB NOT NULL REFERENCES tenants (id),
    agency_id           BLOB NOT NULL REFERENCES agencies (id),
    first_usage_month   TEXT NOT NULL,
    last_usage_month    TEXT NOT NULL,
    conversations_total INTEGER NOT NULL,
    cost_cents_total    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, agency_id)
);
CREATE INDEX usage_series_history_by_agency ON usage_series_history (agency_id, tenant_id);
