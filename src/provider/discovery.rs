//! Discovery endpoints (RFC 7644 §4): what this provider implements, described exactly.

use super::params::{decode, Params};
use super::{Ctx, Response};
use crate::error::{Result, ScimError};
use crate::schema::{resource_type_json, schema_json, ALL_SCHEMAS, RESOURCE_TYPES};
use serde_json::{json, Value};

/// GET /ServiceProviderConfig.
pub(crate) fn service_provider_config(ctx: &Ctx) -> Response {
    let c = ctx.config;
    Response::json(
        200,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
            "patch": { "supported": true },
            "bulk": {
                "supported": true,
                "maxOperations": c.max_operations,
                "maxPayloadSize": c.max_payload_size,
            },
            "filter": { "supported": true, "maxResults": c.max_results },
            // Passwords are accepted and discarded, never stored.
            "changePassword": { "supported": false },
            "sort": { "supported": true },
            "etag": { "supported": true },
            // RFC 9865: both methods; `startIndex` unless the client sends `cursor`.
            "pagination": {
                "cursor": true,
                "index": true,
                "defaultPaginationMethod": "index",
                "defaultPageSize": c.max_results,
                "maxPageSize": c.max_results,
                "cursorTimeout": c.cursor_timeout_secs,
            },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with the directory's secret bearer token",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", ctx.base_url),
            },
        }),
    )
}

/// GET /ResourceTypes and /ResourceTypes/{name}.
pub(crate) fn resource_types(ctx: &Ctx, id: Option<&str>, params: &Params) -> Result<Response> {
    let all = RESOURCE_TYPES
        .iter()
        .map(|rt| (rt.name, resource_type_json(rt, ctx.base_url)));
    collection_or_item(all, id, params, "ResourceType")
}

/// GET /Schemas and /Schemas/{urn}.
pub(crate) fn schemas(ctx: &Ctx, id: Option<&str>, params: &Params) -> Result<Response> {
    let all = ALL_SCHEMAS
        .iter()
        .map(|s| (s.id, schema_json(s, ctx.base_url)));
    collection_or_item(all, id, params, "Schema")
}

fn collection_or_item(
    all: impl Iterator<Item = (&'static str, Value)>,
    id: Option<&str>,
    params: &Params,
    what: &str,
) -> Result<Response> {
    // RFC 7644 §4: filtering discovery resources is not supported.
    if params.get("filter").is_some() {
        return Err(ScimError::new(
            403,
            None,
            format!("filtering is not supported on {what} discovery"),
        ));
    }
    let all: Vec<(&str, Value)> = all.collect();
    // Schema ids are URNs; clients may percent-encode their colons. A name that does not
    // decode (a bad escape, not UTF-8) names nothing here: 404 with the name as sent, as
    // for any other unknown name (not the query parameter error `decode` words).
    let id = id
        .map(|raw| {
            decode(raw).map_err(|_| ScimError::not_found(format!("{what} '{raw}' not found")))
        })
        .transpose()?;
    match id.as_deref() {
        Some(id) => all
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(id))
            .map(|(_, v)| Response::json(200, &v))
            .ok_or_else(|| ScimError::not_found(format!("{what} '{id}' not found"))),
        None => Ok(Response::json(
            200,
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": all.len(),
                "startIndex": 1,
                "itemsPerPage": all.len(),
                "Resources": all.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            }),
        )),
    }
}
