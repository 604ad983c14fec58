//! Reading a JSON body strictly. `serde_json::from_slice` into a `Value` keeps the last of
//! two equal keys (so `{"service": "a", "service": "b"}` is silently `b`), accepts any
//! nesting up to its recursion limit and strings of any length, and passes on NUL
//! characters that PostgreSQL refuses to store. [`parse`] builds the same `Value` in one
//! pass and stops at the first of these, naming where it is with a JSON Pointer.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::envelope::escape;

/// How far a body may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLimits {
    /// Objects and arrays nested at most this deep (the body itself is depth 1).
    pub max_depth: usize,
    /// The longest string value or object key, in characters.
    pub max_string_chars: usize,
    /// The most members of one object, and items of one array.
    pub max_members: usize,
}

impl Default for JsonLimits {
    fn default() -> Self {
        // Rabt's own documents nest 5 deep (a composite's board of birth dates) and hold
        // strings of at most 2,048 characters (a notify URL).
        // ... and objects of a few dozen members, arrays of at most a few hundred items.
        JsonLimits {
            max_depth: 32,
            max_string_chars: 8192,
            max_members: 1000,
        }
    }
}

/// Why a body was refused.
#[derive(Debug)]
pub(crate) enum JsonError {
    /// Not JSON at all.
    Syntax(serde_json::Error),
    /// An object has the key at `pointer` twice.
    DuplicateKey { pointer: String },
    /// Nested deeper than allowed at `pointer`.
    TooDeep { pointer: String, max: usize },
    /// A string or key longer than allowed at `pointer`.
    TooLong { pointer: String, max: usize },
    /// A string or key holding U+0000 at `pointer`.
    Nul { pointer: String },
    /// An object or array at `pointer` with more members than allowed.
    TooMany { pointer: String, max: usize },
}

/// Parses `bytes` as JSON within `limits`, refusing duplicate keys and NUL characters.
pub(crate) fn parse(bytes: &[u8], limits: JsonLimits) -> Result<Value, JsonError> {
    let context = Context {
        limits,
        path: RefCell::new(Vec::new()),
        found: RefCell::new(None),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Node {
        context: &context,
        depth: 1,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, context.found.into_inner()) {
        (Ok(value), None) => Ok(value),
        (_, Some(found)) => Err(found),
        (Err(err), None) => Err(JsonError::Syntax(err)),
    }
}

struct Context {
    limits: JsonLimits,
    /// Reference tokens from the body to the value being read, escaped.
    path: RefCell<Vec<String>>,
    /// The first refusal; the parse is then aborted with a placeholder error.
    found: RefCell<Option<JsonError>>,
}

impl Context {
    fn pointer(&self, last: Option<&str>) -> String {
        let path = self.path.borrow();
        let mut pointer = String::new();
        for token in path.iter().map(String::as_str).chain(last) {
            pointer.push('/');
            pointer.push_str(token);
        }
        pointer
    }

    fn refuse<E: de::Error>(&self, found: JsonError) -> E {
        self.found.borrow_mut().get_or_insert(found);
        E::custom("refused")
    }

    /// Checks a string value, or a key (`key`: its own token for the pointer).
    fn check_text<E: de::Error>(&self, text: &str, key: Option<&str>) -> Result<(), E> {
        if text.contains('\0') {
            return Err(self.refuse(JsonError::Nul {
                pointer: self.pointer(key),
            }));
        }
        let max = self.limits.max_string_chars;
        // Bytes bound characters from above: count only when it could matter.
        if text.len() > max && text.chars().count() > max {
            return Err(self.refuse(JsonError::TooLong {
                pointer: self.pointer(key),
                max,
            }));
        }
        Ok(())
    }
}

/// One value at `depth`.
struct Node<'c> {
    context: &'c Context,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.context.check_text(v, None)?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.context.check_text(&v, None)?;
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.deeper::<A::Error>()?;
        let mut items = Vec::new();
        loop {
            self.context.path.borrow_mut().push(items.len().to_string());
            let next = seq.next_element_seed(Node {
                context: self.context,
                depth: self.depth + 1,
            });
            self.context.path.borrow_mut().pop();
            match next? {
                Some(_) if items.len() == self.context.limits.max_members => {
                    return Err(self.too_many());
                }
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.deeper::<A::Error>()?;
        let mut object = Map::new();
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.len() == self.context.limits.max_members {
                return Err(self.too_many());
            }
            let token = escape(&key);
            self.context.check_text(&key, Some(&token))?;
            if !seen.insert(key.clone()) {
                return Err(self.context.refuse(JsonError::DuplicateKey {
                    pointer: self.context.pointer(Some(&token)),
                }));
            }
            self.context.path.borrow_mut().push(token);
            let value = map.next_value_seed(Node {
                context: self.context,
                depth: self.depth + 1,
            });
            self.context.path.borrow_mut().pop();
            object.insert(key, value?);
        }
        Ok(Value::Object(object))
    }
}

