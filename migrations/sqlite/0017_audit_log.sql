-- The audit trail. Entries are chained per tenant (else per agency, else the platform: the
-- nil chain); `audit_chains` holds each chain's head.
CREATE TABLE audit_log (
    id          BLOB PRIMARY KEY,
    chain_id    BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    at          TEXT NOT NULL,
    tenant_id   BLOB,
    agency_id   BLOB,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    changes     TEXT NOT NULL,
    request_id  TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (chain_id, seq)
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, id);
CREATE INDEX audit_log_by_agency ON audit_log (agency_id, id);

CREATE TABLE audit_chains (
    chain_id BLOB PRIMARY KEY,
    seq      INTEGER NOT NULL,
    hash     TEXT NOT NULL
);

-- Append-only: an entry is never changed. (A tenant's permanent delete removes its trail.)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
