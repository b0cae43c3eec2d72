//! Validation and normalisation of user-entered values, shared so the desktop app rejects
//! what the server would reject, with the same wording.

/// Normalise an Indian phone number. Mobile numbers (10 digits starting 6–9, with an
/// optional +91, 91 or 0 prefix) become `+91XXXXXXXXXX`; landlines with an STD code
/// (0 followed by 9–11 digits) are kept as digits. Spaces, dashes and brackets are ignored.
pub fn normalize_phone(input: &str) -> Result<String, &'static str> {
    let trimmed = input.trim();
    if trimmed
        .chars()
        .any(|c| !(c.is_ascii_digit() || " -()+".contains(c)))
    {
        return Err(
            "A phone number may contain only digits, spaces, dashes, brackets and a leading +.",
        );
    }
    let plus = trimmed.starts_with('+');
    let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
    let mobile = |d: &str| d.len() == 10 && matches!(d.as_bytes()[0], b'6'..=b'9');
    if plus {
        if let Some(rest) = digits.strip_prefix("91") {
            if mobile(rest) {
                return Ok(format!("+91{rest}"));
            }
        }
        if (8..=15).contains(&digits.len()) && !digits.starts_with("91") {
            return Ok(format!("+{digits}"));
        }
        return Err("Enter a 10-digit mobile number, optionally with +91.");
    }
    if mobile(&digits) {
        return Ok(format!("+91{digits}"));
    }
    if digits.len() == 12 && digits.starts_with("91") && mobile(&digits[2..]) {
        return Ok(format!("+91{}", &digits[2..]));
    }
    if digits.len() == 11 && digits.starts_with('0') && mobile(&digits[1..]) {
        return Ok(format!("+91{}", &digits[1..]));
    }
    if digits.starts_with('0') && (10..=12).contains(&digits.len()) {
        return Ok(digits);
    }
    Err("Enter a 10-digit mobile number, optionally with +91.")
}

/// Normalise an ABHA number: 14 digits, written with or without dashes (`12-3456-7890-1234`).
pub fn normalize_abha(input: &str) -> Result<String, &'static str> {
    let digits: String = input.chars().filter(|c| *c != '-' && *c != ' ').collect();
    if digits.len() == 14 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err("An ABHA number has 14 digits.")
    }
}

/// Check free text: no NUL or other control characters except newline and tab, at most
/// `max` characters. Returns the trimmed text.
pub fn clean_text(input: &str, max: usize) -> Result<String, String> {
    if input
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err("Text must not contain control characters.".into());
    }
    let trimmed = input.trim();
    if trimmed.chars().count() > max {
        return Err(format!("Text must be at most {max} characters."));
    }
    Ok(trimmed.to_string())
}

/// A GST state code: two digits, 01–38 or 97 (other territory).
pub fn is_state_code(code: &str) -> bool {
    code.len() == 2
        && code.chars().all(|c| c.is_ascii_digit())
        && matches!(code.parse::<u8>(), Ok(1..=38) | Ok(97))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(normalize_phone("98765 43210").unwrap(), "+919876543210");
        assert_eq!(normalize_phone("+91-98765-43210").unwrap(), "+919876543210");
        assert_eq!(normalize_phone("09876543210").unwrap(), "+919876543210");
        assert_eq!(normalize_phone("919876543210").unwrap(), "+919876543210");
        assert_eq!(normalize_phone("022 2345 6789").unwrap(), "02223456789");
        assert!(normalize_phone("12345").is_err());
        assert!(normalize_phone("98765'; DROP TABLE x").is_err());
        assert!(normalize_phone("5876543210").is_err());
    }

    #[test]
    fn abha() {
        assert_eq!(
            normalize_abha("12-3456-7890-1234").unwrap(),
            "12345678901234"
        );
        assert!(normalize_abha("1234").is_err());
    }

    #[test]
    fn text() {
        assert_eq!(clean_text("  a'b\"c  ", 10).unwrap(), "a'b\"c");
        assert!(clean_text("a\0b", 10).is_err());
        assert!(clean_text("abcdef", 3).is_err());
    }

    #[test]
    fn state_codes() {
        assert!(is_state_code("27"));
        assert!(is_state_code("97"));
        assert!(!is_state_code("00"));
        assert!(!is_state_code("2a"));
    }
}
