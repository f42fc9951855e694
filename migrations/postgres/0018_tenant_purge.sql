-- Stored bytes whose rows are gone. The transaction that deletes a file's or a recording's row
-- writes its object key here; a worker deletes the bytes after the commit and then the key, so
-- a crash between the two loses track of nothing. A key is claimed until due_at.
CREATE TABLE blob_deletions (
    key      TEXT PRIMARY KEY,
    due_at   TIMESTAMPTZ NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX blob_deletions_due ON blob_deletions (due_at);

-- The purge job finds the deleted tenants whose grace period is over.
CREATE INDEX tenants_purge_due ON tenants (purge_after) WHERE status = 'deleted';
