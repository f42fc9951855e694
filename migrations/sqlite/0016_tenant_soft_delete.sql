-- A soft-deleted tenant keeps everything until its grace period ends: when it was deleted, and
-- when the purge may remove it.
ALTER TABLE tenants ADD COLUMN deleted_at TEXT;
ALTER TABLE tenants ADD COLUMN purge_after TEXT;
