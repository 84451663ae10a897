//! Directories: one IdP integration each — its own users, groups, token, settings and
//! target services, isolated from every other directory of the engine.

use crate::error::{Result, ScimError};
// Defined in a leaf module that `mapping` uses too (no `directory` <-> `mapping` cycle).
pub use crate::integration::{IdpKind, Service};
use crate::mapping::{Mapping, Profile};
use crate::token::TokenInfo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Longest directory name, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Longest domain, in characters.
pub const MAX_DOMAIN_CHARS: usize = 100;

/// Per-directory behaviour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DirectorySettings {
    /// Reject a `userName` in `user@domain` form, or a work email, whose domain is not
    /// the directory's (400 `invalidValue`).
    pub enforce_domain: bool,
    /// Reject unknown attributes and schema URNs instead of ignoring them.
    pub strict: bool,
    /// Give users and groups created or replaced without a ws1b `domain` the directory's
    /// (on by default; off leaves resources exactly as the IdP sent them).
    pub fill_domain: bool,
}

impl Default for DirectorySettings {
    fn default() -> Self {
        DirectorySettings {
            enforce_domain: false,
            strict: false,
            fill_domain: true,
        }
    }
}

/// What an admin gives to create a directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDirectory {
    pub name: String,
    pub domain: String,
    pub idp: IdpKind,
    pub services: Vec<Service>,
    #[serde(default)]
    pub settings: DirectorySettings,
    /// The attribute mapping every service starts from: `None` → `workspace-one` for
    /// Okta and Entra, `rfc` for a generic IdP.
    #[serde(default)]
    pub mapping_profile: Option<Profile>,
}

/// What an admin may change later (name and IdP kind are fixed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DirectoryUpdate {
    pub domain: Option<String>,
    pub services: Option<Vec<Service>>,
    pub settings: Option<DirectorySettings>,
}

/// A directory as the admin sees it. Never holds the token's secret or hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Directory {
    pub id: String,
    pub name: String,
    pub domain: String,
    pub idp: IdpKind,
    pub services: Vec<Service>,
    pub settings: DirectorySettings,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub created: OffsetDateTime,
    /// The current token, if one was issued and not revoked (it may have expired).
    pub token: Option<TokenInfo>,
    /// The SCIM base URL to paste into the IdP (derived from the engine's public URL).
    pub tenant_url: String,
    /// OpenID Connect login, when configured.
    pub login: Option<LoginInfo>,
}

/// The stored part of a directory (`DirectoryRecord::data`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredSettings {
    pub domain: String,
    pub idp: IdpKind,
    pub services: Vec<Service>,
    pub settings: DirectorySettings,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub token: Option<TokenInfo>,
    /// Per service; a fed service without one uses its profile's defaults (directories
    /// stored before mappings existed, services added later).
    #[serde(default)]
    pub mappings: BTreeMap<Service, Mapping>,
    /// OpenID Connect login through the directory's IdP, when configured.
    #[serde(default)]
    pub oidc: Option<DirectoryOidc>,
}

/// A directory's OpenID Connect login: the relying-party settings and which directory
/// attribute the identifying claim is matched against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryOidc {
    /// The client secret is kept (the token endpoint needs it); `Debug` hides it.
    pub config: crate::oidc::OidcConfig,
    /// The mapped (Workspace ONE) attribute the claim `config.claim` must equal:
    /// `email` (the console default) or `externalId` (with the `sub` claim, the safer
    /// choice).
    #[serde(default = "default_login_attribute")]
    pub attribute: String,
}

fn default_login_attribute() -> String {
    "email".into()
}

/// What the admin sees of a directory's login (no secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoginInfo {
    pub client_id: String,
    pub config_url: String,
    pub claim: String,
    pub attribute: String,
    /// Paste into the IdP's application as its sign-in redirect URI.
    pub redirect_uri: String,
    /// Where a browser starts a login.
    pub login_url: String,
}

impl StoredSettings {
    /// The profile a service without a stored mapping starts from: that of the other
    /// services' mappings, else the IdP's default.
    fn profile(&self) -> Profile {
        self.mappings
            .values()
            .next()
            .map_or(Profile::for_idp(self.idp), |m| m.profile)
    }

    /// The mapping of one service (stored, or its profile's defaults).
    pub fn mapping(&self, service: Service) -> Mapping {
        self.mappings
            .get(&service)
            .cloned()
            .unwrap_or_else(|| self.profile().mapping())
    }

    /// The mappings of the services the directory feeds.
    pub fn fed_mappings(&self) -> BTreeMap<Service, Mapping> {
        self.services
            .iter()
            .map(|s| (*s, self.mapping(*s)))
            .collect()
    }
}

