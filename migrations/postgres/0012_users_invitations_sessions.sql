-- People: a user is one email address (unique whatever its case) with a password and MFA; a
-- membership gives it a role in the platform, an agency or a tenant. Invitations, sessions,
-- password resets and failed logins hang off them. Tokens are stored as SHA-256 hashes only.

ALTER TABLE users ADD COLUMN email_key TEXT;
UPDATE users SET email_key = lower(email);
CREATE UNIQUE INDEX users_by_email_key ON users (email_key);
ALTER TABLE users ADD COLUMN password_hash TEXT;
-- TOTP secrets, sealed like every secret at rest; the pending one waits for a confirming code.
ALTER TABLE users ADD COLUMN mfa_secret TEXT;
ALTER TABLE users ADD COLUMN mfa_pending_secret TEXT;
-- The last TOTP time step accepted, so a code is never accepted twice.
ALTER TABLE users ADD COLUMN mfa_last_step BIGINT;
ALTER TABLE users ADD COLUMN last_login_at TIMESTAMPTZ;

CREATE TABLE memberships (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id),
    -- The tenant's or agency's id; the nil UUID for the platform. One membership per reach.
    reach      UUID NOT NULL,
    agency_id  UUID REFERENCES agencies (id),
    tenant_id  UUID REFERENCES tenants (id),
    role       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    invited_by UUID REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX memberships_reach_user ON memberships (reach, user_id);
CREATE INDEX memberships_by_user ON memberships (user_id);
CREATE INDEX memberships_by_role ON memberships (reach, role, status);

CREATE TABLE invitations (
    id            UUID PRIMARY KEY,
    membership_id UUID NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    reach         UUID NOT NULL,
    agency_id     UUID REFERENCES agencies (id),
    tenant_id     UUID REFERENCES tenants (id),
    email         TEXT NOT NULL,
    role          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    invited_by    UUID REFERENCES users (id),
    expires_at    TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    accepted_at   TIMESTAMPTZ
);

CREATE INDEX invitations_by_reach ON invitations (reach, id);
CREATE INDEX invitations_by_membership ON invitations (membership_id);

CREATE TABLE recovery_codes (
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE sessions (
    id            UUID PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    user_id       UUID NOT NULL REFERENCES users (id),
    membership_id UUID NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_membership ON sessions (membership_id);

CREATE TABLE password_resets (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX password_resets_by_user ON password_resets (user_id);

-- Failed logins, by subject (`email:<address>` or `address:<client ip>`), for lockout.
CREATE TABLE login_failures (
    subject   TEXT NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX login_failures_by_subject ON login_failures (subject, failed_at);
