//! Requests tenantry sends out. `guard` decides which webhook destinations may be reached;
//! `ranges` lists the addresses it refuses; `sender` makes one signed webhook attempt.

pub mod guard;
pub mod ranges;
pub mod sender;

pub use guard::{DestinationGuard, GuardSettings, Refused};
pub use sender::Sender;

#[cfg(test)]
mod tests;