impl Node<'_> {
    /// Refuses an object or array with more members than allowed, before reading more.
    fn too_many<E: de::Error>(&self) -> E {
        self.context.refuse(JsonError::TooMany {
            pointer: self.context.pointer(None),
            max: self.context.limits.max_members,
        })
    }

    /// Refuses an object or array nested deeper than allowed.
    fn deeper<E: de::Error>(&self) -> Result<(), E> {
        let max = self.context.limits.max_depth;
        if self.depth > max {
            return Err(self.context.refuse(JsonError::TooDeep {
                pointer: self.context.pointer(None),
                max,
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(body: &str) -> JsonError {
        parse(body.as_bytes(), JsonLimits::default()).unwrap_err()
    }

    #[test]
    fn good_json_reads_as_serde_json_reads_it() {
        let body = r#"{"service":"s","input":{"a":[1,-2,3.5,true,null,"ü"],"b":{}},"n":18446744073709551615}"#;
        let strict = parse(body.as_bytes(), JsonLimits::default()).unwrap();
        let plain: Value = serde_json::from_str(body).unwrap();
        assert_eq!(strict, plain);
        assert_eq!(strict["input"]["a"][2], json!(3.5));
    }

    #[test]
    fn a_duplicate_key_is_refused_where_it_is() {
        let JsonError::DuplicateKey { pointer } =
            refused(r#"{"service":"a","input":{"x":1,"y~/":2,"y~/":3}}"#)
        else {
            panic!("not refused as a duplicate")
        };
        assert_eq!(pointer, "/input/y~0~1");
        assert!(matches!(
            refused(r#"{"service":"a","service":"b"}"#),
            JsonError::DuplicateKey { pointer } if pointer == "/service"
        ));
        // Equal keys in different objects are fine.
        parse(
            br#"{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]}"#,
            JsonLimits::default(),
        )
        .unwrap();
    }

    #[test]
    fn nul_characters_are_refused_in_values_and_keys() {
        assert!(matches!(
            refused(r#"{"reference":"a\u0000b"}"#),
            JsonError::Nul { pointer } if pointer == "/reference"
        ));
        assert!(matches!(
            refused(r#"{"input":{"list":["ok","\u0000"]}}"#),
            JsonError::Nul { pointer } if pointer == "/input/list/1"
        ));
        assert!(matches!(
            refused(r#"{"input":{"a\u0000":1}}"#),
            JsonError::Nul { pointer } if pointer == "/input/a\u{0}"
        ));
    }

    #[test]
    fn depth_and_length_are_bounded() {
        let limits = JsonLimits {
            max_depth: 3,
            max_string_chars: 4,
            max_members: 3,
        };
        parse(br#"{"a":{"b":[1]}}"#, limits).unwrap();
        assert!(matches!(
            parse(br#"{"a":{"b":[[1]]}}"#, limits).unwrap_err(),
            JsonError::TooDeep { pointer, max: 3 } if pointer == "/a/b/0"
        ));
        parse("{\"a\":\"ابجد\"}".as_bytes(), limits).unwrap();
        assert!(matches!(
            parse(br#"{"a":"abcde"}"#, limits).unwrap_err(),
            JsonError::TooLong { pointer, max: 4 } if pointer == "/a"
        ));
        assert!(matches!(
            parse(br#"{"abcde":1}"#, limits).unwrap_err(),
            JsonError::TooLong { pointer, .. } if pointer == "/abcde"
        ));
        parse(br#"{"a":[1,2,3],"b":2}"#, limits).unwrap();
        assert!(matches!(
            parse(br#"{"a":[1,2,3,4]}"#, limits).unwrap_err(),
            JsonError::TooMany { pointer, max: 3 } if pointer == "/a"
        ));
        assert!(matches!(
            parse(br#"{"a":1,"b":2,"c":3,"d":4}"#, limits).unwrap_err(),
            JsonError::TooMany { pointer, .. } if pointer.is_empty()
        ));
        // Ten thousand brackets: refused at the limit, no stack overflow.
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(matches!(refused(&deep), JsonError::TooDeep { max: 32, .. }));
    }

    #[test]
    fn syntax_errors_stay_syntax_errors() {
        assert!(matches!(refused("{"), JsonError::Syntax(_)));
        assert!(matches!(refused(r#"{"a":1} x"#), JsonError::Syntax(_)));
        assert!(matches!(refused(""), JsonError::Syntax(_)));
    }
}
