//! A strict JSON reader for policy documents: rejects duplicate keys, bounds nesting
//! depth and array length, and keeps object key order so errors can name exact paths.

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Deepest nesting a policy document may have by default (`limits.max_policy_depth`);
/// the grammar needs [`GRAMMAR_DEPTH`].
pub const MAX_DEPTH: usize = 12;
/// Levels below the document a valid policy uses: `Statement`, a statement,
/// `Condition`, an operator, a key's value list, a value.
pub const GRAMMAR_DEPTH: usize = 6;
/// Longest array (or object) a policy document may contain.
pub const MAX_ELEMENTS: usize = 4096;

/// A parsed JSON value whose objects keep their key order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number, kept as its decimal text so no precision is lost.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parse `text`, enforcing the duplicate-key and length limits, and values nested at
    /// most `max_depth` levels below the document.
    pub fn parse(text: &str, max_depth: usize) -> Result<Json, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = Seed {
            depth: 0,
            max: max_depth,
        }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        Ok(value)
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

struct Seed {
    depth: usize,
    max: usize,
}

impl Seed {
    fn below(&self) -> Seed {
        Seed {
            depth: self.depth + 1,
            max: self.max,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Json;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        if self.depth > self.max {
            return Err(D::Error::custom(format!(
                "document nested deeper than {} levels (limits.max_policy_depth)",
                self.max
            )));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.to_string()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Json, E> {
        if v.is_finite() {
            Ok(Json::Number(v.to_string()))
        } else {
            Err(E::custom("number out of range"))
        }
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.below())? {
            if items.len() >= MAX_ELEMENTS {
                return Err(A::Error::custom(format!(
                    "array longer than {MAX_ELEMENTS} elements"
                )));
            }
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries: Vec<(String, Json)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.len() >= MAX_ELEMENTS {
                return Err(A::Error::custom(format!(
                    "object with more than {MAX_ELEMENTS} keys"
                )));
            }
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(A::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = map.next_value_seed(self.below())?;
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_numbers() {
        let v = Json::parse(r#"{"b": 1.50, "a": [true, null, "x", -3]}"#, MAX_DEPTH).unwrap();
        let Json::Object(entries) = v else { panic!() };
        assert_eq!(entries[0].0, "b");
        assert_eq!(entries[0].1, Json::Number("1.5".into()));
        assert_eq!(
            entries[1].1,
            Json::Array(vec![
                Json::Bool(true),
                Json::Null,
                Json::String("x".into()),
                Json::Number("-3".into())
            ])
        );
    }

    #[test]
    fn rejects_duplicates_depth_and_trailing_data() {
        assert!(
            Json::parse(r#"{"Effect":"Deny","Effect":"Allow"}"#, MAX_DEPTH)
                .unwrap_err()
                .contains("duplicate key `Effect`")
        );
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert!(
            Json::parse(&deep, MAX_DEPTH)
                .unwrap_err()
                .contains("nested deeper")
        );
        // Exactly `max_depth` levels below the document, and one more.
        let nested = |levels: usize| "[".repeat(levels) + "0" + &"]".repeat(levels);
        assert!(Json::parse(&nested(6), 6).is_ok());
        assert!(Json::parse(&nested(7), 6).is_err());
        assert!(Json::parse("{} {}", MAX_DEPTH).is_err());
        let long = format!("[{}0]", "0,".repeat(MAX_ELEMENTS));
        assert!(
            Json::parse(&long, MAX_DEPTH)
                .unwrap_err()
                .contains("array longer")
        );
    }
}
