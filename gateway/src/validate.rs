//! Strict JSON parsing (duplicate keys refused) and the validation of the password-init body.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::i18n::{problem, Lang, Problem};

/// Why a body is not a strict JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictError {
    /// Not JSON (syntax, encoding, trailing data, nesting too deep).
    NotJson,
    /// An object has the key twice (the key is given).
    Duplicate(String),
}

/// Parse JSON, refusing duplicate keys at any depth (serde_json alone keeps the last one).
pub fn parse_strict(bytes: &[u8]) -> Result<Value, StrictError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut dup = None;
    let v = StrictSeed { dup: &mut dup }.deserialize(&mut de);
    if let Some(k) = dup {
        return Err(StrictError::Duplicate(k));
    }
    let v = v.map_err(|_| StrictError::NotJson)?;
    de.end().map_err(|_| StrictError::NotJson)?;
    Ok(v)
}

struct StrictSeed<'a> {
    dup: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor { dup: self.dup })
    }
}

struct StrictVisitor<'a> {
    dup: &'a mut Option<String>,
}

impl<'de> Visitor<'de> for StrictVisitor<'_> {
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
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictSeed {
            dup: &mut *self.dup,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                *self.dup = Some(k);
                return Err(de::Error::custom("duplicate key"));
            }
            let v = map.next_value_seed(StrictSeed {
                dup: &mut *self.dup,
            })?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// A validated password-init body. Both fields are zeroized on drop and never printed.
pub struct InitBody {
    /// The init session id (the registration token).
    pub session_id: Zeroizing<String>,
    /// The new password.
    pub password: Zeroizing<String>,
}

impl fmt::Debug for InitBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitBody")
            .field("session_id_len", &self.session_id.len())
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Field → problems, in the order found (the `data` of `VALIDATION.INVALID_PARAMETER`).
pub type Problems = Vec<(String, Vec<Problem>)>;

/// At most this many unknown fields are named in an answer; the others are counted under `body`.
pub const MAX_REPORTED_UNKNOWN: usize = 16;

fn add(problems: &mut Problems, field: &str, p: Problem) {
    if let Some((_, list)) = problems.iter_mut().find(|(f, _)| f == field) {
        list.push(p);
    } else {
        problems.push((field.to_owned(), vec![p]));
    }
}

