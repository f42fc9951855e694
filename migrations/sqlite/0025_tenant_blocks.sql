-- Per-service blocks: the services refused (a JSON array of names), why, and since when. All
-- three are set together, or none: a tenant is blocked exactly when `blocked_at` is set. They
-- sit on the tenant's row so that the tenant read and admission get them with it.
ALTER TABLE tenants ADD COLUMN blocked_services TEXT;
ALTER TABLE tenants ADD COLUMN block_reason TEXT;
ALTER TABLE tenants ADD COLUMN blocked_at TEXT
    CHECK ((blocked_at IS NULL) = (blocked_services IS NULL));

-- `status=blocked` lists walk only blocked tenants, in each order a list answers in, with or
-- without an agency scope (as 0008 does for the other statuses).
CREATE INDEX tenants_blocked_by_name ON tenants (name, id) WHERE blocked_at IS NOT NULL;
CREATE INDEX tenants_blocked_by_slug ON tenants (slug, id) WHERE blocked_at IS NOT NULL;
CREATE INDEX tenants_blocked_by_created ON tenants (created_at, id) WHERE blocked_at IS NOT NULL;
CREATE INDEX tenants_blocked_by_updated ON tenants (updated_at, id) WHERE blocked_at IS NOT NULL;
CREATE INDEX tenants_agency_blocked_by_name ON tenants (agency_id, name, id)
    WHERE blocked_at IS NOT NULL;
CREATE INDEX tenants_agency_blocked_by_slug ON tenants (agency_id, slug, id)
    WHERE blocked_at IS NOT NULL;
CREATE INDEX tenants_agency_blocked_by_created ON tenants (agency_id, created_at, id)
    WHERE blocked_at IS NOT NULL;
CREATE INDEX tenants_agency_blocked_by_updated ON tenants (agency_id, updated_at, id)
    WHERE blocked_at IS NOT NULL;
