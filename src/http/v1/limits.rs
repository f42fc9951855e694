//! Limits on the v1 wire: objects keyed by each [`LimitKey`]'s camelCase name. Their shapes
//! and schemas come from the key declarations, so a new key appears here, with its range,
//! without a line of its own.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::{AdditionalProperties, KnownFormat, SchemaFormat, SchemaType};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::limits::{EffectiveLimits, LimitChanges, LimitKey, Limits, Unit};

/// The limits set on a plan or a tenant: only the keys set.
#[derive(Debug, Clone)]
pub struct LimitsBody(pub Limits);

impl Serialize for LimitsBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.0.iter() {
            map.serialize_entry(key.field(), &key.to_wire(value))?;
        }
        map.end()
    }
}

/// Every limit after the plan's: each key, `null` when unlimited.
#[derive(Debug, Clone)]
pub struct EffectiveLimitsBody(pub EffectiveLimits);

impl Serialize for EffectiveLimitsBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(LimitKey::ALL.len()))?;
        for key in LimitKey::ALL {
            let value = self.0.get(*key).map(|value| key.to_wire(value));
            map.serialize_entry(key.field(), &value)?;
        }
        map.end()
    }
}

/// Limits to set: a value overrides, `null` removes the override, an absent key is unchanged.
#[derive(Debug, Clone, Default)]
pub struct LimitsInput(pub LimitChanges);

impl<'de> Deserialize<'de> for LimitsInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = LimitsInput;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of limits")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LimitsInput, A::Error> {
        let mut changes = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            changes.push((key, map.next_value_seed(ValueSeed(key))?));
        }
        Ok(LimitsInput(LimitChanges(changes)))
    }
}

/// A limit's name; an unknown one fails while the key is read, so the error names it.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = LimitKey;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<LimitKey, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = LimitKey;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a limit name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<LimitKey, E> {
        LimitKey::from_field(name).ok_or_else(|| E::unknown_field(name, LimitKey::FIELDS))
    }
}

/// One limit's value: `null`, or a number in its unit.
struct ValueSeed(LimitKey);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Option<i64>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<i64>, D::Error> {
        // Every range lies within 2^53, where a double holds each whole number exactly.
        Option::<f64>::deserialize(deserializer)?
            .map(|value| self.0.from_wire(value).map_err(de::Error::custom))
            .transpose()
    }
}

/// A limit's value in its wire unit, with its range.
fn value_schema(key: LimitKey, nullable: bool) -> ObjectBuilder {
    let (min, max) = key.range();
    let (kind, format, scale) = match key.unit() {
        Unit::Count => (Type::Integer, KnownFormat::Int64, 1.0),
        Unit::Gigabytes => (Type::Number, KnownFormat::Double, 1000.0),
    };
    let schema_type = if nullable {
        SchemaType::from_iter([kind, Type::Null])
    } else {
        SchemaType::Type(kind)
    };
    ObjectBuilder::new()
        .schema_type(schema_type)
        .format(Some(SchemaFormat::KnownFormat(format)))
        .description(Some(key.describe().trim()))
        .minimum(Some(min as f64 / scale))
        .maximum(Some(max as f64 / scale))
}

/// An object with one property per limit key.
fn limits_object(description: &str, nullable: bool, all_required: bool) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
    for key in LimitKey::ALL {
        object = object.property(key.field(), value_schema(*key, nullable));
        if all_required {
            object = object.required(key.field());
        }
    }
    object.into()
}

impl PartialSchema for LimitsBody {
    fn schema() -> RefOr<Schema> {
        limits_object(
            "A set of limits; an absent key is not set here.",
            false,
            false,
        )
    }
}

impl ToSchema for LimitsBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Limits")
    }
}

impl PartialSchema for EffectiveLimitsBody {
    fn schema() -> RefOr<Schema> {
        limits_object(
            "Every limit after the plan's defaults; `null` means unlimited, or for a \
             request-rate budget (`…PerMinute`, `…PerHour`) the server's default.",
            true,
            true,
        )
    }
}

impl ToSchema for EffectiveLimitsBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("EffectiveLimits")
    }
}

impl PartialSchema for LimitsInput {
    fn schema() -> RefOr<Schema> {
        limits_object(
            "Limits to set: a value overrides the plan, `null` removes the override.",
            true,
            false,
        )
    }
}

impl ToSchema for LimitsInput {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("LimitsInput")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_sets_clears_and_refuses_by_name() {
        let input: LimitsInput =
            serde_json::from_str(r#"{"maxAgents": 20.0, "maxFilesGb": 1.5, "maxSquads": null}"#)
                .unwrap();
        let base = Limits::default().with(LimitKey::MaxSquads, 5);
        let applied = input.0.apply_to(base);
        assert_eq!(applied.get(LimitKey::MaxAgents), Some(20));
        assert_eq!(applied.get(LimitKey::MaxFilesGb), Some(1500));
        assert_eq!(applied.get(LimitKey::MaxSquads), None);
        for bad in [
            r#"{"maxLlamas": 3}"#,
            r#"{"maxAgents": 2.5}"#,
            r#"{"maxAgents": "ten"}"#,
        ] {
            assert!(serde_json::from_str::<LimitsInput>(bad).is_err(), "{bad}");
        }
        let shown = serde_json::to_value(LimitsBody(applied)).unwrap();
        assert_eq!(
            shown,
            serde_json::json!({ "maxAgents": 20, "maxFilesGb": 1.5 })
        );
    }
}
