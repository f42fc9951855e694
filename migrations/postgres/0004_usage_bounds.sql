-- Usage counters get a ceiling that the database enforces: 9000000000000000000 (MAX_COUNTER in
-- src/domain/metering.rs). It lies further below i64::MAX than any one write adds, so an
-- addition is refused by the check (SQLSTATE 23514, naming the constraint) rather than by a
-- BIGINT overflow that names nothing. Each constraint is named <table>_<column>_range: the
-- store maps a refusal to the counter by that name.
--
-- A counter already past the ceiling (PostgreSQL refused overflows, so at most i64::MAX) is
-- kept at the ceiling.

UPDATE tenant_usage
SET calls = LEAST(GREATEST(calls, 0), 9000000000000000000),
    seconds = LEAST(GREATEST(seconds, 0), 9000000000000000000),
    cost_cents = LEAST(GREATEST(cost_cents, 0), 9000000000000000000)
WHERE calls NOT BETWEEN 0 AND 9000000000000000000
   OR seconds NOT BETWEEN 0 AND 9000000000000000000
   OR cost_cents NOT BETWEEN 0 AND 9000000000000000000;

ALTER TABLE tenant_usage
    ADD CONSTRAINT tenant_usage_calls_range CHECK (calls BETWEEN 0 AND 9000000000000000000),
    ADD CONSTRAINT tenant_usage_seconds_range CHECK (seconds BETWEEN 0 AND 9000000000000000000),
    ADD CONSTRAINT tenant_usage_cost_cents_range
        CHECK (cost_cents BETWEEN 0 AND 9000000000000000000);

UPDATE usage_daily
SET conversations = LEAST(GREATEST(conversations, 0), 9000000000000000000),
    seconds = LEAST(GREATEST(seconds, 0), 9000000000000000000),
    cost_cents = LEAST(GREATEST(cost_cents, 0), 9000000000000000000),
    sentiment_micros_sum =
        LEAST(GREATEST(sentiment_micros_sum, -9000000000000000000), 9000000000000000000),
    sentiment_count = LEAST(GREATEST(sentiment_count, 0), 9000000000000000000)
WHERE conversations NOT BETWEEN 0 AND 9000000000000000000
   OR seconds NOT BETWEEN 0 AND 9000000000000000000
   OR cost_cents NOT BETWEEN 0 AND 9000000000000000000
   OR sentiment_micros_sum NOT BETWEEN -9000000000000000000 AND 9000000000000000000
   OR sentiment_count NOT BETWEEN 0 AND 9000000000000000000;

ALTER TABLE usage_daily
    ADD CONSTRAINT usage_daily_conversations_range
        CHECK (conversations BETWEEN 0 AND 9000000000000000000),
    ADD CONSTRAINT usage_daily_seconds_range CHECK (seconds BETWEEN 0 AND 9000000000000000000),
    ADD CONSTRAINT usage_daily_cost_cents_range
        CHECK (cost_cents BETWEEN 0 AND 9000000000000000000),
    ADD CONSTRAINT usage_daily_sentiment_micros_sum_range
        CHECK (sentiment_micros_sum BETWEEN -9000000000000000000 AND 9000000000000000000),
    ADD CONSTRAINT usage_daily_sentiment_count_range
        CHECK (sentiment_count BETWEEN 0 AND 9000000000000000000);
