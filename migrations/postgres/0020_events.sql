-- The event outbox: what webhooks tell, written in the transaction of the change it tells of.
-- Delivery reads it; an event names its tenant (if any) and the agency that had the tenant.
CREATE TABLE events (
    id          UUID PRIMARY KEY,
    type        TEXT NOT NULL,
    tenant_id   UUID,
    agency_id   UUID,
    occurred_at TIMESTAMPTZ NOT NULL,
    payload     JSONB NOT NULL
);
CREATE INDEX events_by_tenant ON events (tenant_id, id);
CREATE INDEX events_by_agency ON events (agency_id, id);
