//! The fields of each resource kind, one module per kind (see [`super::resource`]).

pub mod integration;
pub mod phone_number;
pub mod sip_trunk;
pub mod squad;
pub mod stored;
pub mod workflow;
