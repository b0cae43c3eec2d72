//! The cross-tier property test, Rust half: ~200 inputs made by a seeded generator (values in
//! and around every range, texts with control characters, odd whitespace and lengths around
//! every limit, phones, ABHA numbers, invoice lines…) are run through the shared rules and
//! written with the Rust verdict — the normalised value, or the refused field and message — to
//! `shared/fixtures/validation_generated.json`. The UI's Vitest suite (ui/src/lib/rules.test.ts)
//! asserts its own verdict equals the recorded one for every case. This test fails when the
//! committed file differs from what the rules say now; `VAIDYA_UPDATE_GENERATED=1` rewrites it.

mod common;

use chrono::{Duration, NaiveDate};
use common::validate_fixture;
use serde_json::{json, Map, Value};

const SEED: u64 = 0x5641_4944_5941; // "VAIDYA"
const TODAY: &str = "2026-06-15";

/// SplitMix64: small, deterministic on every platform, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Inclusive.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.below((hi - lo + 1) as u64) as i64)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize].clone()
    }
}

/// Characters a text is made of: mostly letters, some scripts, spaces of every kind, and
/// (rarely) control characters.
const COMMON: &[char] = &['a', 'b', 'Z', '7', 'आ', 'ष', '😀', ' ', '\'', '"', '-', '.'];
const SPACES: &[char] = &[
    ' ', '\n', '\t', '\r', '\u{a0}', '\u{2003}', '\u{3000}', '\u{feff}', '\u{200b}',
];
const CONTROLS: &[char] = &[
    '\u{0}', '\u{7}', '\u{b}', '\u{c}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}',
];

/// A text for a field of at most `max` characters: empty, short, or around the limit,
/// sometimes padded with whitespace and sometimes with a control character inside.
fn text(r: &mut Rng, max: usize) -> String {
    let len = match r.below(12) {
        0 => 0,
        1 if max <= 2000 => (max as i64 + r.range(-2, 2)).max(0) as usize,
        _ => r.range(1, 16) as usize,
    };
    let mut s: String = (0..len)
        .map(|_| if r.chance(85) { 'x' } else { r.pick(COMMON) })
        .collect();
    if r.chance(30) {
        let pad: String = (0..r.range(1, 3)).map(|_| r.pick(SPACES)).collect();
        if r.chance(50) {
            s.insert_str(0, &pad);
        } else {
            s.push_str(&pad);
        }
    }
    if r.chance(4) {
        let at = r.below(s.chars().count() as u64 + 1) as usize;
        let byte = s.char_indices().nth(at).map_or(s.len(), |(i, _)| i);
        s.insert(byte, r.pick(CONTROLS));
    }
    s
}

fn opt_text(r: &mut Rng, max: usize) -> Value {
    if r.chance(25) {
        Value::Null
    } else {
        Value::from(text(r, max))
    }
}

/// `len` (a range) digits, the first in `first` (a range).
fn digits(r: &mut Rng, len: (i64, i64), first: (i64, i64)) -> String {
    let n = r.range(len.0, len.1);
    let mut d = r.range(first.0, first.1).to_string();
    while (d.len() as i64) < n {
        d.push(char::from(b'0' + r.below(10) as u8));
    }
    d
}

fn phone(r: &mut Rng) -> Value {
    let body = match r.below(12) {
        0 | 9 | 10 => return Value::Null,
        1 | 11 => String::new(),
        2 => format!("+91 {}", digits(r, (10, 10), (5, 9))),
        3 => format!("0{}", digits(r, (9, 11), (2, 2))),
        4 => format!("91{}", digits(r, (10, 10), (9, 9))),
        5 => format!("+{}", digits(r, (6, 16), (1, 9))),
        6 => {
            let d = digits(r, (10, 10), (8, 8));
            format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..])
        }
        7 => format!("{}x", digits(r, (9, 9), (9, 9))),
        _ => digits(r, (5, 13), (0, 9)),
    };
    if r.chance(20) {
        Value::from(format!(" {body}\u{a0}"))
    } else {
        Value::from(body)
    }
}

fn abha(r: &mut Rng) -> Value {
    let n = r.pick(&[13, 14, 14, 14, 14, 14, 15]);
    let mut d: String = (0..n)
        .map(|_| char::from(b'0' + r.below(10) as u8))
        .collect();
    match r.below(9) {
        0 | 7 | 8 => return Value::Null,
        1 => return Value::from(""),
        2 if d.len() >= 10 => {
            d = format!("{}-{}-{}-{}", &d[..2], &d[2..6], &d[6..10], &d[10..]);
        }
        3 => d = format!(" {d} "),
        4 => d.replace_range(3..4, "a"),
        _ => {}
    }
    Value::from(d)
}

