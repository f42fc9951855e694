-- A key is for production (`live`, secrets `tnt_live_…`) or a sandbox (`test`, `tnt_test_…`).
ALTER TABLE api_keys ADD COLUMN environment TEXT NOT NULL DEFAULT 'live';
