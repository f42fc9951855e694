//! Requests tenantry sends out. `guard` decides which webhook destinations may be reached;
//! `ranges` lists the addresses it refuses; `sender` makes one signed webhook attempt; `dns`
//! builds the resolver every lookup uses and looks up custom domains' CNAME records.

pub mod dns;
pub mod guard;
pub mod ranges;
pub mod sender;

pub use dns::CnameResolver;
pub use guard::{DestinationGuard, GuardSettings, Refused};
pub use sender::Sender;
