//! What a directory connects: the kind of identity provider that provisions it and the
//! downstream services it feeds. A leaf module (it uses nothing of the crate), so that
//! [`crate::directory`] and [`crate::mapping`] can both use these without using each
//! other. Private: their public path stays `scim::directory::{IdpKind, Service}`.

use serde::{Deserialize, Serialize};

/// The identity provider a directory is connected to. Fixed at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IdpKind {
    Okta,
    Entra,
    Generic,
}

/// A downstream service the directory feeds.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// Workspace ONE UEM (device management).
    Uem,
    /// Workspace ONE Access (identity).
    Access,
}
