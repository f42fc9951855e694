-- White-label branding (docs/WHITE_LABEL.md). Each column is one field of the record; NULL
-- is unset, and shows the field of the record beneath: a tenant's own over its agency's over
-- the platform's default.

-- An agency's branding (agency_id), or the platform's default (agency_id NULL). reach is the
-- agency's id, or the nil UUID for the platform, so that each has at most one.
CREATE TABLE agency_brandings (
    reach                    BLOB PRIMARY KEY,
    agency_id                BLOB UNIQUE REFERENCES agencies (id),
    company_name             TEXT,
    company_url              TEXT,
    logo_url                 TEXT,
    logomark_url             TEXT,
    favicon_url              TEXT,
    font_family              TEXT,
    demo_domain              TEXT,
    calendar_link            TEXT,
    slack_link               TEXT,
    linkedin_link            TEXT,
    email                    TEXT,
    phone                    TEXT,
    color_primary            TEXT,
    color_primary_foreground TEXT,
    color_secondary          TEXT,
    color_accent             TEXT,
    color_background         TEXT,
    color_foreground         TEXT,
    updated_at               TEXT NOT NULL
);

-- A tenant's own branding, over its agency's: tenant data (purged and archived with it).
CREATE TABLE tenant_brandings (
    tenant_id                BLOB PRIMARY KEY REFERENCES tenants (id),
    company_name             TEXT,
    company_url              TEXT,
    logo_url                 TEXT,
    logomark_url             TEXT,
    favicon_url              TEXT,
    font_family              TEXT,
    demo_domain              TEXT,
    calendar_link            TEXT,
    slack_link               TEXT,
    linkedin_link            TEXT,
    email                    TEXT,
    phone                    TEXT,
    color_primary            TEXT,
    color_primary_foreground TEXT,
    color_secondary          TEXT,
    color_accent             TEXT,
    color_background         TEXT,
    color_foreground         TEXT,
    updated_at               TEXT NOT NULL
);

-- An agency's custom domain: one per agency, and a domain belongs to one agency only. A
-- pending domain's CNAME is looked up again from next_check_at on.
CREATE TABLE custom_domains (
    agency_id                BLOB PRIMARY KEY REFERENCES agencies (id),
    domain                   TEXT NOT NULL UNIQUE,
    status                   TEXT NOT NULL,
    verification_token       TEXT NOT NULL,
    verified_at              TEXT,
    last_checked_at          TEXT,
    last_check_error         TEXT,
    next_check_at            TEXT NOT NULL,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL
);
CREATE INDEX custom_domains_due ON custom_domains (status, next_check_at);
