-- Where an agency's (or the platform's) events are delivered. reach is the agency's id, or the
-- nil UUID for the platform. Signing secrets are sealed; after a rotation the previous one
-- signs too until previous_until.
CREATE TABLE webhook_endpoints (
    id              BLOB PRIMARY KEY,
    reach           BLOB NOT NULL,
    agency_id       BLOB REFERENCES agencies (id),
    url             TEXT NOT NULL,
    description     TEXT,
    event_types     TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_by_reach ON webhook_endpoints (reach, id);
