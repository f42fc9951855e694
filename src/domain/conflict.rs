//! Conflicts: a write that a uniqueness rule or the state of an object refuses.

/// A unique value that is taken. The store maps each database constraint to one of these
/// (`store::constraints`); the service renders them with a stable code and the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    SlugTaken,
    PlanCodeTaken,
    /// A resource's platform-wide unique value (a phone number) is another's.
    UniqueValueTaken,
    /// The write names an object that is gone, or removes one that others still name.
    ReferenceGone,
    /// A rule without a domain meaning of its own.
    Other,
}

impl Conflict {
    pub fn code(self) -> &'static str {
        match self {
            Conflict::SlugTaken => "slug_taken",
            Conflict::PlanCodeTaken => "code_taken",
            Conflict::UniqueValueTaken => "unique_value_taken",
            Conflict::ReferenceGone => "reference_conflict",
            Conflict::Other => "conflict",
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            Conflict::SlugTaken => "this slug is taken",
            Conflict::PlanCodeTaken => "this code is taken",
            Conflict::UniqueValueTaken => "this value is another's",
            Conflict::ReferenceGone => {
                "the change names an object that is gone, or removes one still in use"
            }
            Conflict::Other => "the change conflicts with existing data",
        }
    }

    /// The request field that holds the taken value.
    pub fn field(self) -> Option<&'static str> {
        match self {
            Conflict::SlugTaken => Some("slug"),
            Conflict::PlanCodeTaken => Some("code"),
            Conflict::UniqueValueTaken | Conflict::ReferenceGone | Conflict::Other => None,
        }
    }
}
