//! The built-in mapping profiles.

use super::{Mapping, MappingEntry as E, Transform};
use crate::integration::IdpKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const WS1B_USER: &str = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:User";
const WS1B_GROUP: &str = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:Group";

/// A set of default entries a mapping starts from.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// The Workspace ONE defaults (six required user attributes, the enterprise and ws1b
    /// extensions, work phone and address; group name, externalId and ws1b extension).
    #[default]
    WorkspaceOne,
    /// Only what RFC 7643 requires: `userName` for users, `displayName` for groups (plus
    /// optional `externalId` and `active`/`displayName`).
    Rfc,
}

/// A profile by its name (`"workspace-one"` or `"rfc"`).
impl std::str::FromStr for Profile {
    type Err = crate::error::ScimError;
    fn from_str(s: &str) -> crate::error::Result<Profile> {
        serde_json::from_value(Value::String(s.to_owned())).map_err(|_| {
            crate::error::ScimError::invalid_value(format!(
                "profile must be 'workspace-one' or 'rfc', not '{s}'"
            ))
        })
    }
}

impl Profile {
    /// The default profile of a directory connected to this IdP.
    pub fn for_idp(idp: IdpKind) -> Profile {
        match idp {
            IdpKind::Okta | IdpKind::Entra => Profile::WorkspaceOne,
            IdpKind::Generic => Profile::Rfc,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::WorkspaceOne => "workspace-one",
            Profile::Rfc => "rfc",
        }
    }

    /// The profile's default mapping.
    pub fn mapping(self) -> Mapping {
        match self {
            Profile::WorkspaceOne => workspace_one(),
            Profile::Rfc => rfc(),
        }
    }

    /// Whether the profile requires `target` (such entries cannot be removed or made
    /// optional).
    pub fn requires(self, kind: crate::schema::ResourceKind, target: &str) -> bool {
        self.mapping()
            .entries(kind)
            .iter()
            .any(|e| e.required && e.target.eq_ignore_ascii_case(target))
    }
}

fn workspace_one() -> Mapping {
    let ent = |t: &str, a: &str| E::new(t, &format!("{ENTERPRISE}:{a}"));
    let ws1b = |t: &str| E::new(t, &format!("{WS1B_USER}:{t}"));
    let addr = |t: &str| E::new(t, &format!("addresses[type eq \"work\"].{t}"));
    let mut users = vec![
        E::new("userName", "userName").required(),
        E::new("externalId", "externalId").required().immutable(),
        E::new("email", "emails[type eq \"work\"].value").required(),
        E::new("firstName", "name.givenName").required(),
        E::new("lastName", "name.familyName").required(),
        // An IdP that omits `active` means an active user (RFC 7643 leaves it optional).
        E::new("active", "active")
            .required()
            .with(Transform::Default {
                value: Value::Bool(true),
            }),
        E::new("displayName", "displayName"),
        E::new("title", "title"),
        E::new("nickName", "nickName"),
        E::new("phoneNumber", "phoneNumbers[type eq \"work\"].value"),
        addr("streetAddress"),
        addr("locality"),
        addr("region"),
        addr("postalCode"),
        addr("country"),
        ent("department", "department"),
        ent("employeeNumber", "employeeNumber"),
        ent("costCenter", "costCenter"),
        ent("division", "division"),
        ent("organization", "organization"),
        ent("manager", "manager.value"),
    ];
    for t in [
        "customAttribute1",
        "customAttribute2",
        "customAttribute3",
        "customAttribute4",
        "customAttribute5",
        "distinguishedName",
        "domain",
        "userPrincipalName",
        "onPremisesUserPrincipalName",
        "adSourceAnchor",
    ] {
        users.push(ws1b(t));
    }
    let groups = vec![
        E::new("displayName", "displayName").required(),
        E::new("externalId", "externalId"),
        E::new("description", &format!("{WS1B_GROUP}:description")),
        E::new(
            "distinguishedName",
            &format!("{WS1B_GROUP}:distinguishedName"),
        ),
        E::new("domain", &format!("{WS1B_GROUP}:domain")),
    ];
    Mapping {
        profile: Profile::WorkspaceOne,
        users,
        groups,
    }
}

fn rfc() -> Mapping {
    Mapping {
        profile: Profile::Rfc,
        users: vec![
            E::new("userName", "userName").required(),
            E::new("externalId", "externalId"),
            E::new("active", "active"),
            E::new("displayName", "displayName"),
        ],
        groups: vec![
            E::new("displayName", "displayName").required(),
            E::new("externalId", "externalId"),
        ],
    }
}
