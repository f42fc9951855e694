//! Requests tenantry sends out. `guard` decides which webhook destinations may be reached;
//! `ranges` lists the addresses it refuses.

pub mod guard;
pub mod ranges;

pub use guard::{DestinationGuard, GuardSettings, Refused};

#[cfg(test)]
mod tests;
