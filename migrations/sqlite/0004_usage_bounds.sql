-- Usage counters get a ceiling that the database enforces: 9000000000000000000 (MAX_COUNTER in
-- src/domain/metering.rs). It lies further below i64::MAX than any one write adds, so an
-- addition never overflows (SQLite would store it as a REAL that no read can decode) before
-- the check refuses it. Each constraint is named <table>_<column>_range: the store maps a
-- refusal to the counter by that name.
--
-- SQLite cannot add a CHECK to an existing table, so both tables are rebuilt with their rows
-- (their only index is the primary key, rebuilt with them). A counter that overflowed before
-- this migration (a REAL, or past the ceiling) is kept at the ceiling.

CREATE TABLE tenant_usage_bounded (
    tenant_id    BLOB NOT NULL REFERENCES tenants (id),
    period_start TEXT NOT NULL,
    calls        INTEGER NOT NULL DEFAULT 0
        CONSTRAINT tenant_usage_calls_range CHECK (calls BETWEEN 0 AND 9000000000000000000),
    seconds      INTEGER NOT NULL DEFAULT 0
        CONSTRAINT tenant_usage_seconds_range CHECK (seconds BETWEEN 0 AND 9000000000000000000),
    cost_cents   INTEGER NOT NULL DEFAULT 0
        CONSTRAINT tenant_usage_cost_cents_range CHECK (cost_cents BETWEEN 0 AND 9000000000000000000),
    PRIMARY KEY (tenant_id, period_start)
);

INSERT INTO tenant_usage_bounded (tenant_id, period_start, calls, seconds, cost_cents)
SELECT tenant_id, period_start,
       MAX(0, MIN(CAST(calls AS INTEGER), 9000000000000000000)),
       MAX(0, MIN(CAST(seconds AS INTEGER), 9000000000000000000)),
       MAX(0, MIN(CAST(cost_cents AS INTEGER), 9000000000000000000))
FROM tenant_usage;

DROP TABLE tenant_usage;
ALTER TABLE tenant_usage_bounded RENAME TO tenant_usage;

CREATE TABLE usage_daily_bounded (
    tenant_id                BLOB NOT NULL REFERENCES tenants (id),
    day                      TEXT NOT NULL,
    channel                  TEXT NOT NULL,
    conversations            INTEGER NOT NULL DEFAULT 0
        CONSTRAINT usage_daily_conversations_range
        CHECK (conversations BETWEEN 0 AND 9000000000000000000),
    seconds                  INTEGER NOT NULL DEFAULT 0
        CONSTRAINT usage_daily_seconds_range CHECK (seconds BETWEEN 0 AND 9000000000000000000),
    cost_cents               INTEGER NOT NULL DEFAULT 0
        CONSTRAINT usage_daily_cost_cents_range
        CHECK (cost_cents BETWEEN 0 AND 9000000000000000000),
    sentiment_micros_sum     INTEGER NOT NULL DEFAULT 0
        CONSTRAINT usage_daily_sentiment_micros_sum_range
        CHECK (sentiment_micros_sum BETWEEN -9000000000000000000 AND 9000000000000000000),
    sentiment_count          INTEGER NOT NULL DEFAULT 0
        CONSTRAINT usage_daily_sentiment_count_range
        CHECK (sentiment_count BETWEEN 0 AND 9000000000000000000),
    PRIMARY KEY (tenant_id, day, channel)
);

INSERT INTO usage_daily_bounded (tenant_id, day, channel, conversations, seconds, cost_cents,
                                 sentiment_micros_sum, sentiment_count)
SELECT tenant_id, day, channel,
       MAX(0, MIN(CAST(conversations AS INTEGER), 9000000000000000000)),
       MAX(0, MIN(CAST(seconds AS INTEGER), 9000000000000000000)),
       MAX(0, MIN(CAST(cost_cents AS INTEGER), 9000000000000000000)),
       MAX(-9000000000000000000, MIN(CAST(sentiment_micros_sum AS INTEGER), 9000000000000000000)),
       MAX(0, MIN(CAST(sentiment_count AS INTEGER), 9000000000000000000))
FROM usage_daily;

DROP TABLE usage_daily;
ALTER TABLE usage_daily_bounded RENAME TO usage_daily;