/// `name`: 1–128 characters, letters of any script, digits, space, `-`, `_`; no leading
/// or trailing space.
pub fn validate_name(name: &str) -> Result<()> {
    let invalid = |rule: &str| ScimError::invalid_value(format!("name: {rule}"));
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        return Err(invalid(&format!(
            "must be 1 to {MAX_NAME_CHARS} characters (got {n})"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '_')))
    {
        return Err(invalid(&format!(
            "may contain only letters, digits, space, '-' and '_' (found {c:?})"
        )));
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return Err(invalid("must not start or end with a space"));
    }
    Ok(())
}

/// `domain`: one domain of at most 100 characters, letters, digits, `-` and `.`, with at
/// least one dot; no empty label, no label starting or ending with `-`. Returns it in
/// lower case.
pub fn normalize_domain(domain: &str) -> Result<String> {
    let invalid = |rule: &str| ScimError::invalid_value(format!("domain: {rule}"));
    let n = domain.chars().count();
    if n == 0 || n > MAX_DOMAIN_CHARS {
        return Err(invalid(&format!(
            "must be 1 to {MAX_DOMAIN_CHARS} characters (got {n})"
        )));
    }
    if let Some(c) = domain
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '.')))
    {
        return Err(invalid(&format!(
            "may contain only letters, digits, '-' and '.' (found {c:?})"
        )));
    }
    if !domain.contains('.') {
        return Err(invalid("must contain at least one dot"));
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(invalid(
                "must not have an empty label (leading, trailing or double dot)",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(&format!(
                "label '{label}' must not start or end with '-'"
            )));
        }
    }
    Ok(domain.to_lowercase())
}

/// `services`: at least one, each once.
pub fn normalize_services(services: &[Service]) -> Result<Vec<Service>> {
    let mut s = services.to_vec();
    s.sort();
    s.dedup();
    if s.is_empty() {
        return Err(ScimError::invalid_value(
            "services: must name at least one of 'uem' and 'access'",
        ));
    }
    Ok(s)
}

/// The domain part of `user@domain`, if the value has that form.
pub(crate) fn domain_of(value: &str) -> Option<&str> {
    let (local, domain) = value.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty()).then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "Lab Directory",
            "a",
            "Ünïcødé_目录-1",
            "Отдел продаж",
            &"x".repeat(128),
        ] {
            validate_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, rule) in [
            ("", "1 to 128"),
            (&"x".repeat(129) as &str, "1 to 128"),
            ("a.b", "only letters"),
            ("a/b", "only letters"),
            ("tab\tname", "only letters"),
            (" lead", "start or end"),
            ("trail ", "start or end"),
        ] {
            let e = validate_name(bad).unwrap_err();
            assert!(e.detail.starts_with("name: "), "{}", e.detail);
            assert!(e.detail.contains(rule), "{bad}: {}", e.detail);
        }
    }

    #[test]
    fn domains() {
        assert_eq!(normalize_domain("Example.COM").unwrap(), "example.com");
        assert_eq!(
            normalize_domain("a-b.c-d.example").unwrap(),
            "a-b.c-d.example"
        );
        let long = format!("{}.com", "a".repeat(96));
        assert_eq!(normalize_domain(&long).unwrap().len(), 100);
        for (bad, rule) in [
            ("", "1 to 100"),
            (&format!("{}.com", "a".repeat(97)) as &str, "1 to 100"),
            ("example", "at least one dot"),
            ("exa mple.com", "only letters"),
            ("a,b.com", "only letters"),
            ("a_b.com", "only letters"),
            (".example.com", "empty label"),
            ("example..com", "empty label"),
            ("example.com.", "empty label"),
            ("-ex.com", "start or end with '-'"),
            ("ex-.com", "start or end with '-'"),
            ("a.com b.com", "only letters"),
        ] {
            let e = normalize_domain(bad).unwrap_err();
            assert!(e.detail.starts_with("domain: "), "{}", e.detail);
            assert!(e.detail.contains(rule), "{bad}: {}", e.detail);
        }
    }

    #[test]
    fn services() {
        assert_eq!(
            normalize_services(&[Service::Access, Service::Uem, Service::Access]).unwrap(),
            [Service::Uem, Service::Access]
        );
        assert!(normalize_services(&[])
            .unwrap_err()
            .detail
            .starts_with("services: "));
    }

    #[test]
    fn email_domains() {
        assert_eq!(domain_of("jane@Example.com"), Some("Example.com"));
        assert_eq!(domain_of("a@b@c.com"), Some("c.com"));
        assert_eq!(domain_of("jane"), None);
        assert_eq!(domain_of("@x.com"), None);
    }
}
