//! Per-service blocks: an agency or the platform refuses some of a tenant's services (calls,
//! agents, SIP, recordings, analytics) while the rest keeps working. Unlike a deactivation, a
//! block leaves the lifecycle status as it is; an active tenant only reads `blocked`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use strum::{EnumString, IntoStaticStr, VariantNames};

use super::{Tenant, TenantStatus};
use crate::domain::validation::{FieldError, Violations};

/// A service a block can refuse.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumString,
    IntoStaticStr,
    VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum BlockedService {
    /// Starting calls (admission); calls in progress may still end.
    Calls,
    /// Creating agents and switching one on.
    Agents,
    /// Creating and changing SIP trunks and phone numbers.
    Sip,
    /// Reading, playing and storing call recordings.
    Recordings,
    /// The tenant's analytics.
    Analytics,
}

impl BlockedService {
    pub const ALL: [BlockedService; 5] = [
        BlockedService::Calls,
        BlockedService::Agents,
        BlockedService::Sip,
        BlockedService::Recordings,
        BlockedService::Analytics,
    ];

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Every service: what a block that names none refuses.
    pub fn all() -> BTreeSet<BlockedService> {
        Self::ALL.into_iter().collect()
    }
}

/// A block in force: the services it refuses, why, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Never empty.
    pub services: BTreeSet<BlockedService>,
    pub reason: Option<String>,
    /// When the tenant was blocked; a block changed since keeps it.
    pub at: DateTime<Utc>,
}

/// The longest block reason.
pub const BLOCK_REASON_MAX: usize = 500;

/// A checked request to block or unblock a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockChange {
    /// Block these services (the block in force, if any, is replaced by this one).
    Block {
        services: BTreeSet<BlockedService>,
        reason: Option<String>,
    },
    /// Lift the whole block.
    Lift,
}

impl BlockChange {
    /// The change a request asks for: `blocked: false` lifts the whole block (its services and
    /// reason are still checked, then ignored); `blocked: true` without services blocks all.
    pub fn parse(
        blocked: bool,
        reason: Option<String>,
        services: Option<Vec<BlockedService>>,
    ) -> Result<BlockChange, Vec<FieldError>> {
        let mut violations = Violations::default();
        if let Some(reason) = &reason {
            violations.length("reason", reason, 1, BLOCK_REASON_MAX);
        }
        if services.as_ref().is_some_and(Vec::is_empty) {
            violations.add(
                "blockServices",
                "too_few_items",
                "names at least one service; leave it out to block every service",
            );
        }
        violations.finish(|| match blocked {
            false => BlockChange::Lift,
            true => BlockChange::Block {
                services: services.map_or_else(BlockedService::all, |s| s.into_iter().collect()),
                reason,
            },
        })
    }

    /// The block after this change laid over `current`, or `None` when it changes nothing:
    /// blocking again as the block stands, or lifting no block. `at` is when a new block
    /// starts.
    pub fn next(&self, current: Option<&Block>, at: DateTime<Utc>) -> Option<Option<Block>> {
        match (self, current) {
            (BlockChange::Lift, None) => None,
            (BlockChange::Lift, Some(_)) => Some(None),
            (BlockChange::Block { services, reason }, Some(block))
                if &block.services == services && &block.reason == reason =>
            {
                None
            }
            (BlockChange::Block { services, reason }, current) => Some(Some(Block {
                services: services.clone(),
                reason: reason.clone(),
                at: current.map_or(at, |block| block.at),
            })),
        }
    }
}

/// A tenant's status as every surface shows it: its lifecycle status, except that an active
/// tenant reads `blocked` while a block is in force. Lists filter on it the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum EffectiveStatus {
    Active,
    Blocked,
    Inactive,
    Deleted,
}

impl EffectiveStatus {
    pub fn of(status: TenantStatus, blocked: bool) -> EffectiveStatus {
        match status {
            TenantStatus::Active if blocked => EffectiveStatus::Blocked,
            TenantStatus::Active => EffectiveStatus::Active,
            TenantStatus::Inactive => EffectiveStatus::Inactive,
            TenantStatus::Deleted => EffectiveStatus::Deleted,
        }
    }
}

impl From<TenantStatus> for EffectiveStatus {
    fn from(status: TenantStatus) -> Self {
        EffectiveStatus::of(status, false)
    }
}

impl Tenant {
    /// Its status as every surface shows it.
    pub fn effective_status(&self) -> EffectiveStatus {
        EffectiveStatus::of(self.status, self.block.is_some())
    }

    /// Whether its block refuses `service`.
    pub fn blocks(&self, service: BlockedService) -> bool {
        self.block
            .as_ref()
            .is_some_and(|block| block.services.contains(&service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn a_block_without_services_blocks_every_one() {
        let change = BlockChange::parse(true, None, None).unwrap();
        assert_eq!(
            change,
            BlockChange::Block {
                services: BlockedService::all(),
                reason: None
            }
        );
        assert_eq!(
            BlockChange::parse(false, Some("paid".into()), None),
            Ok(BlockChange::Lift)
        );
    }

    #[test]
    fn bad_input_names_its_field() {
        let errors = BlockChange::parse(true, Some("x".repeat(501)), Some(vec![])).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["reason", "blockServices"]);
        assert!(BlockChange::parse(true, Some("x".repeat(500)), None).is_ok());
        assert!(BlockChange::parse(true, Some(String::new()), None).is_err());
    }

    #[test]
    fn blocking_again_changes_nothing_and_a_changed_block_keeps_its_start() {
        let calls = BlockChange::parse(true, None, Some(vec![BlockedService::Calls])).unwrap();
        let first = calls.next(None, at(1)).unwrap().unwrap();
        assert_eq!(first.at, at(1));
        assert_eq!(calls.next(Some(&first), at(2)), None);
        let more = BlockChange::parse(
            true,
            None,
            Some(vec![BlockedService::Sip, BlockedService::Calls]),
        )
        .unwrap();
        let changed = more.next(Some(&first), at(3)).unwrap().unwrap();
        assert_eq!(changed.at, at(1));
        assert_eq!(changed.services.len(), 2);
        assert_eq!(BlockChange::Lift.next(Some(&changed), at(4)), Some(None));
        assert_eq!(BlockChange::Lift.next(None, at(4)), None);
    }

    #[test]
    fn only_an_active_tenant_reads_blocked() {
        assert_eq!(
            EffectiveStatus::of(TenantStatus::Active, true),
            EffectiveStatus::Blocked
        );
        assert_eq!(
            EffectiveStatus::of(TenantStatus::Inactive, true),
            EffectiveStatus::Inactive
        );
        assert_eq!(<&str>::from(BlockedService::Recordings), "recordings");
        assert_eq!("sip".parse(), Ok(BlockedService::Sip));
    }
}
