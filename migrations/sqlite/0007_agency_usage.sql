-- Agency analytics cost what the answer needs, not what the history holds.
--
-- usage_monthly keeps, per tenant, agency and month, the tenant's totals before the month and
-- its running totals through each day of the month (a column per day: day 31 holds the month's
-- end, also in shorter months). A tenant has a row for every month from its first usage to its
-- last, so the totals through any day are one row read, and the totals of a range of days are
-- the difference of two. An agency's report reads its tenants' rows for two months by
-- (agency_id, month), whatever the range's length. Each row names the agency the usage belongs
-- to, so usage stays with the agency that owned the tenant when it happened.
--
-- tenant_counters carries the running totals of the tenant's series in its agency and the first
-- and last month with usage, so a write in the latest month needs no read, and a report knows
-- which tenants had usage in a range without reading their rows. Every writer holds the
-- counters row's lock already; no row is shared between tenants.
--
-- agency_counters keeps how many tenants an agency has, and how many are active, kept by
-- triggers on tenants, so whatever changes a tenant keeps the counts exact.

CREATE TABLE usage_monthly (
    tenant_id               BLOB NOT NULL REFERENCES tenants (id),
    agency_id               BLOB NOT NULL REFERENCES agencies (id),
    month                   TEXT NOT NULL,
    conversations_before    INTEGER NOT NULL,
    cost_cents_before       INTEGER NOT NULL,
    conversations_d01       INTEGER NOT NULL DEFAULT 0,
    conversations_d02       INTEGER NOT NULL DEFAULT 0,
    conversations_d03       INTEGER NOT NULL DEFAULT 0,
    conversations_d04       INTEGER NOT NULL DEFAULT 0,
    conversations_d05       INTEGER NOT NULL DEFAULT 0,
    conversations_d06       INTEGER NOT NULL DEFAULT 0,
    conversations_d07       INTEGER NOT NULL DEFAULT 0,
    conversations_d08       INTEGER NOT NULL DEFAULT 0,
    conversations_d09       INTEGER NOT NULL DEFAULT 0,
    conversations_d10       INTEGER NOT NULL DEFAULT 0,
    conversations_d11       INTEGER NOT NULL DEFAULT 0,
    conversations_d12       INTEGER NOT NULL DEFAULT 0,
    conversations_d13       INTEGER NOT NULL DEFAULT 0,
    conversations_d14       INTEGER NOT NULL DEFAULT 0,
    conversations_d15       INTEGER NOT NULL DEFAULT 0,
    conversations_d16       INTEGER NOT NULL DEFAULT 0,
    conversations_d17       INTEGER NOT NULL DEFAULT 0,
    conversations_d18       INTEGER NOT NULL DEFAULT 0,
    conversations_d19       INTEGER NOT NULL DEFAULT 0,
    conversations_d20       INTEGER NOT NULL DEFAULT 0,
    conversations_d21       INTEGER NOT NULL DEFAULT 0,
    conversations_d22       INTEGER NOT NULL DEFAULT 0,
    conversations_d23       INTEGER NOT NULL DEFAULT 0,
    conversations_d24       INTEGER NOT NULL DEFAULT 0,
    conversations_d25       INTEGER NOT NULL DEFAULT 0,
    conversations_d26       INTEGER NOT NULL DEFAULT 0,
    conversations_d27       INTEGER NOT NULL DEFAULT 0,
    conversations_d28       INTEGER NOT NULL DEFAULT 0,
    conversations_d29       INTEGER NOT NULL DEFAULT 0,
    conversations_d30       INTEGER NOT NULL DEFAULT 0,
    conversations_d31       INTEGER NOT NULL DEFAULT 0,
    cost_cents_d01          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d02          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d03          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d04          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d05          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d06          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d07          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d08          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d09          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d10          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d11          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d12          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d13          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d14          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d15          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d16          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d17          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d18          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d19          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d20          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d21          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d22          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d23          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d24          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d25          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d26          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d27          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d28          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d29          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d30          INTEGER NOT NULL DEFAULT 0,
    cost_cents_d31          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, agency_id, month)
);

CREATE INDEX usage_monthly_by_agency ON usage_monthly (agency_id, month);

ALTER TABLE tenant_counters ADD COLUMN agency_id BLOB REFERENCES agencies (id);
ALTER TABLE tenant_counters ADD COLUMN first_usage_month TEXT;
ALTER TABLE tenant_counters ADD COLUMN last_usage_month TEXT;
ALTER TABLE tenant_counters ADD COLUMN conversations_total INTEGER NOT NULL DEFAULT 0
    CONSTRAINT tenant_counters_conversations_total_range CHECK (conversations_total BETWEEN 0 AND 9000000000000000000);
