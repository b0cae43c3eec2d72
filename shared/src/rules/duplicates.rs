//! When a newly registered patient is probably one the clinic already has: the one rule the
//! front desk's warning (offline, on the PC), the server's `duplicate_patient` conflict and
//! their tests all use.
//!
//! A match needs an identifier the two records share and a name that agrees:
//! - the same ABHA number is the same person (it is issued once per person), whatever the
//!   spelling of the name;
//! - the same mobile number with a similar name and a compatible date of birth. Families
//!   share one mobile, so the number alone never decides: a father and son, or twins, with
//!   different first names are different patients.
//!
//! Names are compared by a key that forgives the spellings Indian names take in Latin
//! letters (transliterations of the same sound: "Sharma/Sarma", "Mohd/Mohammed",
//! "Lakshmi/Laxmi", "Sunita/Suneeta", "Vijay/Wijay") and ignores titles and order of words.

use chrono::NaiveDate;

/// What of a patient the rule reads (both tiers have these fields already normalized by
/// the validation rules: the phone as `+91XXXXXXXXXX`, ABHA as 14 digits).
#[derive(Debug, Clone, Copy)]
pub struct PatientIdentity<'a> {
    pub name: &'a str,
    pub date_of_birth: Option<NaiveDate>,
    pub phone: Option<&'a str>,
    pub abha_number: Option<&'a str>,
}

/// Why two records look like one person.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    SameAbha,
    SamePhoneAndName,
}

/// A patient of the clinic who is probably the one being registered, and why: what the
/// front desk is shown before registering (offline, from the PC's copy).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LikelyDuplicate {
    pub patient: crate::api::Patient,
    pub reason: DuplicateReason,
}

impl DuplicateReason {
    pub fn explain(self) -> &'static str {
        match self {
            DuplicateReason::SameAbha => "the same ABHA number",
            DuplicateReason::SamePhoneAndName => "the same mobile number and a similar name",
        }
    }
}

/// Whether `new` is probably `existing`, and why.
pub fn likely_duplicate(
    new: &PatientIdentity<'_>,
    existing: &PatientIdentity<'_>,
) -> Option<DuplicateReason> {
    if let (Some(a), Some(b)) = (new.abha_number, existing.abha_number) {
        if !a.is_empty() && a == b {
            return Some(DuplicateReason::SameAbha);
        }
    }
    let same_phone =
        matches!((new.phone, existing.phone), (Some(a), Some(b)) if !a.is_empty() && a == b);
    (same_phone
        && similar_names(new.name, existing.name)
        && compatible_births(new.date_of_birth, existing.date_of_birth))
    .then_some(DuplicateReason::SamePhoneAndName)
}

/// Dates of birth that could be one person's: either unknown, or within a year (a date
/// guessed from an age on one visit and given exactly on another).
pub fn compatible_births(a: Option<NaiveDate>, b: Option<NaiveDate>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).num_days().abs() <= 366,
        _ => true,
    }
}

/// Two names of one person: every word of the shorter name (titles left out) has a word of
/// the other with the same sound key; so "Ravi Sharma" and "Ravi Kumar Sarma" agree, and
/// "Ravi Sharma" and "Rohit Sharma" do not.
pub fn similar_names(a: &str, b: &str) -> bool {
    let (a, b) = (name_keys(a), name_keys(b));
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    !short.is_empty() && short.iter().all(|w| long.contains(w))
}

/// Titles and honorifics left out of names before comparing.
const TITLES: [&str; 14] = [
    "mr", "mrs", "ms", "miss", "dr", "smt", "shri", "sri", "shrimati", "kumari", "km", "master",
    "baby", "late",
];

/// Spellings of one given name, mapped to one form before the sound key.
const NAME_FORMS: [(&str, &str); 6] = [
    ("md", "mohammed"),
    ("mohd", "mohammed"),
    ("mohamed", "mohammed"),
    ("muhammad", "mohammed"),
    ("mohammad", "mohammed"),
    ("muhammed", "mohammed"),
];

/// The sound keys of a name's words, titles left out.
pub fn name_keys(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| !w.is_empty() && !TITLES.contains(&w.as_str()))
        .map(|w| {
            let w = NAME_FORMS
                .iter()
                .find(|(form, _)| *form == w)
                .map_or(w.clone(), |(_, canonical)| (*canonical).to_owned());
            sound_key(&w)
        })
        .filter(|k| !k.is_empty())
        .collect()
}

