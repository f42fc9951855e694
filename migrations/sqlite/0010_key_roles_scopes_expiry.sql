-- A key may act in a narrower role than its level's full one (NULL: the full role), carry
-- scopes (a JSON array of names; NULL: unscoped, its role alone decides) and expire.
ALTER TABLE api_keys ADD COLUMN role TEXT;
ALTER TABLE api_keys ADD COLUMN scopes TEXT;
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
