//! Norwegian organisation numbers (organisasjonsnummer): nine digits, the last a mod-11 check
//! digit computed with the weights 3, 2, 7, 6, 5, 4, 3, 2.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An organisation number as written in a manifest or sent by the API.
///
/// Deserialising accepts a string or an unquoted YAML/JSON integer (normalised to nine digits)
/// and does *not* check the check digit: [`OrgNo::check`] does, so that validation can report it
/// with a source span instead of failing the whole parse.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgNo(String);

/// Why a string is not a valid organisation number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgNoError {
    #[error("an organisation number has exactly 9 digits, `{0}` has {1}")]
    Length(String, usize),
    #[error("an organisation number has only digits, `{0}` has other characters")]
    NotDigits(String),
    #[error(
        "an organisation number starts with 8 or 9 (Enhetsregisteret assigns no other), `{0}` starts with {1}"
    )]
    FirstDigit(String, char),
    #[error("`{value}` fails the mod-11 check: its last digit should be {expected}")]
    CheckDigit { value: String, expected: String },
}

const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];

impl OrgNo {
    /// Wraps a string without checking it (see [`OrgNo::check`]).
    pub fn new_unchecked(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Parses and checks a string: nine digits with a valid check digit.
    pub fn parse(value: &str) -> Result<Self, OrgNoError> {
        let org = Self(value.to_owned());
        org.check()?;
        Ok(org)
    }

    /// Checks digits, length, the first digit (8 or 9: Enhetsregisteret's numbers all start so,
    /// and `000000000` would otherwise pass the mod-11 check) and the mod-11 check digit.
    pub fn check(&self) -> Result<(), OrgNoError> {
        let s = &self.0;
        // A value that is not a number at all is quoted by its short prefix only.
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OrgNoError::NotDigits(super::sniff::clip(s)));
        }
        if s.len() != 9 {
            return Err(OrgNoError::Length(super::sniff::clip(s), s.len()));
        }
        if let Some(first) = s.chars().next().filter(|c| !matches!(c, '8' | '9')) {
            return Err(OrgNoError::FirstDigit(s.clone(), first));
        }
        let digits: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
        let expected = match 11 - sum % 11 {
            11 => Some(0),
            10 => None, // no valid check digit exists for these eight digits
            d => Some(d),
        };
        if expected == Some(digits[8]) {
            Ok(())
        } else {
            Err(OrgNoError::CheckDigit {
                value: s.clone(),
                expected: expected
                    .map_or_else(|| "impossible (no digit fits)".into(), |d| d.to_string()),
            })
        }
    }

    /// Whether the number passes [`OrgNo::check`].
    pub fn is_valid(&self) -> bool {
        self.check().is_ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OrgNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgNo({})", self.0)
    }
}

impl Serialize for OrgNo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OrgNo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::Text(s) => Self(s),
            Raw::Number(n) => Self(format!("{n:09}")),
        })
    }
}

impl JsonSchema for OrgNo {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OrgNo".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A Norwegian organisation number: 9 digits with a valid mod-11 check digit. Quote it (\"974760673\"); an unquoted number is accepted and normalised.",
            "anyOf": [
                { "type": "string", "pattern": "^[0-9]{9}$" },
                { "type": "integer", "minimum": 100000000, "maximum": 999999999 }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_valid_numbers() {
        // Digdir, Brønnøysundregistrene, NAV.
        for n in ["991825827", "974760673", "889640782"] {
            assert_eq!(OrgNo::parse(n).map(|o| o.to_string()), Ok(n.to_owned()));
        }
    }

    #[test]
    fn rejects_a_wrong_check_digit() {
        assert_eq!(
            OrgNo::parse("974760674"),
            Err(OrgNoError::CheckDigit {
                value: "974760674".into(),
                expected: "3".into()
            })
        );
    }

    #[test]
    fn rejects_wrong_length_and_non_digits() {
        assert!(matches!(
            OrgNo::parse("12345678"),
            Err(OrgNoError::Length(_, 8))
        ));
        assert!(matches!(
            OrgNo::parse("97476067a"),
            Err(OrgNoError::NotDigits(_))
        ));
    }

    #[test]
    fn rejects_numbers_whose_check_digit_would_be_ten() {
        // 3*1 + 2*0*... chosen so that 11 - sum % 11 == 10.
        let bad = (800_000_000u32..800_001_000)
            .map(|n| n.to_string())
            .find(|s| {
                let sum: u32 = s
                    .bytes()
                    .take(8)
                    .zip(WEIGHTS)
                    .map(|(b, w)| u32::from(b - b'0') * w)
                    .sum();
                11 - sum % 11 == 10
            })
            .unwrap();
        assert!(matches!(
            OrgNo::parse(&bad),
            Err(OrgNoError::CheckDigit { .. })
        ));
    }

    #[test]
    fn rejects_numbers_not_starting_with_8_or_9_even_with_a_valid_check_digit() {
        for n in ["000000000", "123456785", "710000018"] {
            let first = n.chars().next().unwrap();
            assert_eq!(
                OrgNo::parse(n),
                Err(OrgNoError::FirstDigit(n.into(), first)),
                "{n}"
            );
        }
        assert_eq!(
            OrgNoError::FirstDigit("000000000".into(), '0').to_string(),
            "an organisation number starts with 8 or 9 (Enhetsregisteret assigns no other), `000000000` starts with 0"
        );
    }

    #[test]
    fn deserialises_unquoted_numbers_to_strings() {
        let org: OrgNo = serde_json::from_str("974760673").unwrap();
        assert_eq!(org.as_str(), "974760673");
        let org: OrgNo = serde_json::from_str("\"974760673\"").unwrap();
        assert_eq!(org.as_str(), "974760673");
    }
}
