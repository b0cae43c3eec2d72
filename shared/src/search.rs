//! What a patient search matches, the same on a device (FTS5) and on the server (PostgreSQL
//! full-text search): the words typed are prefix terms that must all match the patient's
//! name words, phone digits (as stored and as the 10-digit national number), patient number
//! or ABHA digits. A query of digits and phone punctuation only ("98450 12345",
//! "12-3456-7890-1234") is one digit string.

/// At most this many words of a query are used; more only slow the match down.
pub const MAX_QUERY_TERMS: usize = 8;

/// On a device, a search that matches more patients than this (the first keystrokes) takes
/// this many matches as they come and orders those, so its cost never grows with the
/// clinic. (The server orders every match: its planner picks an ordered scan for such terms.)
pub const SEARCH_CANDIDATES: i64 = 300;

/// The digits of a text, in order.
pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// The device computes its search index's phone and ABHA forms with this and [`digits`]
/// when it reads a row (`vaidya_phone_search`, partition schema 26): a change to either
/// needs a partition migration that rebuilds the index, or deleting a row would leave its
/// old terms behind.
///
/// The forms a phone number is found by: its digits as stored ("919845012345") and, when
/// longer, the 10-digit national number ("9845012345"), so "+91 98450-12345" and "98450"
/// typed at the desk find the same patient. Empty without a phone.
pub fn phone_forms(phone: Option<&str>) -> Vec<String> {
    let all = digits(phone.unwrap_or(""));
    if all.is_empty() {
        return Vec::new();
    }
    let mut forms = vec![all.clone()];
    if all.len() > 10 {
        forms.push(all[all.len() - 10..].to_owned());
    }
    forms
}

/// The prefix terms of what was typed, each matched as the start of a word; empty when
/// nothing searchable is left. Control characters, NUL included, separate words; a word
/// without a letter or digit is dropped.
pub fn query_terms(input: &str) -> Vec<String> {
    let cleaned: String = input
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let numeric = cleaned.chars().any(|c| c.is_ascii_digit())
        && cleaned
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || "+-()./".contains(c));
    if numeric {
        return vec![digits(&cleaned)];
    }
    cleaned
        .split_whitespace()
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .take(MAX_QUERY_TERMS)
        .map(str::to_owned)
        .collect()
}

/// The terms as a PostgreSQL `tsquery` for the `simple` configuration, whose parser splits
/// words at anything that is not a letter or digit and lowercases them: each term's pieces
/// become quoted prefix lexemes, all required (`'asha':* & 'kul':*`). `None` when nothing
/// searchable is left. The lexemes hold letters and digits only, so the quoting is plain.
pub fn tsquery(input: &str) -> Option<String> {
    let lexemes: Vec<String> = query_terms(input)
        .iter()
        .flat_map(|term| {
            term.split(|c: char| !c.is_alphanumeric())
                .filter(|piece| !piece.is_empty())
                .map(|piece| format!("'{}':*", piece.to_lowercase()))
                .collect::<Vec<_>>()
        })
        .collect();
    (!lexemes.is_empty()).then(|| lexemes.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_forms_keep_the_national_number() {
        assert_eq!(
            phone_forms(Some("+91 98450 12345")),
            ["919845012345", "9845012345"]
        );
        assert_eq!(phone_forms(Some("98450-12345")), ["9845012345"]);
        assert!(phone_forms(None).is_empty());
    }

    #[test]
    fn terms_are_words_or_one_number() {
        assert_eq!(query_terms("ram  sha"), ["ram", "sha"]);
        assert_eq!(query_terms("+91 98450-12345"), ["919845012345"]);
        assert_eq!(query_terms("nul\0byte"), ["nul", "byte"]);
        assert!(query_terms(r#"" * ( ) :"#).is_empty());
        assert_eq!(query_terms(&"w ".repeat(20)).len(), MAX_QUERY_TERMS);
    }

    #[test]
    fn tsquery_is_quoted_prefix_lexemes() {
        assert_eq!(tsquery("Asha kul").as_deref(), Some("'asha':* & 'kul':*"));
        assert_eq!(tsquery("D'Souza").as_deref(), Some("'d':* & 'souza':*"));
        assert_eq!(
            tsquery("x'); DROP TABLE y; --").as_deref(),
            Some("'x':* & 'drop':* & 'table':* & 'y':*")
        );
        assert_eq!(tsquery("98450 12345").as_deref(), Some("'9845012345':*"));
        assert_eq!(tsquery("  "), None);
    }
}