ALTER TABLE tenant_counters ADD COLUMN cost_cents_total INTEGER NOT NULL DEFAULT 0
    CONSTRAINT tenant_counters_cost_cents_total_range CHECK (cost_cents_total BETWEEN 0 AND 9000000000000000000);

CREATE INDEX tenant_counters_by_agency ON tenant_counters (agency_id, last_usage_month);

-- What ingestion and call ends would have written for the usage already counted: a row for
-- every month from each tenant's first usage to its last.
WITH RECURSIVE months AS (
    SELECT d.tenant_id, date(d.day, 'start of month') AS month,
           SUM(d.conversations) AS conversations, SUM(d.cost_cents) AS cost_cents,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 1 THEN d.conversations ELSE 0 END) AS conversations_d01,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 2 THEN d.conversations ELSE 0 END) AS conversations_d02,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 3 THEN d.conversations ELSE 0 END) AS conversations_d03,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 4 THEN d.conversations ELSE 0 END) AS conversations_d04,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 5 THEN d.conversations ELSE 0 END) AS conversations_d05,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 6 THEN d.conversations ELSE 0 END) AS conversations_d06,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 7 THEN d.conversations ELSE 0 END) AS conversations_d07,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 8 THEN d.conversations ELSE 0 END) AS conversations_d08,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 9 THEN d.conversations ELSE 0 END) AS conversations_d09,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 10 THEN d.conversations ELSE 0 END) AS conversations_d10,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 11 THEN d.conversations ELSE 0 END) AS conversations_d11,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 12 THEN d.conversations ELSE 0 END) AS conversations_d12,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 13 THEN d.conversations ELSE 0 END) AS conversations_d13,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 14 THEN d.conversations ELSE 0 END) AS conversations_d14,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 15 THEN d.conversations ELSE 0 END) AS conversations_d15,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 16 THEN d.conversations ELSE 0 END) AS conversations_d16,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 17 THEN d.conversations ELSE 0 END) AS conversations_d17,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 18 THEN d.conversations ELSE 0 END) AS conversations_d18,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 19 THEN d.conversations ELSE 0 END) AS conversations_d19,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 20 THEN d.conversations ELSE 0 END) AS conversations_d20,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 21 THEN d.conversations ELSE 0 END) AS conversations_d21,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 22 THEN d.conversations ELSE 0 END) AS conversations_d22,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 23 THEN d.conversations ELSE 0 END) AS conversations_d23,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 24 THEN d.conversations ELSE 0 END) AS conversations_d24,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 25 THEN d.conversations ELSE 0 END) AS conversations_d25,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 26 THEN d.conversations ELSE 0 END) AS conversations_d26,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 27 THEN d.conversations ELSE 0 END) AS conversations_d27,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 28 THEN d.conversations ELSE 0 END) AS conversations_d28,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 29 THEN d.conversations ELSE 0 END) AS conversations_d29,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 30 THEN d.conversations ELSE 0 END) AS conversations_d30,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 31 THEN d.conversations ELSE 0 END) AS conversations_d31,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 1 THEN d.cost_cents ELSE 0 END) AS cost_cents_d01,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 2 THEN d.cost_cents ELSE 0 END) AS cost_cents_d02,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 3 THEN d.cost_cents ELSE 0 END) AS cost_cents_d03,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 4 THEN d.cost_cents ELSE 0 END) AS cost_cents_d04,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 5 THEN d.cost_cents ELSE 0 END) AS cost_cents_d05,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 6 THEN d.cost_cents ELSE 0 END) AS cost_cents_d06,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 7 THEN d.cost_cents ELSE 0 END) AS cost_cents_d07,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 8 THEN d.cost_cents ELSE 0 END) AS cost_cents_d08,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 9 THEN d.cost_cents ELSE 0 END) AS cost_cents_d09,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 10 THEN d.cost_cents ELSE 0 END) AS cost_cents_d10,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 11 THEN d.cost_cents ELSE 0 END) AS cost_cents_d11,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 12 THEN d.cost_cents ELSE 0 END) AS cost_cents_d12,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 13 THEN d.cost_cents ELSE 0 END) AS cost_cents_d13,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 14 THEN d.cost_cents ELSE 0 END) AS cost_cents_d14,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 15 THEN d.cost_cents ELSE 0 END) AS cost_cents_d15,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 16 THEN d.cost_cents ELSE 0 END) AS cost_cents_d16,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 17 THEN d.cost_cents ELSE 0 END) AS cost_cents_d17,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 18 THEN d.cost_cents ELSE 0 END) AS cost_cents_d18,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 19 THEN d.cost_cents ELSE 0 END) AS cost_cents_d19,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 20 THEN d.cost_cents ELSE 0 END) AS cost_cents_d20,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 21 THEN d.cost_cents ELSE 0 END) AS cost_cents_d21,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 22 THEN d.cost_cents ELSE 0 END) AS cost_cents_d22,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 23 THEN d.cost_cents ELSE 0 END) AS cost_cents_d23,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 24 THEN d.cost_cents ELSE 0 END) AS cost_cents_d24,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 25 THEN d.cost_cents ELSE 0 END) AS cost_cents_d25,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 26 THEN d.cost_cents ELSE 0 END) AS cost_cents_d26,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 27 THEN d.cost_cents ELSE 0 END) AS cost_cents_d27,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 28 THEN d.cost_cents ELSE 0 END) AS cost_cents_d28,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 29 THEN d.cost_cents ELSE 0 END) AS cost_cents_d29,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 30 THEN d.cost_cents ELSE 0 END) AS cost_cents_d30,
           SUM(CASE WHEN CAST(strftime('%d', d.day) AS INTEGER) <= 31 THEN d.cost_cents ELSE 0 END) AS cost_cents_d31
    FROM usage_daily d GROUP BY d.tenant_id, date(d.day, 'start of month')
), grid (tenant_id, month, last) AS (
    SELECT tenant_id, MIN(month), MAX(month) FROM months GROUP BY tenant_id
    UNION ALL
    SELECT tenant_id, date(month, '+1 month'), last FROM grid WHERE month < last
)
INSERT INTO usage_monthly (tenant_id, agency_id, month, conversations_before, cost_cents_before,
    conversations_d01, conversations_d02, conversations_d03, conversations_d04, conversations_d05, conversations_d06, conversations_d07, conversations_d08, conversations_d09, conversations_d10, conversations_d11, conversations_d12, conversations_d13, conversations_d14, conversations_d15, conversations_d16, conversations_d17, conversations_d18, conversations_d19, conversations_d20, conversations_d21, conversations_d22, conversations_d23, conversations_d24, conversations_d25, conversations_d26, conversations_d27, conversations_d28, conversations_d29, conversations_d30, conversations_d31, cost_cents_d01, cost_cents_d02, cost_cents_d03, cost_cents_d04, cost_cents_d05, cost_cents_d06, cost_cents_d07, cost_cents_d08, cost_cents_d09, cost_cents_d10, cost_cents_d11, cost_cents_d12, cost_cents_d13, cost_cents_d14, cost_cents_d15, cost_cents_d16, cost_cents_d17, cost_cents_d18, cost_cents_d19, cost_cents_d20, cost_cents_d21, cost_cents_d22, cost_cents_d23, cost_cents_d24, cost_cents_d25, cost_cents_d26, cost_cents_d27, cost_cents_d28, cost_cents_d29, cost_cents_d30, cost_cents_d31)
