//! A directory for tests that need one: Okta, UEM only, domain `example.com`, and RFC
//! 7643's profile (only the required attributes enforced, so minimal users will do).

use scim::directory::{DirectorySettings, IdpKind, NewDirectory, Service};
use scim::mapping::Profile;
use scim::Engine;

/// Directory `name` created on `e`: its id and a bearer token for it.
pub fn okta_uem(e: &Engine, name: &str) -> (String, String) {
    let d = e
        .create_directory(&NewDirectory {
            name: name.into(),
            domain: "example.com".into(),
            idp: IdpKind::Okta,
            services: vec![Service::Uem],
            settings: DirectorySettings::default(),
            mapping_profile: Some(Profile::Rfc),
        })
        .unwrap();
    let token = e.issue_token(&d.id, None).unwrap().secret.to_string();
    (d.id, token)
}
