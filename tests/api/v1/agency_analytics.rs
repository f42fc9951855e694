//! Agency analytics in the seed 003 shape: an agency's tenants counted and ranked by
//! conversations, with revenue at the agency's markup; only agency and platform keys ask.

use chrono::{Datelike, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::support::event;

/// Every conversation of these stories costs $1.25.
const CENTS_EACH: i64 = 125;

fn usd(cents: i64) -> Value {
    json!(cents as f64 / 100.0)
}

both!(
    agency_analytics_rank_tenants_and_add_the_markup,
    |app| async move {
        let agency = app.agency().name("Voisnap Agency").create().await;
        let elsewhere = app.agency().name("Elsewhere").create().await;
        let now = Utc::now();
        let today = now.date_naive();
        let conversations = |count: i64| -> Vec<Value> {
            (0..count)
                .map(|i| event(&format!("e-{i}"), now, "phone", 60, CENTS_EACH, None))
                .collect()
        };
        // Client n has n conversations.
        let mut clients = Vec::new();
        for n in 1..=12 {
            let client = app
                .tenant()
                .name(&format!("Client {n:02}"))
                .of(&agency)
                .create()
                .await;
            assert_eq!(client.ingest(&conversations(n)).await, (n, 0));
            clients.push(client);
        }
        let dormant = app.tenant().name("Dormant").of(&agency).create().await;
        app.set_tenant_status(&dormant.id, "inactive").await;
        let foreign = app.tenant().name("Foreign").of(&elsewhere).create().await;
        assert_eq!(foreign.ingest(&conversations(50)).await, (50, 0));

        let path = format!("/api/v1/agency/analytics?dateFrom={today}&dateTo={today}");
        let expected = |markup_cents: i64| {
            let top: Vec<Value> = (3..=12)
                .rev()
                .map(|n: i64| {
                    json!({
                        "id": clients[n as usize - 1].id,
                        "name": format!("Client {n:02}"),
                        "conversations": n,
                        "revenue": usd(n * markup_cents),
                        "costUsd": usd(n * CENTS_EACH),
                    })
                })
                .collect();
            json!({
                "agencyId": agency.id,
                "period": { "from": today.to_string(), "to": today.to_string() },
                "totalTenants": 13,
                "activeTenants": 12,
                "totalConversations": 78,
                "totalCostUsd": usd(78 * CENTS_EACH),
                "totalCostCents": 78 * CENTS_EACH,
                "topTenants": top,
            })
        };

        let answer = agency.client.get(&path).await;
        answer.assert_status(StatusCode::OK);
        assert_eq!(answer.body, expected(CENTS_EACH), "{}", answer.text);
        let by_platform = app
            .platform()
            .get(&format!("{path}&agencyId={}", agency.id))
            .await;
        assert_eq!(by_platform.body, answer.body);
        let this_month = agency.client.get("/api/v1/agency/analytics").await;
        assert_eq!(this_month.body["totalConversations"], 78);

        // A 20% markup: $1.25 becomes $1.50 per conversation.
        app.platform()
            .patch(
                &format!("/api/v1/agencies/{}", agency.id),
                &json!({ "markupPercent": 20 }),
            )
            .await
            .assert_status(StatusCode::OK);
        let marked_up = agency.client.get(&path).await;
        marked_up.assert_status(StatusCode::OK);
        assert_eq!(marked_up.body, expected(150), "{}", marked_up.text);
    }
);

both!(
    agency_analytics_are_for_agency_and_platform_keys,
    |app| async move {
        let agency = app.agency().name("Mine").create().await;
        let other = app.agency().name("Theirs").create().await;
        let tenant = app.tenant().of(&agency).create().await;

        app.platform()
            .get("/api/v1/agency/analytics")
            .await
            .assert_invalid("agencyId");
        tenant
            .client
            .get("/api/v1/agency/analytics")
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        agency
            .client
            .get(&format!("/api/v1/agency/analytics?agencyId={}", other.id))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        let unknown = tenantry::domain::ids::AgencyId::generate().to_string();
        app.platform()
            .get(&format!("/api/v1/agency/analytics?agencyId={unknown}"))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        agency
            .client
            .get("/api/v1/agency/analytics?dateFrom=2025-02-01&dateTo=2025-01-31")
            .await
            .assert_invalid("dateFrom");

        let quiet = agency.client.get("/api/v1/agency/analytics").await;
        quiet.assert_status(StatusCode::OK);
        assert_eq!(quiet.body["agencyId"], agency.id.as_str());
        assert_eq!(quiet.body["totalTenants"], 1);
        assert_eq!(quiet.body["activeTenants"], 1);
        assert_eq!(quiet.body["totalConversations"], 0);
        assert_eq!(quiet.body["totalCostUsd"], 0.0);
        assert_eq!(quiet.body["topTenants"], json!([]));
    }
);

/// A small deterministic generator, so a failing range can be replayed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, bound: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

/// The UTC day an event happened on.
fn counted_day(event: &Value) -> NaiveDate {
    let at = event["occurredAt"].as_str().expect("an event time");
    chrono::DateTime::parse_from_rfc3339(at)
        .expect("an RFC 3339 time")
        .date_naive()
}

/// One conversation as the brute force counts it: whose, which day, what it cost.
struct Counted {
    tenant: usize,
    day: NaiveDate,
    cents: i64,
}

both!(
    agency_analytics_match_a_brute_force_sum_over_every_range,
    |app| async move {
        let agency = app.agency().name("Exact").create().await;
        let elsewhere = app.agency().name("Elsewhere").create().await;
        let mut tenants = Vec::new();
        for n in 0..5 {
            tenants.push(
                app.tenant()
                    .name(&format!("Client {n}"))
                    .of(&agency)
                    .create()
                    .await,
            );
        }
        let foreign = app.tenant().name("Foreign").of(&elsewhere).create().await;
        let today = Utc::now().date_naive();
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let span = (today - start).num_days() as u64;
        let mut dice = Dice(0x5EED_1234_ABCD_0001);

        // Usage over almost three years: tenant 0 every month, tenant 1 in a few months with
        // gaps between them, tenant 2 only on month ends and starts, tenant 3 sparse, tenant 4
        // deleted at the end. Sent in shuffled batches, so most months are written after later
        // ones: the late path of every write.
        let mut counted = Vec::new();
        let mut events = Vec::new();
        for i in 0..700 {
            let tenant = (dice.below(5)) as usize;
            let day = match tenant {
                1 => {
                    let months = [(2024, 2), (2024, 7), (2025, 1), (2025, 12)];
                    let (year, month) = months[dice.below(4) as usize];
                    NaiveDate::from_ymd_opt(year, month, 1 + dice.below(28) as u32).unwrap()
                }
                2 => {
                    let day = start + chrono::Days::new(dice.below(span));
                    let first = day.with_day(1).unwrap();
                    if dice.below(2) == 0 {
                        first
                    } else {
                        first
                            .checked_add_months(chrono::Months::new(1))
                            .unwrap()
                            .pred_opt()
                            .unwrap()
                            .min(today)
                    }
                }
                3 if dice.below(3) > 0 => continue,
                _ => start + chrono::Days::new(dice.below(span + 1)),
            };
            let cents = dice.below(10_000) as i64;
            let at = day.and_hms_opt(12, 0, 0).unwrap().and_utc().min(Utc::now());
            events.push((
                tenant,
                event(&format!("e-{i}"), at, "phone", 30, cents, None),
            ));
            counted.push(Counted { tenant, day, cents });
        }
        // Half of them newest first, so each batch lands before the series' first month, often
        // with months between; the rest in random order.
        let mut newest_first: Vec<(usize, NaiveDate, Value)> = Vec::new();
        let mut i = 0;
        while i < events.len() {
            if dice.below(2) == 0 {
                let (tenant, event) = events.swap_remove(i);
                let day = counted_day(&event);
                newest_first.push((tenant, day, event));
            } else {
                i += 1;
            }
        }
        newest_first.sort_by_key(|e| std::cmp::Reverse(e.1));
        for (n, tenant) in tenants.iter().enumerate() {
            let mine: Vec<Value> = newest_first
                .iter()
                .filter(|e| e.0 == n)
                .map(|e| e.2.clone())
                .collect();
            for batch in mine.chunks(7) {
                let size = batch.len() as i64;
                assert_eq!(tenant.ingest(batch).await, (size, 0));
            }
        }
        while !events.is_empty() {
            let pick = dice.below(events.len() as u64) as usize;
            let (tenant, first) = events.swap_remove(pick);
            let mut batch = vec![first];
            let mut i = 0;
            while i < events.len() && batch.len() < 40 {
                if events[i].0 == tenant && dice.below(2) == 0 {
                    batch.push(events.swap_remove(i).1);
                } else {
                    i += 1;
                }
            }
            let size = batch.len() as i64;
            assert_eq!(tenants[tenant].ingest(&batch).await, (size, 0));
        }
        // A call that ends counts on the day it started; the foreign tenant counts nowhere here.
        let call = tenants[0].admit("webchat").await;
        tenants[0].end(&call, 60, 777, None).await;
        counted.push(Counted {
            tenant: 0,
            day: today,
            cents: 777,
        });
        let foreign_events = [event("f", Utc::now(), "phone", 30, 5, None)];
        assert_eq!(foreign.ingest(&foreign_events).await, (1, 0));
        app.set_tenant_status(&tenants[4].id, "deleted").await;

        let brute_force = |from: NaiveDate, to: NaiveDate| {
            let mut per_tenant = [(0_i64, 0_i64); 4];
            for c in counted
                .iter()
                .filter(|c| c.tenant < 4 && c.day >= from && c.day <= to)
            {
                per_tenant[c.tenant].0 += 1;
                per_tenant[c.tenant].1 += c.cents;
            }
            let total: (i64, i64) = per_tenant
                .iter()
                .fold((0, 0), |sum, t| (sum.0 + t.0, sum.1 + t.1));
            let mut top: Vec<Value> = per_tenant
                .iter()
                .enumerate()
                .filter(|(_, usage)| **usage != (0, 0))
                .map(|(n, usage)| {
                    json!({
                        "id": tenants[n].id,
                        "name": format!("Client {n}"),
                        "conversations": usage.0,
                        "revenue": usd(usage.1),
                        "costUsd": usd(usage.1),
                    })
                })
                .collect();
            top.sort_by(|a, b| {
                b["conversations"]
                    .as_i64()
                    .cmp(&a["conversations"].as_i64())
                    .then(a["id"].as_str().cmp(&b["id"].as_str()))
            });
            (total, top)
        };

        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let mut ranges = vec![
            (day(2023, 6, 1), day(2024, 5, 31)),
            (day(2024, 2, 1), day(2024, 2, 29)),
            (day(2024, 2, 29), day(2024, 3, 1)),
            (day(2024, 3, 1), day(2025, 2, 28)),
            (day(2025, 12, 31), day(2026, 1, 1)),
            (today - chrono::Days::new(365), today),
            (today, today),
            (today, today + chrono::Days::new(30)),
        ];
        for _ in 0..40 {
            let from = start - chrono::Days::new(40) + chrono::Days::new(dice.below(span + 40));
            let length = match dice.below(3) {
                0 => dice.below(31),
                1 => dice.below(95),
                _ => dice.below(366),
            };
            ranges.push((from, from + chrono::Days::new(length)));
        }
        for (from, to) in ranges {
            let got = &agency.analytics_between(from, to).await;
            let ((conversations, cents), top) = brute_force(from, to);
            assert_eq!(
                (&got["totalConversations"], &got["totalCostCents"]),
                (&json!(conversations), &json!(cents)),
                "{from}..{to}: {got}"
            );
            assert_eq!(got["topTenants"], json!(top), "{from}..{to}");
            assert_eq!(got["totalTenants"], 4);
        }
    }
);
