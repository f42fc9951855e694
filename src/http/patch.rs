//! Partial updates: every field of a PATCH body is a [`Patch`], left out, `null`, or a value.

use serde::{Deserialize, Deserializer};

use crate::domain::validation::Violations;

/// One field of a partial update. Declare it `#[serde(default)]`, so that a field left out
/// is [`Patch::Absent`].
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|value| value.map_or(Patch::Null, Patch::Value))
    }
}

impl<T> Patch<T> {
    /// A field that cannot be cleared: its new value, if any. `null` is recorded as a bad
    /// `field`.
    pub fn non_null(self, field: &str, violations: &mut Violations) -> Option<T> {
        match self {
            Patch::Absent => None,
            Patch::Null => {
                violations.add(field, "invalid_value", "must not be null");
                None
            }
            Patch::Value(value) => Some(value),
        }
    }

    /// A field that may be cleared: `None` keeps it, `Some(None)` clears it.
    pub fn nullable(self) -> Option<Option<T>> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(value) => Some(Some(value)),
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        name: Patch<String>,
    }

    fn parse(json: &str) -> Patch<String> {
        serde_json::from_str::<Body>(json).unwrap().name
    }

    #[test]
    fn absent_null_and_value_are_three_things() {
        assert_eq!(parse("{}"), Patch::Absent);
        assert_eq!(parse(r#"{"name": null}"#), Patch::Null);
        assert_eq!(parse(r#"{"name": "a"}"#), Patch::Value("a".to_owned()));
        let mut violations = Violations::default();
        assert_eq!(
            parse(r#"{"name": null}"#).non_null("name", &mut violations),
            None
        );
        assert_eq!(violations.into_errors()[0].field, "name");
        assert_eq!(parse(r#"{"name": null}"#).nullable(), Some(None));
    }
}
