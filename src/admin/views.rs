//! The admin API's JSON (camelCase) of the engine's values.

use crate::activity::{ActivityItem, ActivityKind};
use crate::directory::{Directory, DirectorySettings};
use crate::store::Event;
use crate::token::{IssuedToken, TokenInfo};
use serde_json::{json, Value};
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

/// A token expiring within this is flagged `expiresSoon` (the console warns).
pub const EXPIRES_SOON: Duration = Duration::days(30);

pub fn time(t: OffsetDateTime) -> Value {
    t.format(&time::format_description::well_known::Rfc3339)
        .map_or(Value::Null, Value::String)
}

pub fn settings(s: &DirectorySettings) -> Value {
    json!({
        "enforceDomain": s.enforce_domain,
        "strict": s.strict,
        "fillDomain": s.fill_domain,
    })
}

fn token(t: &TokenInfo, now: OffsetDateTime) -> Value {
    json!({
        "issuedAt": time(t.issued_at),
        "expiresAt": time(t.expires_at),
        "lifespanMonths": t.lifespan_months,
        "expired": t.is_expired(now),
        "expiresSoon": t.expires_at <= now + EXPIRES_SOON,
    })
}

pub fn directory(d: &Directory, now: OffsetDateTime) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "domain": d.domain,
        "idp": d.idp,
        "services": d.services,
        "settings": settings(&d.settings),
        "created": time(d.created),
        "tenantUrl": d.tenant_url,
        "token": d.token.as_ref().map(|t| token(t, now)),
        "login": d.login.as_ref().map(|l| json!({
            "clientId": l.client_id,
            "configUrl": l.config_url,
            "claim": l.claim,
            "attribute": l.attribute,
            "redirectUri": l.redirect_uri,
            "loginUrl": l.login_url,
        })),
    })
}

/// A newly issued token: the only time its secret is shown.
pub fn issued(t: &IssuedToken) -> Value {
    json!({
        "secret": t.secret.as_str(),
        "issuedAt": time(t.info.issued_at),
        "expiresAt": time(t.info.expires_at),
        "lifespanMonths": t.info.lifespan_months,
    })
}

pub fn event(e: &Event) -> Value {
    json!({
        "seq": e.seq,
        "kind": e.kind,
        "resourceType": e.resource_kind.as_str(),
        "resourceId": e.resource_id,
        "time": time(e.time),
        "summary": crate::events::EventSummary::of(e).to_string(),
        "data": e.data,
    })
}

/// An activity item; `names` maps directory ids to names.
pub fn activity_item(i: &ActivityItem, names: &HashMap<String, String>) -> Value {
    let mut o = json!({
        "seq": i.seq,
        "time": time(i.time),
        "directory": i.directory,
        "directoryName": names.get(&i.directory),
    });
    match &i.what {
        ActivityKind::Request {
            method,
            path,
            status,
            latency_ms,
        } => {
            o["kind"] = "request".into();
            o["method"] = method.as_str().into();
            o["path"] = path.as_str().into();
            o["status"] = (*status).into();
            o["latencyMs"] = ((latency_ms * 1000.0).round() / 1000.0).into();
        }
        ActivityKind::Event { event, summary } => {
            o["kind"] = "event".into();
            o["event"] = event.kind.as_str().into();
            o["eventSeq"] = event.seq.into();
            o["resourceType"] = event.resource_kind.as_str().into();
            o["resourceId"] = event.resource_id.as_str().into();
            o["summary"] = summary.to_string().into();
        }
    }
    o
}
