-- The audit trail. Entries are chained per tenant (else per agency, else the platform: the
-- nil chain); `audit_chains` holds each chain's head, and its row lock orders appends.
CREATE TABLE audit_log (
    id          UUID PRIMARY KEY,
    chain_id    UUID NOT NULL,
    seq         BIGINT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    tenant_id   UUID,
    agency_id   UUID,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    changes     JSONB NOT NULL,
    request_id  TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (chain_id, seq)
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_by_agency ON audit_log (agency_id, id);

CREATE TABLE audit_chains (
    chain_id UUID PRIMARY KEY,
    seq      BIGINT NOT NULL,
    hash     TEXT NOT NULL
);

-- Append-only: an entry is never changed. (A tenant's permanent delete removes its trail.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
