//! Caller numbers in E.164.
//!
//! Every number is normalised before it is stored or compared, so `"+1 (425) 555-0100"`,
//! `"1-425-555-0100"` and `"+14255550100"` are the same caller. The rules:
//!
//! * Separators are dropped: spaces (including non-breaking), `-`, `.`, `(`, `)`, `/`. A leading
//!   `tel:` (RFC 3966) is accepted.
//! * With a leading `+` (international form): the digits that follow are the number, 7 to 15 of
//!   them, the first not `0` (E.164: at most 15 digits, country codes do not start with 0).
//! * Without `+` (national form), only with a default country code (policy; `1` by default, the
//!   North American Numbering Plan): exactly [`NumberPolicy::national_digits`] digits (10 for
//!   NANP) get the country code prepended; the country code followed by that many digits (e.g.
//!   `14255550100`) is taken as already carrying it. Anything else is rejected as ambiguous rather
//!   than guessed. For country code 1 the area code must start with 2-9 (NANP).
//! * Everything else is an error: letters (e.g. `anonymous`, a withheld caller ID), extensions,
//!   a `+` in the middle, too few or too many digits.
//!
//! This is a structural check, not a numbering-plan validation (no libphonenumber metadata): it
//! decides *identity* of numbers, which is what a denylist needs.

use std::fmt;

/// How national (no `+`) numbers are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPolicy {
    /// Country code prepended to national numbers (digits only, e.g. `"1"`); `None` rejects every
    /// number that is not in international form.
    pub default_country_code: Option<String>,
    /// Number of digits of a national number in the default country (10 for NANP).
    pub national_digits: usize,
}

impl Default for NumberPolicy {
    fn default() -> Self {
        Self {
            default_country_code: Some("1".to_string()),
            national_digits: 10,
        }
    }
}

impl NumberPolicy {
    /// Only international (`+...`) numbers are accepted.
    pub fn international_only() -> Self {
        Self {
            default_country_code: None,
            national_digits: 10,
        }
    }

    /// Policy with a default country code (`"1"`, `"+44"`, ...), or international-only for
    /// `""`, `"none"` or `"off"`. National digits: 10 for country code 1, else `national_digits`.
    pub fn with_country_code(code: &str, national_digits: usize) -> Result<Self, NumberError> {
        let code = code.trim().trim_start_matches('+');
        if code.is_empty() || code.eq_ignore_ascii_case("none") || code.eq_ignore_ascii_case("off")
        {
            return Ok(Self::international_only());
        }
        if code.len() > 3 || !code.bytes().all(|b| b.is_ascii_digit()) || code.starts_with('0') {
            return Err(NumberError::BadCountryCode(code.to_string()));
        }
        Ok(Self {
            default_country_code: Some(code.to_string()),
            national_digits,
        })
    }

    /// Reads `DEFAULT_COUNTRY_CODE` (and `NATIONAL_NUMBER_DIGITS`) from the environment; unset
    /// means the default policy (country code 1, 10 digits).
    pub fn from_env() -> Result<Self, NumberError> {
        let digits = std::env::var("NATIONAL_NUMBER_DIGITS")
            .ok()
            .and_then(|d| d.trim().parse::<usize>().ok())
            .unwrap_or(10);
        match std::env::var("DEFAULT_COUNTRY_CODE") {
            Ok(code) => Self::with_country_code(&code, digits),
            Err(_) => Ok(Self::default()),
        }
    }
}

/// Why a string is not a caller number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("no caller number (empty)")]
    Empty,
    #[error(
        "{0:?} is not a phone number (no digits: a withheld or anonymous caller ID cannot be denied)"
    )]
    NotANumber(String),
    #[error(
        "{input:?} has an unexpected character {found:?} (only digits, '+', spaces, '-', '.', '(', ')', '/' are allowed)"
    )]
    InvalidCharacter { input: String, found: char },
    #[error("{0:?} has '+' somewhere other than at the start")]
    MisplacedPlus(String),
    #[error("{input:?} has {digits} digits; an international number has 7 to 15")]
    BadLength { input: String, digits: usize },
    #[error("{0:?}: a country code cannot start with 0 (write it as +<country code><number>)")]
    LeadingZero(String),
    #[error(
        "{input:?} has no country code and {digits} digits; national numbers need exactly {expected} digits (default country code +{country_code}) or a leading '+'"
    )]
    AmbiguousNational {
        input: String,
        digits: usize,
        expected: usize,
        country_code: String,
    },
    #[error("{0:?} has no country code; write it in international form (+<country code><number>)")]
    NoCountryCode(String),
    #[error("{0:?}: a North American area code cannot start with 0 or 1")]
    BadAreaCode(String),
    #[error("{0:?} is not a valid default country code (1 to 3 digits, not starting with 0)")]
    BadCountryCode(String),
}

/// Normalises with the default policy (national numbers: 10 digits, country code 1).
pub fn normalize(input: &str) -> Result<String, NumberError> {
    normalize_with(input, &NumberPolicy::default())
}

