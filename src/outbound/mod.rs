//! Requests tenantry sends out. `ranges` lists the addresses webhooks may not be sent to.

pub mod ranges;
