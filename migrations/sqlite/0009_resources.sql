-- Resources: the objects a tenant owns beside its agents and calls (phone numbers, SIP
-- trunks, squads, workflows, integrations, files, recordings), one row each, keyed by kind.
-- Their fields are a JSON document; the columns are what the store indexes, limits count and
-- constraints guard. Secrets are sealed apart from the document.

CREATE TABLE resources (
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    id         BLOB NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    -- The kind's platform-wide unique value (a phone number; the call of a recording).
    unique_key TEXT,
    -- The kind's list filter (direction, transport, status, integration kind, content type).
    category   TEXT,
    size_bytes INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    document   TEXT NOT NULL,
    -- JSON object: pointer into the document -> sealed secret (v1.<key id>.<ciphertext>).
    sealed     TEXT,
    version    INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX resources_by_kind ON resources (tenant_id, kind, id);
CREATE INDEX resources_by_category ON resources (tenant_id, kind, category, id);
CREATE UNIQUE INDEX resources_unique_key ON resources (kind, unique_key);
-- Rotation finds the rows that hold secrets without reading the rest.
CREATE INDEX resources_with_secrets ON resources (tenant_id, id) WHERE sealed IS NOT NULL;

-- The agents a resource names. The foreign key on (tenant_id, agent_id) makes an agent of
-- another tenant impossible, and keeps an agent in use from being deleted.
CREATE TABLE resource_agents (
    tenant_id   BLOB NOT NULL,
    resource_id BLOB NOT NULL,
    agent_id    BLOB NOT NULL,
    PRIMARY KEY (tenant_id, resource_id, agent_id),
    CONSTRAINT resource_agents_resource FOREIGN KEY (tenant_id, resource_id)
        REFERENCES resources (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT resource_agents_agent FOREIGN KEY (tenant_id, agent_id)
        REFERENCES agents (tenant_id, id)
);

CREATE INDEX resource_agents_by_agent ON resource_agents (tenant_id, agent_id, resource_id);