fn date_of_birth(r: &mut Rng, today: NaiveDate) -> Value {
    let earliest = NaiveDate::from_ymd_opt(1880, 1, 1).unwrap();
    let d = match r.below(8) {
        0 | 1 => return Value::Null,
        2 => earliest - Duration::days(r.range(0, 1)),
        3 => today + Duration::days(r.range(0, 2)),
        _ => {
            NaiveDate::from_ymd_opt(r.range(1850, 2030) as i32, r.range(1, 12) as u32, 28).unwrap()
                - Duration::days(r.range(0, 27))
        }
    };
    Value::from(d.to_string())
}

fn uuid(r: &mut Rng) -> Value {
    Value::from(format!("00000000-0000-4000-8000-{:012x}", r.below(1 << 40)))
}

fn vitals(r: &mut Rng, sparse: bool) -> Value {
    let mut m = Map::new();
    for (name, lo, hi) in vaidya_shared::rules::validation::VITAL_RANGES {
        if r.chance(if sparse { 30 } else { 70 }) {
            let (lo, hi) = (lo as i64, hi as i64);
            let v = match r.below(30) {
                0 => lo - 1,
                1 => lo,
                2 => hi,
                3 => hi + 1,
                4 => r.pick(&[0, -1, i32::MIN as i64, i32::MAX as i64, hi * 10]),
                5 => r.range(lo - (hi - lo) / 8, hi + (hi - lo) / 8),
                _ => r.range(lo, hi),
            };
            m.insert(name.to_string(), Value::from(v));
        }
    }
    Value::Object(m)
}

fn gen_patient(r: &mut Rng, today: NaiveDate) -> Value {
    json!({
        "id": if r.chance(50) { Value::Null } else { uuid(r) },
        "name": text(r, 200),
        "sex": r.pick(&["female", "male", "other", "unknown"]),
        "date_of_birth": date_of_birth(r, today),
        "phone": phone(r),
        "address": opt_text(r, 500),
        "abha_number": abha(r),
    })
}

fn gen_patient_patch(r: &mut Rng, today: NaiveDate) -> Value {
    let mut m = Map::new();
    if r.chance(30) {
        m.insert("base_version".into(), Value::from(r.range(1, 9)));
    }
    if r.chance(50) {
        m.insert("name".into(), Value::from(text(r, 200)));
    }
    if r.chance(50) {
        m.insert("date_of_birth".into(), date_of_birth(r, today));
    }
    for (key, v) in [("phone", phone(r)), ("abha_number", abha(r))] {
        if r.chance(60) {
            m.insert(key.into(), v);
        }
    }
    if r.chance(50) {
        m.insert("address".into(), Value::from(text(r, 500)));
    }
    Value::Object(m)
}

fn gen_appointment(r: &mut Rng) -> Value {
    let starts = chrono::DateTime::parse_from_rfc3339("2026-06-15T04:30:00Z").unwrap()
        + Duration::minutes(r.range(-600, 600));
    let secs = match r.below(4) {
        0 => r.pick(&[-60, 0, 1, 43_199, 43_200, 43_201]),
        _ => r.range(-10, 900) * 60,
    };
    let ends = starts + Duration::seconds(secs);
    let fmt = |t: chrono::DateTime<chrono::FixedOffset>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "id": Value::Null,
        "patient_id": uuid(r),
        "doctor_id": uuid(r),
        "starts_at": fmt(starts),
        "ends_at": fmt(ends),
        "reason": opt_text(r, 1000),
    })
}

fn gen_appointment_patch(r: &mut Rng) -> Value {
    json!({
        "status": r.pick(&["booked", "checked_in", "completed"]),
        "reason": text(r, 1000),
    })
}

fn gen_encounter(r: &mut Rng) -> Value {
    json!({
        "id": Value::Null,
        "patient_id": uuid(r),
        "appointment_id": if r.chance(50) { Value::Null } else { uuid(r) },
        "chief_complaint": text(r, 2000),
        "notes": text(r, 100_000),
        "diagnosis": text(r, 2000),
        "vitals": vitals(r, true),
    })
}

fn gen_encounter_patch(r: &mut Rng) -> Value {
    let mut m = Map::new();
    for (key, max) in [
        ("chief_complaint", 2000),
        ("notes", 100_000),
        ("diagnosis", 2000),
    ] {
        if r.chance(40) {
            m.insert(key.into(), Value::from(text(r, max)));
        }
    }
    if r.chance(60) {
        m.insert("vitals".into(), vitals(r, true));
    }
    Value::Object(m)
}