SELECT g.tenant_id, t.agency_id, g.month,
       COALESCE(SUM(COALESCE(m.conversations, 0)) OVER earlier, 0),
       COALESCE(SUM(COALESCE(m.cost_cents, 0)) OVER earlier, 0),
       COALESCE(m.conversations_d01, 0),
       COALESCE(m.conversations_d02, 0),
       COALESCE(m.conversations_d03, 0),
       COALESCE(m.conversations_d04, 0),
       COALESCE(m.conversations_d05, 0),
       COALESCE(m.conversations_d06, 0),
       COALESCE(m.conversations_d07, 0),
       COALESCE(m.conversations_d08, 0),
       COALESCE(m.conversations_d09, 0),
       COALESCE(m.conversations_d10, 0),
       COALESCE(m.conversations_d11, 0),
       COALESCE(m.conversations_d12, 0),
       COALESCE(m.conversations_d13, 0),
       COALESCE(m.conversations_d14, 0),
       COALESCE(m.conversations_d15, 0),
       COALESCE(m.conversations_d16, 0),
       COALESCE(m.conversations_d17, 0),
       COALESCE(m.conversations_d18, 0),
       COALESCE(m.conversations_d19, 0),
       COALESCE(m.conversations_d20, 0),
       COALESCE(m.conversations_d21, 0),
       COALESCE(m.conversations_d22, 0),
       COALESCE(m.conversations_d23, 0),
       COALESCE(m.conversations_d24, 0),
       COALESCE(m.conversations_d25, 0),
       COALESCE(m.conversations_d26, 0),
       COALESCE(m.conversations_d27, 0),
       COALESCE(m.conversations_d28, 0),
       COALESCE(m.conversations_d29, 0),
       COALESCE(m.conversations_d30, 0),
       COALESCE(m.conversations_d31, 0),
       COALESCE(m.cost_cents_d01, 0),
       COALESCE(m.cost_cents_d02, 0),
       COALESCE(m.cost_cents_d03, 0),
       COALESCE(m.cost_cents_d04, 0),
       COALESCE(m.cost_cents_d05, 0),
       COALESCE(m.cost_cents_d06, 0),
       COALESCE(m.cost_cents_d07, 0),
       COALESCE(m.cost_cents_d08, 0),
       COALESCE(m.cost_cents_d09, 0),
       COALESCE(m.cost_cents_d10, 0),
       COALESCE(m.cost_cents_d11, 0),
       COALESCE(m.cost_cents_d12, 0),
       COALESCE(m.cost_cents_d13, 0),
       COALESCE(m.cost_cents_d14, 0),
       COALESCE(m.cost_cents_d15, 0),
       COALESCE(m.cost_cents_d16, 0),
       COALESCE(m.cost_cents_d17, 0),
       COALESCE(m.cost_cents_d18, 0),
       COALESCE(m.cost_cents_d19, 0),
       COALESCE(m.cost_cents_d20, 0),
       COALESCE(m.cost_cents_d21, 0),
       COALESCE(m.cost_cents_d22, 0),
       COALESCE(m.cost_cents_d23, 0),
       COALESCE(m.cost_cents_d24, 0),
       COALESCE(m.cost_cents_d25, 0),
       COALESCE(m.cost_cents_d26, 0),
       COALESCE(m.cost_cents_d27, 0),
       COALESCE(m.cost_cents_d28, 0),
       COALESCE(m.cost_cents_d29, 0),
       COALESCE(m.cost_cents_d30, 0),
       COALESCE(m.cost_cents_d31, 0)
