-- Where an agency's (or the platform's) events are delivered. reach is the agency's id, or the
-- nil UUID for the platform. Signing secrets are sealed; after a rotation the previous one
-- signs too until previous_until.
CREATE TABLE webhook_endpoints (
    id              UUID PRIMARY KEY,
    reach           UUID NOT NULL,
    agency_id       UUID REFERENCES agencies (id),
    url             TEXT NOT NULL,
    description     TEXT,
    event_types     JSONB NOT NULL,
    enabled         BOOLEAN NOT NULL,
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_by_reach ON webhook_endpoints (reach, id);