fn gen_prescription(r: &mut Rng) -> Value {
    let n = match r.below(12) {
        0 => 0,
        1 => r.pick(&[50, 51]),
        _ => r.range(1, 3),
    };
    let items: Vec<Value> = (0..n)
        .map(|_| {
            let drug = if n > 3 {
                Value::from("Paracetamol")
            } else if r.chance(25) {
                Value::from(r.pick(&["", " ", "\u{a0}", "\u{feff}", "\t\n"]))
            } else {
                Value::from(text(r, 200))
            };
            let mut item = Map::new();
            item.insert("drug".into(), drug);
            for (key, max) in [
                ("strength", 100),
                ("dose", 100),
                ("frequency", 100),
                ("duration", 100),
                ("instructions", 1000),
            ] {
                if n <= 3 && r.chance(70) {
                    item.insert(key.into(), Value::from(text(r, max)));
                }
            }
            Value::Object(item)
        })
        .collect();
    json!({
        "id": Value::Null,
        "patient_id": uuid(r),
        "encounter_id": Value::Null,
        "notes": text(r, 5000),
        "items": items,
    })
}

fn gen_invoice(r: &mut Rng) -> Value {
    // Half the invoices are well formed except for what a person might mistype; the rest
    // probe every rule.
    let fuzz = r.chance(50);
    let n = match r.below(12) {
        0 if fuzz => 0,
        1 if fuzz => r.pick(&[100, 101]),
        _ => r.range(1, 3),
    };
    let lines: Vec<Value> = (0..n)
        .map(|_| {
            if n > 3 {
                return json!({"description": "Consultation", "sac_hsn": "999312", "quantity": 1, "unit_price_paise": 50000, "gst_rate_bp": 0});
            }
            let quantity: i64 = if fuzz {
                r.pick(&[-1, 0, 1, 1, 2, 3, 100_000, 100_001])
            } else {
                r.range(1, 5)
            };
            let price: i64 = if fuzz {
                r.pick(&[-1, 0, 9_950, 50_000, 1_000_000_000, 1_000_000_001])
            } else {
                r.range(0, 200) * 250
            };
            let gross = quantity.max(0) * price.max(0);
            let discount = if fuzz {
                r.pick(&[0, 0, -1, 100, gross, gross + 1])
            } else {
                r.pick(&[0, 0, gross / 10, gross])
            };
            let sac = if fuzz {
                r.pick(&["999312", "3005", "30049099", "123", "123456789", "99A3", " 3005"])
            } else {
                r.pick(&["999312", "3005", "30049099"])
            };
            let rate = if fuzz {
                r.pick(&[0, 500, 1200, 1800, 2800, 10, 25, 300, 1700, 5, 100_000])
            } else {
                r.pick(&crate_rates())
            };
            let mut line = json!({
                "description": text(r, 500),
                "sac_hsn": sac,
                "quantity": quantity,
                "unit_price_paise": price,
                "gst_rate_bp": rate,
            });
            if r.chance(80) {
                line["discount_paise"] = Value::from(discount);
            }
            line
        })
        .collect();
    let series = if fuzz {
        r.pick(&[
            Value::Null,
            json!("INV"),
            json!("D3AF2C"),
            json!("A-1"),
            json!("d3af2c"),
            json!(""),
            json!("ABCDEFGHIJKLMNOPQ"),
            json!("ABCDEFGHIJKLMNOP"),
            json!("ÄB"),
            json!("A B"),
        ])
    } else {
        r.pick(&[
            Value::Null,
            Value::Null,
            json!("INV"),
            json!("D3AF2C"),
            json!("B2-7"),
        ])
    };
    let place = if fuzz {
        r.pick(&[
            Value::Null,
            json!("27"),
            json!("01"),
            json!("38"),
            json!("97"),
            json!("00"),
            json!("39"),
            json!("2a"),
            json!("7"),
        ])
    } else {
        r.pick(&[Value::Null, json!("27"), json!("29")])
    };
    let main = series.is_null() || series == "INV";
    let mut inv = json!({
        "id": Value::Null,
        "patient_id": uuid(r),
        "series": series,
        "place_of_supply": place,
        "lines": lines,
    });
    if fuzz && r.chance(40) {
        inv["number"] = r.pick(&[Value::Null, json!(7), json!(1), json!(0), json!(-3)]);
    } else if !fuzz && !main {
        inv["number"] = Value::from(r.range(1, 999));
    }
    // A business customer now and then: well formed, mistyped (check character, case,
    // length, a blank or overlong name).
    if r.chance(25) {
        let gstin = if fuzz {
            r.pick(&[
                "29AAGCA1234D1Z4",
                "29AAGCA1234D1Z5",
                " 29aagca1234d1z4",
                "29AAGCA1234D1Z",
                "00AAGCA1234D1Z4",
                "27AAPFA1234C1ZV",
            ])
        } else {
            r.pick(&["29AAGCA1234D1Z4", "27AAPFA1234C1ZV", "04AABCU9603R1ZV"])
        };
        let name = if fuzz {
            text(r, 200)
        } else {
            "Acme Software Pvt Ltd".to_owned()
        };
        inv["recipient"] = json!({"gstin": gstin, "name": name});
    }
    inv
}

