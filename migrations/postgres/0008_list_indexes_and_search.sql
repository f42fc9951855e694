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

-- `q` finds a substring of a name or slug through pg_trgm GIN indexes. The extension may live
-- in any schema (the suite and the benchmark install it in `public`), so its operator class
-- is named through the schema it is in.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DO $$
DECLARE
    trgm_schema TEXT;
BEGIN
    SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    EXECUTE format(
        'CREATE INDEX tenants_name_trigrams ON tenants USING gin (lower(name) %I.gin_trgm_ops)',
        trgm_schema);
    EXECUTE format(
        'CREATE INDEX tenants_slug_trigrams ON tenants USING gin (slug %I.gin_trgm_ops)',
        trgm_schema);
END
$$;

-- The agency that reaches a key: its own agency's key, or a key of one of its tenants. An
-- agency lists its keys from one index.
ALTER TABLE api_keys ADD COLUMN reach_agency_id UUID REFERENCES agencies (id);
UPDATE api_keys k SET reach_agency_id =
    COALESCE(k.agency_id, (SELECT t.agency_id FROM tenants t WHERE t.id = k.tenant_id));
CREATE INDEX api_keys_by_reach ON api_keys (reach_agency_id, id);

CREATE FUNCTION tenants_keys_reach() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE api_keys SET reach_agency_id = NEW.agency_id WHERE tenant_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER tenants_keys_reach AFTER UPDATE OF agency_id ON tenants
FOR EACH ROW WHEN (OLD.agency_id IS DISTINCT FROM NEW.agency_id)
EXECUTE FUNCTION tenants_keys_reach();

-- usage_monthly_by_agency (0007) served no read: the agency report reaches month rows by
-- primary key. On a table without statistics yet, the planner took it for the per-write
-- UPDATE … WHERE tenant_id, agency_id, month and filtered the agency's other tenants' rows,
-- so every write in a busy agency read rows of its neighbours.
DROP INDEX usage_monthly_by_agency;

-- tenant_counters.agency_id copies tenants.agency_id, whose own foreign key already holds it.
-- Call end updates the counters row twice in one transaction, and PostgreSQL re-checks a
-- foreign key on a row its own transaction wrote: that took a KEY SHARE lock on the agency's
-- row for every call end of every tenant of the agency, a hot row. SQLite's checks take no
-- row locks, so its schema keeps the reference.
ALTER TABLE tenant_counters DROP CONSTRAINT tenant_counters_agency_id_fkey;