/// Normalises `input` to E.164 (`+` followed by 7 to 15 digits) under `policy`.
pub fn normalize_with(input: &str, policy: &NumberPolicy) -> Result<String, NumberError> {
    let trimmed = input.trim();
    let body = strip_tel_prefix(trimmed);
    if body.is_empty() {
        return Err(NumberError::Empty);
    }
    let mut digits = String::with_capacity(body.len());
    let mut plus = false;
    for (i, c) in body.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            '+' => return Err(NumberError::MisplacedPlus(input.to_string())),
            ' ' | '\u{a0}' | '\t' | '-' | '.' | '(' | ')' | '/' => {}
            other => {
                if !body.chars().any(|c| c.is_ascii_digit()) {
                    return Err(NumberError::NotANumber(input.to_string()));
                }
                return Err(NumberError::InvalidCharacter {
                    input: input.to_string(),
                    found: other,
                });
            }
        }
    }
    if digits.is_empty() {
        return Err(if plus {
            NumberError::BadLength {
                input: input.to_string(),
                digits: 0,
            }
        } else {
            NumberError::NotANumber(input.to_string())
        });
    }
    let full = if plus {
        digits
    } else {
        national_to_international(input, &digits, policy)?
    };
    if full.starts_with('0') {
        return Err(NumberError::LeadingZero(input.to_string()));
    }
    if !(7..=15).contains(&full.len()) {
        return Err(NumberError::BadLength {
            input: input.to_string(),
            digits: full.len(),
        });
    }
    if let Some(national) = full.strip_prefix('1')
        && national.len() == 10
        && matches!(national.as_bytes()[0], b'0' | b'1')
    {
        return Err(NumberError::BadAreaCode(input.to_string()));
    }
    Ok(format!("+{full}"))
}

/// True when `s` is already in the normalised form this module produces.
pub fn is_normalized(s: &str) -> bool {
    match s.strip_prefix('+') {
        Some(d) => {
            (7..=15).contains(&d.len())
                && d.bytes().all(|b| b.is_ascii_digit())
                && !d.starts_with('0')
        }
        None => false,
    }
}

fn strip_tel_prefix(s: &str) -> &str {
    match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("tel:") => s[4..].trim(),
        _ => s,
    }
}

fn national_to_international(
    input: &str,
    digits: &str,
    policy: &NumberPolicy,
) -> Result<String, NumberError> {
    let Some(cc) = policy.default_country_code.as_deref() else {
        return Err(NumberError::NoCountryCode(input.to_string()));
    };
    if digits.len() == policy.national_digits {
        if digits.starts_with('0') && cc != "1" {
            // A trunk prefix (e.g. UK 020...) would need per-country rules: refuse to guess.
            return Err(NumberError::AmbiguousNational {
                input: input.to_string(),
                digits: digits.len(),
                expected: policy.national_digits,
                country_code: cc.to_string(),
            });
        }
        return Ok(format!("{cc}{digits}"));
    }
    if digits.len() == cc.len() + policy.national_digits && digits.starts_with(cc) {
        return Ok(digits.to_string());
    }
    Err(NumberError::AmbiguousNational {
        input: input.to_string(),
        digits: digits.len(),
        expected: policy.national_digits,
        country_code: cc.to_string(),
    })
}

