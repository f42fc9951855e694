-- Request-rate budgets by plan (requests per minute with one key), as the default catalog's
-- plans grant them. A plan without them, and every other rate-limit policy, spends the
-- server's default budget. Enterprise is custom: it starts at Business and is raised on the
-- plan or per tenant.
WITH budgets (code, key, value) AS (
    VALUES
        ('free', 'apiStandardPerMinute', 60),
        ('free', 'apiWritePerMinute', 20),
        ('starter', 'apiStandardPerMinute', 60),
        ('starter', 'apiWritePerMinute', 20),
        ('business', 'apiStandardPerMinute', 300),
        ('business', 'apiWritePerMinute', 120),
        ('enterprise', 'apiStandardPerMinute', 300),
        ('enterprise', 'apiWritePerMinute', 120)
)
INSERT INTO plan_limits (plan_id, key, value)
SELECT plans.id, budgets.key, budgets.value
FROM plans JOIN budgets ON budgets.code = plans.code
WHERE true
ON CONFLICT DO NOTHING;
