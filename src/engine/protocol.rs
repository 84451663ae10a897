//! Answering SCIM requests for a directory (authenticated, or on the host's authority).

use crate::directory::StoredSettings;
use crate::error::Result;
use crate::mapping::DirectoryMapping;
use crate::provider::{Request, Response, Tenant};

use super::auth::Authenticated;
use super::directories::settings;
use super::Engine;

impl Engine {
    /// Answer one SCIM request. `req.path` is the full path (`/scim/v2/<directory>/Users`);
    /// the bearer token must be the current, unexpired token of that very directory.
    pub fn handle(&self, req: &Request) -> Response {
        match self.authenticate(&req.path, req.header("Authorization")) {
            Ok(auth) => self.handle_authenticated(&auth, req),
            Err(e) => Response::error(&e),
        }
    }

    /// Answer a request authenticated by [`Engine::authenticate`] (`req` is the whole
    /// request, its path the one authenticated). When any directory changed meanwhile
    /// (a token revoked or replaced while the body was uploading), the request is
    /// authenticated again: a revoked token is never honoured after the revoking call
    /// returned. Expiry is checked again too.
    pub fn handle_authenticated(&self, auth: &Authenticated, req: &Request) -> Response {
        let fresh;
        let auth = if self.relay.auth.generation() == auth.generation
            && auth
                .auth
                .settings
                .token
                .as_ref()
                .is_some_and(|t| !t.is_expired(self.now()))
        {
            auth
        } else {
            match self.authenticate(&req.path, req.header("Authorization")) {
                Ok(a) => {
                    fresh = a;
                    &fresh
                }
                Err(e) => return Response::error(&e),
            }
        };
        let a = &auth.auth;
        let tenant = tenant(&a.id, &a.settings, &a.base_url, &a.mapping);
        let resp = self.provider.handle_at(&tenant, req, &auth.rest);
        if resp.status < 300 && !req.method.eq_ignore_ascii_case("GET") {
            // A Bulk request may carry many changes: retention runs after each.
            let bulk = auth
                .rest
                .trim_end_matches('/')
                .eq_ignore_ascii_case("/Bulk");
            self.committed(&a.id, bulk);
        }
        resp
    }

    /// A read of a directory's SCIM endpoint on the host's own authority, without its
    /// token (the admin API's users and groups pages): `GET <path>?<query>` below the
    /// directory's SCIM base (`/Users`, `/Groups/<id>`), answered by the same protocol
    /// engine as any IdP's request, with the same filters, paging and errors. Only reads:
    /// nothing else can be asked this way.
    pub fn read_directory(&self, directory_id: &str, path: &str, query: &str) -> Response {
        let answer = || -> Result<Response> {
            let record = self.record(directory_id)?;
            let s = settings(&record)?;
            let m = self.compiled_mapping(&record.id, &s)?;
            let base_url = self.tenant_url(&record.id);
            let tenant = tenant(&record.id, &s, &base_url, &m);
            let req = Request {
                method: "GET".into(),
                path: format!(
                    "{}/{}{path}",
                    self.config.scim_path.trim_end_matches('/'),
                    record.id
                ),
                query: query.to_owned(),
                headers: Vec::new(),
                body: Vec::new(),
            };
            Ok(self.provider.handle_at(&tenant, &req, path))
        };
        answer().unwrap_or_else(|e| Response::error(&e))
    }
}

/// The protocol context of a directory.
pub(super) fn tenant<'a>(
    id: &'a str,
    s: &'a StoredSettings,
    base_url: &'a str,
    mappings: &'a DirectoryMapping,
) -> Tenant<'a> {
    Tenant {
        id,
        base_url,
        domain: Some(&s.domain),
        fill_domain: s.settings.fill_domain,
        enforce_domain: s.settings.enforce_domain,
        strict: s.settings.strict,
        mappings: Some(mappings),
    }
}