fn crate_rates() -> Vec<u32> {
    vaidya_shared::gst::ALLOWED_RATES_BP.to_vec()
}

fn gen_payment(r: &mut Rng) -> Value {
    json!({
        "id": Value::Null,
        "amount_paise": r.pick(&[-100, 0, 1, 50_000, 9_999_999]),
        "method": r.pick(&["cash", "upi", "card", "other"]),
        "reference": opt_text(r, 200),
    })
}

fn generate() -> Value {
    let today: NaiveDate = TODAY.parse().unwrap();
    let mut r = Rng(SEED);
    let plan: [(&str, usize); 11] = [
        ("vitals", 30),
        ("patient", 35),
        ("patient_patch", 20),
        ("appointment", 15),
        ("appointment_patch", 5),
        ("encounter", 12),
        ("encounter_patch", 10),
        ("addendum", 8),
        ("prescription", 22),
        ("invoice", 32),
        ("payment", 12),
    ];
    let mut cases = Vec::new();
    for (entity, count) in plan {
        for _ in 0..count {
            let input = match entity {
                "vitals" => vitals(&mut r, false),
                "patient" => gen_patient(&mut r, today),
                "patient_patch" => gen_patient_patch(&mut r, today),
                "appointment" => gen_appointment(&mut r),
                "appointment_patch" => gen_appointment_patch(&mut r),
                "encounter" => gen_encounter(&mut r),
                "encounter_patch" => gen_encounter_patch(&mut r),
                "addendum" => json!({"id": Value::Null, "text": text(&mut r, 20_000)}),
                "prescription" => gen_prescription(&mut r),
                "invoice" => gen_invoice(&mut r),
                _ => gen_payment(&mut r),
            };
            let mut case = json!({"entity": entity, "input": input.clone()});
            match validate_fixture(entity, input, today) {
                Ok(valid) => case["valid"] = valid,
                Err(e) => {
                    case["field"] = Value::from(e.field.expect("a field rule names its field"));
                    case["message"] = Value::from(e.message);
                }
            }
            cases.push(case);
        }
    }
    json!({
        "about": "Generated by shared/tests/validation_generated.rs (seeded; do not edit by hand): inputs with the verdict of the Rust rules, `valid` (the normalised value) or `field` and `message`. ui/src/lib/rules.test.ts asserts the UI's rules give the same verdict for every case. Rewrite with `VAIDYA_UPDATE_GENERATED=1 cargo test -p vaidya-shared --test validation_generated`.",
        "today": TODAY,
        "cases": cases,
    })
}

/// One case a line, so a change in the rules shows as a readable diff.
fn render(file: &Value) -> String {
    let mut out = String::from("{\n");
    for key in ["about", "today"] {
        out.push_str(&format!("  {:?}: {},\n", key, file[key]));
    }
    out.push_str("  \"cases\": [\n");
    let cases = file["cases"].as_array().unwrap();
    for (i, c) in cases.iter().enumerate() {
        let sep = if i + 1 < cases.len() { "," } else { "" };
        out.push_str(&format!("    {c}{sep}\n"));
    }
    out.push_str("  ]\n}\n");
    out
}

#[test]
fn generated_cases_file_is_current() {
    let file = generate();
    let cases = file["cases"].as_array().unwrap();
    let refused = cases.iter().filter(|c| c.get("field").is_some()).count();
    // Both verdicts well represented, or the property test proves little.
    assert!(cases.len() >= 200, "{} cases", cases.len());
    assert!(
        refused >= 60 && cases.len() - refused >= 60,
        "{refused} of {} refused",
        cases.len()
    );
    let fresh = render(&file);
    assert_eq!(serde_json::from_str::<Value>(&fresh).unwrap(), file);
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/validation_generated.json");
    if std::env::var_os("VAIDYA_UPDATE_GENERATED").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "shared/fixtures/validation_generated.json is stale: run `VAIDYA_UPDATE_GENERATED=1 cargo test -p vaidya-shared --test validation_generated`"
    );
}
