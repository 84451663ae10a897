//! The schemas libscim serves: RFC 7643 User and Group (§4, §8.7.1), the Enterprise User
//! extension (§4.3), and the Workspace ONE (ws1b) User and Group extensions.

use super::{
    AttrType::*, AttributeDef as A, ExtensionRef, Mutability::*, ResourceKind, ResourceTypeDef,
    Returned::*, SchemaDef, Uniqueness,
};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const WS1B_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:User";
pub const WS1B_GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:ws1b:2.0:Group";

const TYPE_CANON: &[&str] = &["work", "home", "other"];

/// Sub-attributes shared by the plain multi-valued attributes (emails, phoneNumbers, ims,
/// photos, entitlements, roles, x509Certificates).
macro_rules! multi_value_subs {
    ($value:expr, $types:expr) => {
        &[
            $value,
            A::string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            A::string("type", "A label indicating the attribute's function.").canonical($types),
            A::string("primary", "Whether this is the preferred value.").of_type(Boolean),
        ]
    };
}

/// The attributes every resource has (RFC 7643 §3.1). Not listed under `/Schemas`.
pub static COMMON: SchemaDef = SchemaDef {
    id: "urn:ietf:params:scim:schemas:common",
    name: "Common",
    description: "Attributes common to all resources",
    attributes: &[
        A::string(
            "id",
            "Unique identifier for the resource, assigned by the service provider.",
        )
        .case_exact()
        .mutability(ReadOnly)
        .returned(Always)
        .uniqueness(Uniqueness::Server),
        A::string(
            "externalId",
            "Identifier of the resource as defined by the provisioning client.",
        )
        .case_exact(),
        A::complex(
            "meta",
            "Resource metadata.",
            &[
                A::string("resourceType", "The name of the resource type.")
                    .case_exact()
                    .mutability(ReadOnly),
                A::string("created", "When the resource was added.")
                    .of_type(DateTime)
                    .mutability(ReadOnly),
                A::string("lastModified", "When the resource was last updated.")
                    .of_type(DateTime)
                    .mutability(ReadOnly),
                A::string("location", "The URI of the resource.")
                    .of_type(Reference)
                    .case_exact()
                    .mutability(ReadOnly)
                    .references(&["uri"]),
                A::string("version", "The version (ETag) of the resource.")
                    .case_exact()
                    .mutability(ReadOnly),
            ],
        )
        .mutability(ReadOnly),
    ],
};

pub static USER: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: &[
        A::string(
            "userName",
            "Unique identifier for the User, used to authenticate.",
        )
        .required()
        .uniqueness(Uniqueness::Server),
        A::complex(
            "name",
            "The components of the user's real name.",
            &[
                A::string("formatted", "The full name, formatted for display."),
                A::string("familyName", "The family name of the User."),
                A::string("givenName", "The given name of the User."),
                A::string("middleName", "The middle name(s) of the User."),
                A::string("honorificPrefix", "The honorific prefix(es) of the User."),
                A::string("honorificSuffix", "The honorific suffix(es) of the User."),
            ],
        ),
        A::string("displayName", "The name of the User, suitable for display."),
        A::string("nickName", "The casual way to address the user."),
        A::string(
            "profileUrl",
            "A fully qualified URL to the User's online profile.",
        )
        .of_type(Reference)
        .references(&["external"]),
        A::string("title", "The user's title, such as \"Vice President\"."),
        A::string(
            "userType",
            "The relationship between the organization and the user.",
        ),
        A::string(
            "preferredLanguage",
            "The User's preferred written or spoken language.",
        ),
        A::string("locale", "The User's default location for localization."),
        A::string("timezone", "The User's time zone in IANA format."),
        A::string("active", "The User's administrative status.").of_type(Boolean),
        A::string("password", "The User's cleartext password, never returned.")
            .case_exact()
            .mutability(WriteOnly)
            .returned(Never),
        A::complex(
            "emails",
            "Email addresses for the user.",
            multi_value_subs!(
                A::string("value", "Email address for the User."),
                TYPE_CANON
            ),
        )
        .multi(),
        A::complex(
            "phoneNumbers",
            "Phone numbers for the User.",
            multi_value_subs!(
                A::string("value", "Phone number of the User."),
                &["work", "home", "mobile", "fax", "pager", "other"]
            ),
        )
        .multi(),
        A::complex(
            "ims",
            "Instant messaging addresses for the User.",
            multi_value_subs!(
                A::string("value", "Instant messaging address for the User."),
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
            ),
        )
        .multi(),
        A::complex(
            "photos",
            "URLs of photos of the User.",
            multi_value_subs!(
                A::string("value", "URL of a photo of the User.")
                    .of_type(Reference)
                    .references(&["external"]),
                &["photo", "thumbnail"]
            ),
        )
        .multi(),
        A::complex(
            "addresses",
            "A physical mailing address for this User.",
            &[
                A::string(
                    "formatted",
                    "The full mailing address, formatted for display.",
                ),
                A::string("streetAddress", "The full street address component."),
                A::string("locality", "The city or locality component."),
                A::string("region", "The state or region component."),
                A::string("postalCode", "The zip code or postal code component."),
                A::string("country", "The country name component."),
                A::string("type", "A label indicating the attribute's function.")
                    .canonical(TYPE_CANON),
                A::string("primary", "Whether this is the preferred address.").of_type(Boolean),
            ],
        )
        .multi(),
        A::complex(
            "groups",
            "A list of groups to which the user belongs, derived from Group memberships.",
            &[
                A::string("value", "The identifier of the User's group.").mutability(ReadOnly),
                A::string("$ref", "The URI of the corresponding Group resource.")
                    .of_type(Reference)
                    .mutability(ReadOnly)
                    .references(&["User", "Group"]),
                A::string("display", "A human-readable name of the group.").mutability(ReadOnly),
                A::string("type", "How the membership was derived.")
                    .mutability(ReadOnly)
                    .canonical(&["direct", "indirect"]),
            ],
        )
        .multi()
        .mutability(ReadOnly),
        A::complex(
            "entitlements",
            "A list of entitlements for the User.",
            multi_value_subs!(A::string("value", "The value of an entitlement."), &[]),
        )
        .multi(),
        A::complex(
            "roles",
            "A list of roles for the User.",
            multi_value_subs!(A::string("value", "The value of a role."), &[]),
        )
        .multi(),
        A::complex(
            "x509Certificates",
            "A list of certificates issued to the User.",
            multi_value_subs!(
                A::string("value", "The value of an X.509 certificate.").of_type(Binary),
                &[]
            ),
        )
        .multi(),
    ],
};