FROM grid g
JOIN tenants t ON t.id = g.tenant_id AND t.agency_id IS NOT NULL
LEFT JOIN months m ON m.tenant_id = g.tenant_id AND m.month = g.month
WINDOW earlier AS (PARTITION BY g.tenant_id ORDER BY g.month ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING);

UPDATE tenant_counters SET agency_id = (SELECT t.agency_id FROM tenants t WHERE t.id = tenant_counters.tenant_id);

UPDATE tenant_counters SET
    first_usage_month = (SELECT MIN(m.month) FROM usage_monthly m WHERE m.tenant_id = tenant_counters.tenant_id),
    last_usage_month = (SELECT MAX(m.month) FROM usage_monthly m WHERE m.tenant_id = tenant_counters.tenant_id),
    conversations_total = COALESCE((SELECT m.conversations_before + m.conversations_d31 FROM usage_monthly m
        WHERE m.tenant_id = tenant_counters.tenant_id ORDER BY m.month DESC LIMIT 1), 0),
    cost_cents_total = COALESCE((SELECT m.cost_cents_before + m.cost_cents_d31 FROM usage_monthly m
        WHERE m.tenant_id = tenant_counters.tenant_id ORDER BY m.month DESC LIMIT 1), 0);

CREATE TABLE agency_counters (
    agency_id      BLOB PRIMARY KEY REFERENCES agencies (id),
    tenants        INTEGER NOT NULL DEFAULT 0,
    active_tenants INTEGER NOT NULL DEFAULT 0
);

INSERT INTO agency_counters (agency_id, tenants, active_tenants)
SELECT a.id,
       (SELECT COUNT(*) FROM tenants t WHERE t.agency_id = a.id AND t.status <> 'deleted'),
       (SELECT COUNT(*) FROM tenants t WHERE t.agency_id = a.id AND t.status = 'active')
FROM agencies a;

CREATE TRIGGER agencies_counters AFTER INSERT ON agencies BEGIN
    INSERT INTO agency_counters (agency_id) VALUES (NEW.id);
END;

-- A tenant counts for its agency unless deleted, and as active when active.
CREATE TRIGGER tenants_counters_insert AFTER INSERT ON tenants WHEN NEW.agency_id IS NOT NULL BEGIN
    UPDATE agency_counters SET
        tenants = tenants + (NEW.status <> 'deleted'),
        active_tenants = active_tenants + (NEW.status = 'active')
    WHERE agency_id = NEW.agency_id;
END;

CREATE TRIGGER tenants_counters_update AFTER UPDATE OF status, agency_id ON tenants
WHEN OLD.status IS NOT NEW.status OR OLD.agency_id IS NOT NEW.agency_id BEGIN
    UPDATE agency_counters SET
        tenants = tenants - (OLD.status <> 'deleted'),
        active_tenants = active_tenants - (OLD.status = 'active')
    WHERE agency_id = OLD.agency_id;
    UPDATE agency_counters SET
        tenants = tenants + (NEW.status <> 'deleted'),
        active_tenants = active_tenants + (NEW.status = 'active')
    WHERE agency_id = NEW.agency_id;
END;

CREATE TRIGGER tenants_counters_delete AFTER DELETE ON tenants WHEN OLD.agency_id IS NOT NULL BEGIN
    UPDATE agency_counters SET
        tenants = tenants - (OLD.status <> 'deleted'),
        active_tenants = active_tenants - (OLD.status = 'active')
    WHERE agency_id = OLD.agency_id;
END;
