-- The email outbox: a mail is written in the same transaction as the change it tells of, and
-- a worker on any replica sends it later, retrying with backoff. Rows are claimed with a
-- lease (the writer's lock is the claim on SQLite), so each mail goes to one worker at a time.

CREATE TABLE email_outbox (
    id              BLOB PRIMARY KEY,
    -- The tenant the mail is about, if any, so that purging a tenant removes its mail.
    tenant_id       BLOB REFERENCES tenants (id),
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    -- Claims so far, counted when claimed, so a mail that crashes its worker still runs out.
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- When a worker may claim it next; a claim moves it to the lease's end.
    next_attempt_at TEXT NOT NULL,
    -- The end of the current claim; only its holder may record the outcome.
    lease_until     TEXT,
    sent_at         TEXT,
    -- When the worker gave up on it (a permanent refusal, or retries used up).
    failed_at       TEXT,
    last_error      TEXT,
    -- When a server without SMTP wrote it to its log (once), keeping it for a later sender.
    logged_at       TEXT
);

-- The worker's claim: due mail, neither sent nor given up.
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
-- A server without SMTP logs each pending mail once.
CREATE INDEX email_outbox_unlogged ON email_outbox (created_at)
    WHERE logged_at IS NULL AND sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX email_outbox_by_tenant ON email_outbox (tenant_id, created_at)
    WHERE tenant_id IS NOT NULL;
