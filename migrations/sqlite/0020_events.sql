-- The event outbox: what webhooks tell, written in the transaction of the change it tells of.
-- Delivery reads it; an event names its tenant (if any) and the agency that had the tenant.
CREATE TABLE events (
    id          BLOB PRIMARY KEY,
    type        TEXT NOT NULL,
    tenant_id   BLOB,
    agency_id   BLOB,
    occurred_at TEXT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX events_by_tenant ON events (tenant_id, id);
CREATE INDEX events_by_agency ON events (agency_id, id);
