-- Headers an idempotent replay must repeat (Location, ETag), as a JSON list of [name, value].
ALTER TABLE idempotency_keys ADD COLUMN headers TEXT;
