//! The transforms an entry may apply to its source value.

use super::Transform;
use crate::error::{Result, ScimError};
use serde_json::Value;

/// Missing: absent, `null` or the empty string.
pub(crate) fn is_missing(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

impl Transform {
    /// A `default`/`constant` value must be a string, number or boolean.
    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            Transform::Default { value } | Transform::Constant { value } => match value {
                Value::String(s) if s.is_empty() => Err(ScimError::invalid_value(
                    "transform value must not be empty",
                )),
                Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(()),
                _ => Err(ScimError::invalid_value(
                    "transform value must be a string, number or boolean",
                )),
            },
            _ => Ok(()),
        }
    }

    /// Whether the transform uses its entry's source at all.
    pub(crate) fn reads_source(&self) -> bool {
        !matches!(self, Transform::Constant { .. })
    }

    /// Apply to a source value (`None` when missing). The result is `None` when missing.
    pub(crate) fn apply(&self, v: Option<&Value>) -> Option<Value> {
        let v = if is_missing(v) { None } else { v };
        let text = |f: &dyn Fn(&str) -> Option<String>| match v? {
            Value::String(s) => f(s).map(Value::String),
            other => Some(other.clone()),
        };
        let out = match self {
            Transform::Lowercase => text(&|s| Some(s.to_lowercase())),
            Transform::Uppercase => text(&|s| Some(s.to_uppercase())),
            Transform::Default { value } => Some(v.cloned().unwrap_or_else(|| value.clone())),
            Transform::EmailLocalPart => {
                text(&|s| Some(s.rsplit_once('@').map_or(s, |(local, _)| local).to_owned()))
            }
            Transform::EmailDomain => {
                text(&|s| s.rsplit_once('@').map(|(_, domain)| domain.to_owned()))
            }
            Transform::Constant { value } => Some(value.clone()),
        };
        out.filter(|o| !is_missing(Some(o)))
    }
}
