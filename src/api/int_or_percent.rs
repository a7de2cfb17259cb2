//! `maxSurge` / `maxUnavailable`: an integer or a percentage string such as `"25%"`.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// An integer count or a whole percentage (`"25%"`), as Kubernetes' IntOrString is used for
/// surge and unavailability.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum IntOrPercent {
    Int(i32),
    Str(String),
}

/// A value that is neither a non-negative integer nor `"<digits>%"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {0:?}: must be an integer >= 0 or a percentage such as \"25%\"")]
pub struct InvalidIntOrPercent(pub String);

/// Whether a percentage is applied rounding up (surge) or down (unavailable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    Up,
    Down,
}

impl IntOrPercent {
    pub fn percent(p: u32) -> Self {
        IntOrPercent::Str(format!("{p}%"))
    }

    /// Resolves the value against `total`.
    pub fn scaled(&self, total: i32, rounding: Rounding) -> Result<i32, InvalidIntOrPercent> {
        match self {
            IntOrPercent::Int(n) if *n >= 0 => Ok(*n),
            IntOrPercent::Int(n) => Err(InvalidIntOrPercent(n.to_string())),
            IntOrPercent::Str(s) => {
                let digits = s
                    .strip_suffix('%')
                    .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| InvalidIntOrPercent(s.clone()))?;
                let pct: i64 = digits.parse().map_err(|_| InvalidIntOrPercent(s.clone()))?;
                let product = pct * i64::from(total.max(0));
                let value = match rounding {
                    Rounding::Up => (product + 99) / 100,
                    Rounding::Down => product / 100,
                };
                i32::try_from(value).map_err(|_| InvalidIntOrPercent(s.clone()))
            }
        }
    }

    /// Zero as an integer or as a percentage (`0` and `"0%"` both count).
    pub fn is_zero(&self) -> bool {
        matches!(self.scaled(100, Rounding::Down), Ok(0))
    }
}

impl JsonSchema for IntOrPercent {
    fn schema_name() -> Cow<'static, str> {
        "IntOrPercent".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "x-kubernetes-int-or-string": true,
            "maxLength": 8,
            "x-kubernetes-validations": [{
                "rule": "string(self).endsWith('%') ? string(self).matches('^[0-9]+%$') : string(self).matches('^[0-9]+$') && self == int(string(self))",
                "message": "must be an integer >= 0 or a percentage such as \"25%\""
            }]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_as_documented() {
        let p25 = IntOrPercent::percent(25);
        assert_eq!(p25.scaled(10, Rounding::Up), Ok(3));
        assert_eq!(p25.scaled(10, Rounding::Down), Ok(2));
        assert_eq!(p25.scaled(1, Rounding::Up), Ok(1));
        assert_eq!(p25.scaled(1, Rounding::Down), Ok(0));
        assert_eq!(IntOrPercent::Int(2).scaled(10, Rounding::Up), Ok(2));
    }

    #[test]
    fn malformed_values_are_errors_not_zero() {
        for bad in ["", "%", "25", "2.5%", "-1%", "abc%"] {
            assert!(
                IntOrPercent::Str(bad.into())
                    .scaled(10, Rounding::Up)
                    .is_err(),
                "{bad}"
            );
        }
        assert!(IntOrPercent::Int(-1).scaled(10, Rounding::Up).is_err());
    }

    #[test]
    fn zero_in_both_spellings() {
        assert!(IntOrPercent::Int(0).is_zero());
        assert!(IntOrPercent::Str("0%".into()).is_zero());
        assert!(!IntOrPercent::Str("1%".into()).is_zero());
    }
}
