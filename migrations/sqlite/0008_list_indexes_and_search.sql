-- Tenant lists filtered by status or plan walk an index in the order they answer in, with or
-- without an agency scope, so that a rare match never walks the whole platform. A list with
-- both filters uses one of them.
CREATE INDEX tenants_status_by_name ON tenants (status, name, id);
CREATE INDEX tenants_status_by_slug ON tenants (status, slug, id);
CREATE INDEX tenants_status_by_created ON tenants (status, created_at, id);
CREATE INDEX tenants_status_by_updated ON tenants (status, updated_at, id);
CREATE INDEX tenants_agency_status_by_name ON tenants (agency_id, status, name, id);
CREATE INDEX tenants_agency_status_by_slug ON tenants (agency_id, status, slug, id);
CREATE INDEX tenants_agency_status_by_created ON tenants (agency_id, status, created_at, id);
CREATE INDEX tenants_agency_status_by_updated ON tenants (agency_id, status, updated_at, id);
CREATE INDEX tenants_plan_by_name ON tenants (plan_id, name, id);
CREATE INDEX tenants_plan_by_slug ON tenants (plan_id, slug, id);
CREATE INDEX tenants_plan_by_created ON tenants (plan_id, created_at, id);
CREATE INDEX tenants_plan_by_updated ON tenants (plan_id, updated_at, id);
CREATE INDEX tenants_agency_plan_by_name ON tenants (agency_id, plan_id, name, id);
CREATE INDEX tenants_agency_plan_by_slug ON tenants (agency_id, plan_id, slug, id);
CREATE INDEX tenants_agency_plan_by_created ON tenants (agency_id, plan_id, created_at, id);
CREATE INDEX tenants_agency_plan_by_updated ON tenants (agency_id, plan_id, updated_at, id);

-- `q` finds a substring of a name or slug through an FTS5 trigram index. FTS5 keys its rows by
-- integer and a tenant's rowid may change on VACUUM, so each tenant gets a stable search id.
-- Names are indexed lowered in ASCII only (SQLite's lower()), case-sensitively, so the index
-- matches what `LIKE` matches when a common search walks the list instead.
CREATE TABLE tenant_search_keys (
    search_id INTEGER PRIMARY KEY,
    tenant_id BLOB NOT NULL UNIQUE REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE VIRTUAL TABLE tenant_search USING fts5 (name, slug, tokenize = 'trigram case_sensitive 1');

INSERT INTO tenant_search_keys (tenant_id) SELECT id FROM tenants ORDER BY created_at, id;
INSERT INTO tenant_search (rowid, name, slug)
SELECT k.search_id, lower(t.name), t.slug FROM tenant_search_keys k JOIN tenants t ON t.id = k.tenant_id;

CREATE TRIGGER tenants_search_insert AFTER INSERT ON tenants BEGIN
    INSERT INTO tenant_search_keys (tenant_id) VALUES (NEW.id);
    INSERT INTO tenant_search (rowid, name, slug)
    VALUES ((SELECT search_id FROM tenant_search_keys WHERE tenant_id = NEW.id), lower(NEW.name), NEW.slug);
END;

CREATE TRIGGER tenants_search_update AFTER UPDATE OF name, slug ON tenants
WHEN OLD.name IS NOT NEW.name OR OLD.slug IS NOT NEW.slug BEGIN
    UPDATE tenant_search SET name = lower(NEW.name), slug = NEW.slug
    WHERE rowid = (SELECT search_id FROM tenant_search_keys WHERE tenant_id = NEW.id);
END;

CREATE TRIGGER tenants_search_delete BEFORE DELETE ON tenants BEGIN
    DELETE FROM tenant_search
    WHERE rowid = (SELECT search_id FROM tenant_search_keys WHERE tenant_id = OLD.id);
END;

-- The agency that reaches a key: its own agency's key, or a key of one of its tenants. An
-- agency lists its keys from one index.
ALTER TABLE api_keys ADD COLUMN reach_agency_id BLOB REFERENCES agencies (id);
UPDATE api_keys SET reach_agency_id =
    COALESCE(agency_id, (SELECT t.agency_id FROM tenants t WHERE t.id = api_keys.tenant_id));
CREATE INDEX api_keys_by_reach ON api_keys (reach_agency_id, id);

CREATE TRIGGER tenants_keys_reach AFTER UPDATE OF agency_id ON tenants
WHEN OLD.agency_id IS NOT NEW.agency_id BEGIN
    UPDATE api_keys SET reach_agency_id = NEW.agency_id WHERE tenant_id = NEW.id;
END;

-- usage_monthly_by_agency (0007) served no read: the agency report reaches month rows by
-- primary key. On a table without statistics yet, the planner took it for the per-write
-- UPDATE … WHERE tenant_id, agency_id, month and filtered the agency's other tenants' rows,
-- so every write in a busy agency read rows of its neighbours.
DROP INDEX usage_monthly_by_agency;