/// The `data` object for a list of problems, in `lang`.
pub fn problems_json(problems: &Problems, lang: Lang) -> Value {
    let mut m = Map::new();
    for (field, list) in problems {
        m.insert(
            field.clone(),
            Value::Array(
                list.iter()
                    .map(|p| Value::String(problem(*p, lang)))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

/// Validate the decrypted body of `POST /web/v1/system/auth/password/init`: exactly
/// `{"sessionId": string (1–64 chars), "password": string (8–128 chars)}`.
pub fn validate_init(body: &[u8]) -> Result<InitBody, Problems> {
    let mut problems = Problems::new();
    let value = match parse_strict(body) {
        Ok(v) => v,
        Err(StrictError::NotJson) => {
            add(&mut problems, "body", Problem::NotJson);
            return Err(problems);
        }
        Err(StrictError::Duplicate(k)) => {
            add(&mut problems, &truncate_field(&k), Problem::Duplicate);
            return Err(problems);
        }
    };
    let Value::Object(mut obj) = value else {
        add(&mut problems, "body", Problem::NotObject);
        return Err(problems);
    };
    // Linear in the number of keys, and bounded in what it reports: an answer never grows with
    // the request (a 54 KB body of unknown keys is one short list and a count).
    let mut unknown = 0usize;
    for k in obj.keys() {
        if k != "sessionId" && k != "password" {
            unknown += 1;
            if unknown <= MAX_REPORTED_UNKNOWN {
                problems.push((truncate_field(k), vec![Problem::Unknown]));
            }
        }
    }
    if unknown > MAX_REPORTED_UNKNOWN {
        add(
            &mut problems,
            "body",
            Problem::MoreUnknown(unknown - MAX_REPORTED_UNKNOWN),
        );
    }
    let session_id = take_string(&mut obj, "sessionId", 1, 64, &mut problems);
    let password = take_string(&mut obj, "password", 8, 128, &mut problems);
    // Wipe whatever else the object held (it may contain a password under a wrong name).
    for (_, v) in obj.iter_mut() {
        if let Value::String(s) = v {
            zeroize::Zeroize::zeroize(s);
        }
    }
    match (session_id, password) {
        (Some(session_id), Some(password)) if problems.is_empty() => Ok(InitBody {
            session_id: Zeroizing::new(session_id),
            password: Zeroizing::new(password),
        }),
        (s, p) => {
            drop(s.map(Zeroizing::new));
            drop(p.map(Zeroizing::new));
            Err(problems)
        }
    }
}

/// Field names echoed in `data` are bounded (an attacker-chosen key could be huge).
fn truncate_field(k: &str) -> String {
    k.chars().take(64).collect()
}

fn take_string(
    obj: &mut Map<String, Value>,
    field: &str,
    min: usize,
    max: usize,
    problems: &mut Problems,
) -> Option<String> {
    match obj.remove(field) {
        None => {
            add(problems, field, Problem::Required);
            None
        }
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < min || n > max {
                add(problems, field, Problem::Length(min, max));
                let mut s = s;
                zeroize::Zeroize::zeroize(&mut s);
                None
            } else {
                Some(s)
            }
        }
        Some(_) => {
            add(problems, field, Problem::NotString);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(r: Result<InitBody, Problems>) -> Vec<(String, Vec<Problem>)> {
        r.err().unwrap_or_default()
    }

    #[test]
    fn strict_json() {
        assert_eq!(
            parse_strict(br#"{"a":1,"a":2}"#),
            Err(StrictError::Duplicate("a".into()))
        );
        assert_eq!(
            parse_strict(br#"{"x":{"b":1,"b":1}}"#),
            Err(StrictError::Duplicate("b".into()))
        );
        assert_eq!(parse_strict(b"{} x"), Err(StrictError::NotJson));
        assert_eq!(parse_strict(b"\xff"), Err(StrictError::NotJson));
        assert!(parse_strict(br#"[1,{"a":null}]"#).is_ok());
    }

    #[test]
    fn init_body() {
        let ok = validate_init(br#"{"sessionId":"abc","password":"NewP@ssw0rd"}"#);
        assert!(
            matches!(ok, Ok(ref b) if b.session_id.as_str() == "abc" && b.password.as_str() == "NewP@ssw0rd")
        );
        assert_eq!(
            fields(validate_init(br#"{"sessionId":"","password":"short"}"#)),
            vec![
                ("sessionId".into(), vec![Problem::Length(1, 64)]),
                ("password".into(), vec![Problem::Length(8, 128)])
            ]
        );
        assert_eq!(
            fields(validate_init(br#"{"sessionId":1,"x":true}"#)),
            vec![
                ("x".into(), vec![Problem::Unknown]),
                ("sessionId".into(), vec![Problem::NotString]),
                ("password".into(), vec![Problem::Required])
            ]
        );
        assert_eq!(
            fields(validate_init(b"[]")),
            vec![("body".into(), vec![Problem::NotObject])]
        );
        // 128 chars of a multi-byte letter are fine; 129 are not.
        let p128 = "é".repeat(128);
        let ok = format!(r#"{{"sessionId":"a","password":"{p128}"}}"#);
        assert!(validate_init(ok.as_bytes()).is_ok());
        let bad = format!(r#"{{"sessionId":"a","password":"{p128}é"}}"#);
        assert!(validate_init(bad.as_bytes()).is_err());
    }

    #[test]
    fn unknown_fields_are_reported_bounded() {
        let mut body = String::from("{");
        for i in 0..6500 {
            body.push_str(&format!("\"k{i:05}\":1,"));
        }
        body.push_str("\"sessionId\":\"a\",\"password\":\"12345678\"}");
        let p = fields(validate_init(body.as_bytes()));
        assert_eq!(p.len(), MAX_REPORTED_UNKNOWN + 1);
        assert_eq!(p[0], ("k00000".to_owned(), vec![Problem::Unknown]));
        assert_eq!(
            p[MAX_REPORTED_UNKNOWN],
            (
                "body".to_owned(),
                vec![Problem::MoreUnknown(6500 - MAX_REPORTED_UNKNOWN)]
            )
        );
    }
}
