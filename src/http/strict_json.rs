//! A JSON deserializer that reads request bodies the way their JSON Schema describes them.
//!
//! serde's derived structs also accept a JSON array (fields by position), which the schema
//! forbids; and JSON Schema counts `213.0` as an integer, which serde refuses for `i64`. This
//! deserializer walks a parsed [`Value`] and builds structs only from objects, and hands
//! integral decimals to visitors as integers.

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    Visitor,
};
use serde_json::{Error, Map, Value};

/// Deserializes from a borrowed JSON value with the stricter rules above.
pub struct Strict<'de>(pub &'de Value);

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match n.as_f64() {
            Some(f) => Unexpected::Float(f),
            None => Unexpected::Other("number"),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

impl<'de> Deserializer<'de> for Strict<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    // JSON Schema's "integer" includes 213.0.
                    if f.fract() == 0.0 && f.abs() < 9.0e15 {
                        visitor.visit_i64(f as i64)
                    } else {
                        visitor.visit_f64(f)
                    }
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct tuple tuple_struct identifier ignored_any
    }
}

struct Items<'de>(std::slice::Iter<'de, Value>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|item| seed.deserialize(Strict(item)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries<'de> {
    entries: serde_json::map::Iter<'de>,
    value: Option<&'de Value>,
}

impl<'de> Entries<'de> {
    fn new(map: &'de Map<String, Value>) -> Self {
        Self {
            entries: map.iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                let key: de::value::BorrowedStrDeserializer<'de, Error> =
                    de::value::BorrowedStrDeserializer::new(key);
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| <Error as de::Error>::custom("a value without its key"))?;
        seed.deserialize(Strict(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Inner {
        enabled: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Outer {
        count: i64,
        ratio: Option<f64>,
        inner: Option<Inner>,
        tags: Vec<String>,
    }

    fn parse(json: &str) -> Result<Outer, Error> {
        let value: Value = serde_json::from_str(json).unwrap();
        Outer::deserialize(Strict(&value))
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let parsed =
            parse(r#"{"count": 3, "ratio": 0.5, "inner": {"enabled": true}, "tags": ["a"]}"#);
        assert_eq!(
            parsed.unwrap(),
            Outer {
                count: 3,
                ratio: Some(0.5),
                inner: Some(Inner { enabled: true }),
                tags: vec!["a".to_owned()],
            }
        );
    }

    #[test]
    fn refuses_arrays_for_objects_at_any_depth() {
        assert!(parse(r#"[3, null, null, []]"#).is_err());
        assert!(parse(r#"{"count": 3, "inner": [true], "tags": []}"#).is_err());
    }

    #[test]
    fn takes_integral_decimals_as_integers_only() {
        assert_eq!(parse(r#"{"count": 213.0, "tags": []}"#).unwrap().count, 213);
        assert!(parse(r#"{"count": 213.5, "tags": []}"#).is_err());
        assert_eq!(
            parse(r#"{"count": 1, "ratio": 2, "tags": []}"#)
                .unwrap()
                .ratio,
            Some(2.0)
        );
    }

    #[test]
    fn refuses_null_for_maps_and_lists() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Patch {
            #[serde(default)]
            metadata: Map<String, Value>,
            #[serde(default)]
            tags: Vec<String>,
        }
        let read = |json: &str| {
            let value: Value = serde_json::from_str(json).unwrap();
            Patch::deserialize(Strict(&value))
        };
        assert!(read(r#"{"metadata": null}"#).is_err());
        assert!(read(r#"{"tags": null}"#).is_err());
        let ok = read(r#"{"metadata": {}, "tags": []}"#).unwrap();
        assert_eq!(ok.metadata, Map::new());
        assert_eq!(ok.tags, Vec::<String>::new());
    }

    #[test]
    fn keeps_unknown_field_and_missing_field_errors() {
        let unknown = parse(r#"{"count": 1, "tags": [], "extra": 1}"#).unwrap_err();
        assert!(unknown.to_string().starts_with("unknown field `extra`"));
        let missing = parse(r#"{"tags": []}"#).unwrap_err();
        assert!(missing.to_string().starts_with("missing field `count`"));
    }
}