/// A word's sound key: the letters that Latin spellings of Indian names trade for one
/// another made one (aspirates lose their h, sh/s, v/w, x/ks, z/j, q/k, ph/f, long vowels
/// short), doubled letters single, and a last vowel dropped ("Sunita"/"Suneeta",
/// "Laxmi"/"Lakshmi", "Sharma"/"Sarma", "Mohammed"/"Muhammad").
pub fn sound_key(word: &str) -> String {
    let mut w = word.to_lowercase();
    for (from, to) in [
        ("ksh", "x"),
        ("ks", "x"),
        ("ph", "f"),
        ("sh", "s"),
        ("ch", "c"),
        ("bh", "b"),
        ("dh", "d"),
        ("gh", "g"),
        ("jh", "j"),
        ("kh", "k"),
        ("th", "t"),
        ("ee", "i"),
        ("oo", "u"),
        ("w", "v"),
        ("z", "j"),
        ("q", "k"),
        ("y", "i"),
    ] {
        w = w.replace(from, to);
    }
    // Vowels inside a word vary most between spellings (Mohammed/Muhammad): keep the first
    // letter, then consonants only.
    let mut key = String::new();
    for (i, c) in w.chars().enumerate() {
        let vowel = matches!(c, 'a' | 'e' | 'i' | 'o' | 'u');
        if i > 0 && vowel {
            continue;
        }
        if key.ends_with(c) {
            continue;
        }
        key.push(c);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who<'a>(name: &'a str, dob: Option<&str>, phone: Option<&'a str>) -> PatientIdentity<'a> {
        PatientIdentity {
            name,
            date_of_birth: dob.map(|d| d.parse().expect("date")),
            phone,
            abha_number: None,
        }
    }

    #[test]
    fn spellings_of_one_name_agree() {
        for (a, b) in [
            ("Ravi Sharma", "Ravi Sarma"),
            ("Mohd Irfan", "Mohammed Irfan"),
            ("Md. Irfan Khan", "Muhammad Irfan Khan"),
            ("Lakshmi Iyer", "Laxmi Iyer"),
            ("Sunita Patil", "Suneeta Patil"),
            ("Vijay Kulkarni", "Wijay Kulkarni"),
            ("Smt. Meera Deshpande", "Meera Deshpande"),
            ("Ravi Sharma", "Ravi Kumar Sharma"),
            ("Sharma Ravi", "Ravi Sharma"),
            ("Pooja Joshi", "Puja Joshi"),
            ("Zaheer Khan", "Jaheer Khan"),
            ("Bhaskar Rao", "Baskar Rao"),
        ] {
            assert!(similar_names(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn different_people_do_not() {
        for (a, b) in [
            ("Ravi Sharma", "Rohit Sharma"),
            ("Asha Kulkarni", "Anil Kulkarni"),
            ("Meera Nair", "Mira Das"),
            ("", "Ravi"),
        ] {
            assert!(!similar_names(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn a_shared_family_mobile_alone_is_no_duplicate() {
        let phone = Some("+919845012345");
        let father = who("Ramesh Patil", Some("1960-03-01"), phone);
        let son = who("Suresh Patil", Some("1990-07-12"), phone);
        assert_eq!(likely_duplicate(&son, &father), None);
        // Same name on the same mobile, but 30 years apart: father and son named alike.
        let junior = who("Ramesh Patil", Some("1990-07-12"), phone);
        assert_eq!(likely_duplicate(&junior, &father), None);
        // The same person registered twice, once with an age-derived date.
        let again = who("Ramesh Patill", Some("1960-01-01"), phone);
        assert_eq!(
            likely_duplicate(&again, &father),
            Some(DuplicateReason::SamePhoneAndName)
        );
        let undated = who("Ramesh Patil", None, phone);
        assert_eq!(
            likely_duplicate(&undated, &father),
            Some(DuplicateReason::SamePhoneAndName)
        );
    }

    #[test]
    fn the_same_abha_is_the_same_person() {
        let a = PatientIdentity {
            abha_number: Some("91234567890123"),
            ..who("Kamala Devi", None, None)
        };
        let b = PatientIdentity {
            abha_number: Some("91234567890123"),
            ..who("K. Devi", None, Some("+919845099999"))
        };
        assert_eq!(likely_duplicate(&a, &b), Some(DuplicateReason::SameAbha));
        let other = PatientIdentity {
            abha_number: Some("91234567890124"),
            ..who("Kamala Devi", None, None)
        };
        assert_eq!(likely_duplicate(&a, &other), None);
    }

    #[test]
    fn without_a_shared_identifier_nothing_matches() {
        let a = who("Ravi Sharma", None, Some("+919845012345"));
        let b = who("Ravi Sharma", None, Some("+919845054321"));
        assert_eq!(likely_duplicate(&a, &b), None);
        assert_eq!(
            likely_duplicate(
                &who("Ravi Sharma", None, None),
                &who("Ravi Sharma", None, None)
            ),
            None
        );
    }
}