impl fmt::Display for NumberPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.default_country_code {
            Some(cc) => write!(
                f,
                "national numbers: {} digits, country code +{cc}",
                self.national_digits
            ),
            None => write!(f, "international numbers only"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_of_the_same_number_agree() {
        for s in [
            "+14255550100",
            "+1 (425) 555-0100",
            "+1-425-555-0100",
            "14255550100",
            "1 425 555 0100",
            "(425) 555-0100",
            "425.555.0100",
            "4255550100",
            "  +1 425 555 0100  ",
            "tel:+1-425-555-0100",
            "TEL:+14255550100",
            "+1\u{a0}425\u{a0}555\u{a0}0100",
            "+1/425/555/0100",
        ] {
            assert_eq!(normalize(s).as_deref(), Ok("+14255550100"), "{s:?}");
        }
    }

    #[test]
    fn international_numbers() {
        assert_eq!(normalize("+44 20 7946 0958").unwrap(), "+442079460958");
        assert_eq!(normalize("+82 10-2345-6789").unwrap(), "+821023456789");
        assert_eq!(normalize("+683 4002").unwrap(), "+6834002");
        assert_eq!(normalize("+123456789012345").unwrap(), "+123456789012345");
    }

    #[test]
    fn malformed_numbers_are_rejected_with_a_reason() {
        assert_eq!(normalize(""), Err(NumberError::Empty));
        assert_eq!(normalize("   "), Err(NumberError::Empty));
        assert_eq!(normalize("tel:"), Err(NumberError::Empty));
        assert!(matches!(
            normalize("anonymous"),
            Err(NumberError::NotANumber(_))
        ));
        assert!(matches!(
            normalize("Restricted"),
            Err(NumberError::NotANumber(_))
        ));
        assert!(matches!(normalize("---"), Err(NumberError::NotANumber(_))));
        assert!(matches!(
            normalize("+1 425 555 0100 x12"),
            Err(NumberError::InvalidCharacter { found: 'x', .. })
        ));
        assert!(matches!(
            normalize("425-555-O100"),
            Err(NumberError::InvalidCharacter { found: 'O', .. })
        ));
        assert!(matches!(
            normalize("1+4255550100"),
            Err(NumberError::MisplacedPlus(_))
        ));
        assert!(matches!(
            normalize("++14255550100"),
            Err(NumberError::MisplacedPlus(_))
        ));
        assert!(matches!(
            normalize("+1"),
            Err(NumberError::BadLength { digits: 1, .. })
        ));
        assert!(matches!(
            normalize("+"),
            Err(NumberError::BadLength { digits: 0, .. })
        ));
        assert!(matches!(
            normalize("+1234567890123456"),
            Err(NumberError::BadLength { digits: 16, .. })
        ));
        assert!(matches!(
            normalize("+0114255550100"),
            Err(NumberError::LeadingZero(_))
        ));
        assert!(matches!(
            normalize("5550100"),
            Err(NumberError::AmbiguousNational { digits: 7, .. })
        ));
        assert!(matches!(
            normalize("24255550100"),
            Err(NumberError::AmbiguousNational { digits: 11, .. })
        ));
        assert!(matches!(
            normalize("0255550100"),
            Err(NumberError::BadAreaCode(_))
        ));
        assert!(matches!(
            normalize("+11255550100"),
            Err(NumberError::BadAreaCode(_))
        ));
    }

    #[test]
    fn errors_read_well() {
        let e = normalize("anonymous").unwrap_err().to_string();
        assert!(e.contains("not a phone number"), "{e}");
        let e = normalize("5550100").unwrap_err().to_string();
        assert!(e.contains("no country code") && e.contains("+1"), "{e}");
    }

    #[test]
    fn international_only_policy() {
        let p = NumberPolicy::international_only();
        assert_eq!(normalize_with("+14255550100", &p).unwrap(), "+14255550100");
        assert!(matches!(
            normalize_with("4255550100", &p),
            Err(NumberError::NoCountryCode(_))
        ));
    }

    #[test]
    fn other_default_country() {
        let p = NumberPolicy::with_country_code("+44", 10).unwrap();
        assert_eq!(normalize_with("2079460958", &p).unwrap(), "+442079460958");
        assert_eq!(
            normalize_with("44 20 7946 0958", &p).unwrap(),
            "+442079460958"
        );
        // A national trunk prefix is not guessed away.
        assert!(normalize_with("0207946095", &p).is_err());
        assert!(NumberPolicy::with_country_code("0", 10).is_err());
        assert!(NumberPolicy::with_country_code("1234", 10).is_err());
        assert!(NumberPolicy::with_country_code("x", 10).is_err());
        assert_eq!(
            NumberPolicy::with_country_code("none", 10).unwrap(),
            NumberPolicy::international_only()
        );
    }

    #[test]
    fn is_normalized_matches_output_form() {
        assert!(is_normalized("+14255550100"));
        assert!(!is_normalized("14255550100"));
        assert!(!is_normalized("+1 425"));
        assert!(!is_normalized("+0123456789"));
    }

    fn separator() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["", " ", "-", ".", "(", ")", "/", "  "]).prop_map(String::from)
    }

    proptest! {
        #[test]
        fn never_panics_and_output_is_e164(s in "\\PC{0,40}") {
            if let Ok(n) = normalize(&s) {
                prop_assert!(is_normalized(&n), "{n}");
            }
        }

        #[test]
        fn idempotent(s in "[+]?[0-9 ()./-]{0,25}") {
            if let Ok(n) = normalize(&s) {
                prop_assert_eq!(normalize(&n), Ok(n.clone()));
            }
        }

        #[test]
        fn separators_do_not_change_the_number(
            digits in "[1-9][0-9]{6,14}",
            seps in prop::collection::vec(separator(), 16),
        ) {
            let plain = format!("+{digits}");
            let mut spaced = String::from("+");
            for (i, d) in digits.chars().enumerate() {
                spaced.push_str(&seps[i % seps.len()]);
                spaced.push(d);
            }
            prop_assert_eq!(normalize(&plain).ok(), normalize(&spaced).ok());
        }

        #[test]
        fn nanp_national_and_international_agree(area in "[2-9][0-9]{2}", rest in "[0-9]{7}") {
            let national = format!("{area}{rest}");
            let expected = format!("+1{national}");
            prop_assert_eq!(normalize(&national), Ok(expected.clone()));
            prop_assert_eq!(normalize(&format!("1{national}")), Ok(expected.clone()));
            prop_assert_eq!(normalize(&format!("({area}) {}-{}", &rest[..3], &rest[3..])), Ok(expected));
        }

        #[test]
        fn letters_are_never_accepted(s in "[0-9+ -]{0,10}[a-zA-Z][0-9a-zA-Z+ -]{0,10}") {
            prop_assert!(normalize(&s).is_err());
        }
    }
}
