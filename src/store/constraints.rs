//! What each database constraint means: one table per backend, so that a refused write
//! becomes a domain error by the constraint's name, never by parsing its message for words.

use crate::domain::conflict::Conflict;
use crate::domain::metering::Counter;

use super::exec::Backend;

/// Unique constraints on PostgreSQL, by the name PostgreSQL gives them.
const POSTGRES_UNIQUE: &[(&str, Conflict)] = &[
    ("tenants_slug_key", Conflict::SlugTaken),
    ("plans_code_key", Conflict::PlanCodeTaken),
    ("resources_unique_key", Conflict::UniqueValueTaken),
    ("transfers_one_pending", Conflict::TransferPending),
    ("custom_domains_domain_key", Conflict::DomainTaken),
];

/// Unique constraints on SQLite, by the `table.column` its message names.
const SQLITE_UNIQUE: &[(&str, Conflict)] = &[
    ("tenants.slug", Conflict::SlugTaken),
    ("plans.code", Conflict::PlanCodeTaken),
    (
        "resources.kind, resources.unique_key",
        Conflict::UniqueValueTaken,
    ),
    ("transfers.tenant_id", Conflict::TransferPending),
    ("custom_domains.domain", Conflict::DomainTaken),
];

/// The conflict a unique constraint stands for; [`Conflict::Other`] for one not listed.
pub fn unique(backend: Backend, name: &str) -> Conflict {
    let table = match backend {
        Backend::Postgres => POSTGRES_UNIQUE,
        Backend::Sqlite => SQLITE_UNIQUE,
    };
    table
        .iter()
        .find(|(constraint, _)| *constraint == name)
        .map_or(Conflict::Other, |(_, conflict)| *conflict)
}

/// The usage counter a bound (`CHECK`) constraint guards. Both backends use the names of
/// migrations 0004 and 0007, `<table>_<column>_range`.
pub fn counter_bound(name: &str) -> Option<Counter> {
    let column = ["tenant_usage_", "usage_daily_", "tenant_counters_"]
        .iter()
        .find_map(|table| name.strip_prefix(table))?
        .strip_suffix("_range")?;
    match column {
        "calls" | "conversations" | "conversations_total" => Some(Counter::Conversations),
        "seconds" => Some(Counter::Seconds),
        "cost_cents" | "cost_cents_total" => Some(Counter::CostCents),
        "sentiment_micros_sum" | "sentiment_count" => Some(Counter::Sentiment),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_constraints_have_one_meaning_on_each_backend() {
        for (backend, name) in [
            (Backend::Postgres, "tenants_slug_key"),
            (Backend::Sqlite, "tenants.slug"),
        ] {
            assert_eq!(unique(backend, name), Conflict::SlugTaken);
        }
        assert_eq!(unique(Backend::Postgres, "plans.code"), Conflict::Other);
    }

    #[test]
    fn bound_constraints_name_their_counter() {
        assert_eq!(
            counter_bound("tenant_usage_cost_cents_range"),
            Some(Counter::CostCents)
        );
        assert_eq!(
            counter_bound("usage_daily_conversations_range"),
            Some(Counter::Conversations)
        );
        assert_eq!(
            counter_bound("usage_daily_sentiment_count_range"),
            Some(Counter::Sentiment)
        );
        assert_eq!(
            counter_bound("tenant_counters_cost_cents_total_range"),
            Some(Counter::CostCents)
        );
        assert_eq!(counter_bound("tenants_slug_key"), None);
        assert_eq!(counter_bound("usage_daily_channel_range"), None);
    }
}
