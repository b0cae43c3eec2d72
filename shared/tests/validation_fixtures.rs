//! Runs every case of `shared/fixtures/validation.json` through the shared rules. The UI's
//! Vitest suite runs the same file through its helper, so both give every case one verdict.

mod common;

use chrono::NaiveDate;
use common::validate_fixture;
use serde_json::Value;

/// `"LONG_n"` stands for a text of n characters (kept out of the file for readability).
fn expand(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(n) = s
                .strip_prefix("LONG_")
                .and_then(|n| n.parse::<usize>().ok())
            {
                *s = "x".repeat(n);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(expand),
        Value::Object(o) => o.values_mut().for_each(expand),
        _ => {}
    }
}

/// A path such as `items[0].strength` or `items.length` into a JSON value.
fn lookup(v: &Value, path: &str) -> Value {
    let mut cur = v.clone();
    for part in path.split('.') {
        if part == "length" {
            return Value::from(cur.as_array().map_or(0, Vec::len));
        }
        let (key, index) = match part.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        cur = cur.get(key).cloned().unwrap_or(Value::Null);
        if let Some(i) = index {
            cur = cur.get(i).cloned().unwrap_or(Value::Null);
        }
    }
    cur
}

#[test]
fn every_fixture_case_gets_its_verdict() {
    let file: Value =
        serde_json::from_str(include_str!("../fixtures/validation.json")).expect("valid JSON");
    let today: NaiveDate = file["today"].as_str().unwrap().parse().unwrap();
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 40);
    for (i, case) in cases.iter().enumerate() {
        let entity = case["entity"].as_str().unwrap();
        let mut input = case["input"].clone();
        expand(&mut input);
        let outcome = validate_fixture(entity, input, today);
        match (case.get("field").and_then(Value::as_str), outcome) {
            (Some(field), Err(e)) => assert_eq!(
                e.field.as_deref(),
                Some(field),
                "case {i} ({entity}) refused for another field: {e}"
            ),
            (Some(field), Ok(_)) => {
                panic!("case {i} ({entity}) passed; expected a refusal of {field}")
            }
            (None, Err(e)) => panic!("case {i} ({entity}) was refused: {e}"),
            (None, Ok(valid)) => {
                if let Some(expect) = case.get("expect").and_then(Value::as_object) {
                    for (path, want) in expect {
                        assert_eq!(&lookup(&valid, path), want, "case {i} ({entity}): {path}");
                    }
                }
            }
        }
    }
}
