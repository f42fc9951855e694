-- Limits become rows keyed by the limit's wire name, one table for plans and one for tenants,
-- so that a new limit key needs no new column. Settings and billing alerts become columns of
-- their own, because features read and enforce them (SIP, recording, compliance, the action at
-- 100%); only the two alert lists stay JSON documents.

CREATE TABLE plan_limits (
    plan_id BLOB NOT NULL REFERENCES plans (id),
    key     TEXT NOT NULL,
    value   INTEGER NOT NULL,
    PRIMARY KEY (plan_id, key)
);

CREATE TABLE tenant_limits (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    key       TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

INSERT INTO plan_limits (plan_id, key, value)
SELECT id, 'monthlySpendLimitCents', monthly_spend_limit_cents FROM plans WHERE monthly_spend_limit_cents IS NOT NULL
UNION ALL SELECT id, 'maxAgents', max_agents FROM plans WHERE max_agents IS NOT NULL
UNION ALL SELECT id, 'maxPhoneNumbers', max_phone_numbers FROM plans WHERE max_phone_numbers IS NOT NULL
UNION ALL SELECT id, 'maxConcurrentCalls', max_concurrent_calls FROM plans WHERE max_concurrent_calls IS NOT NULL
UNION ALL SELECT id, 'monthlyCallLimit', monthly_call_limit FROM plans WHERE monthly_call_limit IS NOT NULL
UNION ALL SELECT id, 'maxMinutesPerMonth', max_minutes_per_month FROM plans WHERE max_minutes_per_month IS NOT NULL;

INSERT INTO tenant_limits (tenant_id, key, value)
SELECT id, 'monthlySpendLimitCents', monthly_spend_limit_cents FROM tenants WHERE monthly_spend_limit_cents IS NOT NULL
UNION ALL SELECT id, 'maxAgents', max_agents FROM tenants WHERE max_agents IS NOT NULL
UNION ALL SELECT id, 'maxPhoneNumbers', max_phone_numbers FROM tenants WHERE max_phone_numbers IS NOT NULL
UNION ALL SELECT id, 'maxConcurrentCalls', max_concurrent_calls FROM tenants WHERE max_concurrent_calls IS NOT NULL
UNION ALL SELECT id, 'monthlyCallLimit', monthly_call_limit FROM tenants WHERE monthly_call_limit IS NOT NULL
UNION ALL SELECT id, 'maxMinutesPerMonth', max_minutes_per_month FROM tenants WHERE max_minutes_per_month IS NOT NULL;

ALTER TABLE plans DROP COLUMN monthly_spend_limit_cents;
ALTER TABLE plans DROP COLUMN max_agents;
ALTER TABLE plans DROP COLUMN max_phone_numbers;
ALTER TABLE plans DROP COLUMN max_concurrent_calls;
ALTER TABLE plans DROP COLUMN monthly_call_limit;
ALTER TABLE plans DROP COLUMN max_minutes_per_month;

ALTER TABLE tenants DROP COLUMN monthly_spend_limit_cents;
ALTER TABLE tenants DROP COLUMN max_agents;
ALTER TABLE tenants DROP COLUMN max_phone_numbers;
ALTER TABLE tenants DROP COLUMN max_concurrent_calls;
ALTER TABLE tenants DROP COLUMN monthly_call_limit;
ALTER TABLE tenants DROP COLUMN max_minutes_per_month;

ALTER TABLE tenants ADD COLUMN sip_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tenants ADD COLUMN sip_domain TEXT;
ALTER TABLE tenants ADD COLUMN sip_username TEXT;
ALTER TABLE tenants ADD COLUMN recording_enabled BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE tenants ADD COLUMN recording_format TEXT NOT NULL DEFAULT 'mp4';
ALTER TABLE tenants ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 90;
ALTER TABLE tenants ADD COLUMN analytics_enabled BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE tenants ADD COLUMN hipaa_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tenants ADD COLUMN pci_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tenants ADD COLUMN data_encryption_enabled BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE tenants ADD COLUMN webhook_url TEXT;
ALTER TABLE tenants ADD COLUMN webhook_timeout_seconds INTEGER NOT NULL DEFAULT 20;
ALTER TABLE tenants ADD COLUMN alert_thresholds TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tenants ADD COLUMN alert_emails TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tenants ADD COLUMN action_at_100 TEXT NOT NULL DEFAULT 'notify_only';

UPDATE tenants SET
    sip_enabled = COALESCE(json_extract(settings, '$.sipEnabled'), sip_enabled),
    sip_domain = json_extract(settings, '$.sipDomain'),
    sip_username = json_extract(settings, '$.sipUsername'),
    recording_enabled = COALESCE(json_extract(settings, '$.recordingEnabled'), recording_enabled),
    recording_format = COALESCE(json_extract(settings, '$.recordingFormat'), recording_format),
    retention_days = COALESCE(json_extract(settings, '$.retentionDays'), retention_days),
    analytics_enabled = COALESCE(json_extract(settings, '$.analyticsEnabled'), analytics_enabled),
    hipaa_enabled = COALESCE(json_extract(settings, '$.hipaaEnabled'), hipaa_enabled),
    pci_enabled = COALESCE(json_extract(settings, '$.pciEnabled'), pci_enabled),
    data_encryption_enabled = COALESCE(json_extract(settings, '$.dataEncryptionEnabled'), data_encryption_enabled),
    webhook_url = json_extract(settings, '$.webhookUrl'),
    webhook_timeout_seconds = COALESCE(json_extract(settings, '$.webhookTimeoutSeconds'), webhook_timeout_seconds),
    alert_thresholds = COALESCE(json_extract(billing_alerts, '$.alertThresholds'), alert_thresholds),
    alert_emails = COALESCE(json_extract(billing_alerts, '$.alertEmails'), alert_emails),
    action_at_100 = COALESCE(json_extract(billing_alerts, '$.actionAt100'), action_at_100);

ALTER TABLE tenants DROP COLUMN settings;
ALTER TABLE tenants DROP COLUMN billing_alerts;
