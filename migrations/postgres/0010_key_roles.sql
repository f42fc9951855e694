-- A key may act in a narrower role than its level's full one (NULL: the full role).
ALTER TABLE api_keys ADD COLUMN role TEXT;