pub static GROUP: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: &[
        A::string("displayName", "A human-readable name for the Group.")
            .required()
            .uniqueness(Uniqueness::Server),
        A::complex(
            "members",
            "A list of members of the Group.",
            &[
                A::string("value", "Identifier of the member of this Group.")
                    .required()
                    .case_exact()
                    .mutability(Immutable),
                A::string("$ref", "The URI of the member resource.")
                    .of_type(Reference)
                    .mutability(Immutable)
                    .references(&["User", "Group"]),
                A::string("type", "The type of the member.")
                    .mutability(Immutable)
                    .canonical(&["User", "Group"]),
                A::string("display", "A human-readable name of the member."),
            ],
        )
        .multi(),
    ],
};

pub static ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &[
        A::string(
            "employeeNumber",
            "Numeric or alphanumeric identifier assigned to a person.",
        ),
        A::string("costCenter", "Identifies the name of a cost center."),
        A::string("organization", "Identifies the name of an organization."),
        A::string("division", "Identifies the name of a division."),
        A::string("department", "Identifies the name of a department."),
        A::complex(
            "manager",
            "The User's manager.",
            &[
                A::string(
                    "value",
                    "The id of the SCIM resource representing the manager.",
                ),
                A::string(
                    "$ref",
                    "The URI of the SCIM resource representing the manager.",
                )
                .of_type(Reference)
                .references(&["User"]),
                A::string("displayName", "The displayName of the User's manager.")
                    .mutability(ReadOnly),
            ],
        ),
    ],
};

pub static WS1B_USER: SchemaDef = SchemaDef {
    id: WS1B_USER_SCHEMA,
    name: "Ws1bUser",
    description: "Workspace ONE User extension",
    attributes: &[
        A::string("customAttribute1", "Custom attribute 1."),
        A::string("customAttribute2", "Custom attribute 2."),
        A::string("customAttribute3", "Custom attribute 3."),
        A::string("customAttribute4", "Custom attribute 4."),
        A::string("customAttribute5", "Custom attribute 5."),
        A::string(
            "distinguishedName",
            "The directory distinguished name of the User.",
        ),
        A::string("domain", "The domain the User belongs to."),
        A::string("userPrincipalName", "The User's principal name."),
        A::string(
            "onPremisesUserPrincipalName",
            "The User's on-premises principal name.",
        ),
        A::string(
            "adSourceAnchor",
            "The immutable Active Directory source anchor.",
        )
        .case_exact(),
    ],
};

pub static WS1B_GROUP: SchemaDef = SchemaDef {
    id: WS1B_GROUP_SCHEMA,
    name: "Ws1bGroup",
    description: "Workspace ONE Group extension",
    attributes: &[
        A::string("description", "A description of the Group."),
        A::string(
            "distinguishedName",
            "The directory distinguished name of the Group.",
        ),
        A::string("domain", "The domain the Group belongs to."),
    ],
};

pub static USER_RESOURCE_TYPE: ResourceTypeDef = ResourceTypeDef {
    kind: ResourceKind::User,
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER,
    extensions: &[
        ExtensionRef {
            schema: &ENTERPRISE_USER,
            required: false,
        },
        ExtensionRef {
            schema: &WS1B_USER,
            required: false,
        },
    ],
};

pub static GROUP_RESOURCE_TYPE: ResourceTypeDef = ResourceTypeDef {
    kind: ResourceKind::Group,
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP,
    extensions: &[ExtensionRef {
        schema: &WS1B_GROUP,
        required: false,
    }],
};

/// Every schema served under `/Schemas`, in a stable order.
pub static ALL_SCHEMAS: [&SchemaDef; 5] =
    [&USER, &GROUP, &ENTERPRISE_USER, &WS1B_USER, &WS1B_GROUP];

/// Both resource types, in a stable order.
pub static RESOURCE_TYPES: [&ResourceTypeDef; 2] = [&USER_RESOURCE_TYPE, &GROUP_RESOURCE_TYPE];
