-- Deactivation keeps its when and why, and which agents it switched off, so that reactivating
-- switches exactly those back on.
ALTER TABLE tenants ADD COLUMN deactivated_at TIMESTAMPTZ;
ALTER TABLE tenants ADD COLUMN deactivation_reason TEXT;
ALTER TABLE agents ADD COLUMN paused_with_tenant BOOLEAN NOT NULL DEFAULT FALSE;
