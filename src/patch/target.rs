//! What an operation's path designates, once resolved against the resource type: what
//! [`mod@super::apply`] resolves and [`super::members`] receives for a Group's `members`.

use crate::filter::Filter;
use crate::schema::{AttributeDef, Resolved, SchemaDef};

/// What an operation's path designates.
pub(super) enum Target {
    /// Unknown attribute or extension, ignored in lenient mode.
    Ignore,
    /// A whole schema (`urn:…:enterprise:2.0:User`): its attributes are the value's keys.
    Schema(&'static SchemaDef),
    Attr(AttrTarget),
}

pub(super) struct AttrTarget {
    pub res: Resolved,
    /// `name.givenName`: a sub-attribute of a single-valued complex attribute.
    pub sub: Option<&'static AttributeDef>,
    /// `emails[type eq "work"]`.
    pub filter: Option<Filter>,
    /// `emails[type eq "work"].value`.
    pub filter_sub: Option<&'static AttributeDef>,
    /// For error messages.
    pub path: String,
}
