//! Authentication of a SCIM request: which directory its bearer token is for.

use crate::error::{Result, ScimError};
use crate::token::{self, HashMemo};
use std::sync::Arc;

use super::auth_cache::Authorized;
use super::directories::settings;
use super::Engine;

/// A request head [`Engine::authenticate`] accepted: which directory it is for. Answer
/// the request with [`Engine::handle_authenticated`].
pub struct Authenticated {
    pub(super) auth: Arc<Authorized>,
    /// The path below the directory's SCIM base.
    pub(super) rest: String,
    /// The authentication cache generation when it was authenticated.
    pub(super) generation: u64,
}

impl Authenticated {
    /// The authenticated directory.
    pub fn directory_id(&self) -> &str {
        &self.auth.id
    }
}

/// What every authentication failure says: nothing about which part was wrong, and
/// nothing about any other directory.
const UNAUTHORIZED: &str = "a valid bearer token for this directory is required";

impl Engine {
    /// Authenticate a request from its head alone (path and `Authorization` header), before
    /// its body is read: what a server does first, so an unauthenticated client never gets
    /// to upload a body, and what it rate-limits by ([`Authenticated::directory_id`]).
    /// A 404 when the path is not below the SCIM path; a 401 for any token problem.
    pub fn authenticate(&self, path: &str, authorization: Option<&str>) -> Result<Authenticated> {
        self.authenticate_with(path, authorization, &mut HashMemo::default())
    }

    /// [`Engine::authenticate`] for the requests of one client connection: `memo` keeps
    /// the hash of the token the connection presented last, so a token sent again is not
    /// hashed again. The same checks, in the same order, on every request.
    pub fn authenticate_with(
        &self,
        path: &str,
        authorization: Option<&str>,
        memo: &mut HashMemo,
    ) -> Result<Authenticated> {
        let generation = self.relay.auth.generation();
        let (auth, rest) = self.authorize(path, authorization, memo)?;
        Ok(Authenticated {
            auth,
            rest,
            generation,
        })
    }

    /// The directory a request is for and the path below its SCIM base. The token is
    /// looked up in the authentication cache, and in the store on a miss; its expiry is
    /// checked on every request.
    fn authorize(
        &self,
        path: &str,
        authorization: Option<&str>,
        memo: &mut HashMemo,
    ) -> Result<(Arc<Authorized>, String)> {
        let prefix = self.config.scim_path.trim_end_matches('/');
        let below = path
            .strip_prefix(prefix)
            .filter(|rest| rest.starts_with('/'))
            .ok_or_else(|| ScimError::not_found(format!("no SCIM endpoint at '{path}'")))?;
        let (dir_id, rest) = match below[1..].split_once('/') {
            Some((d, r)) => (d, format!("/{r}")),
            None => (&below[1..], String::from("/")),
        };
        let denied = || ScimError::unauthorized(UNAUTHORIZED);
        let secret = authorization
            .and_then(|h| {
                let (scheme, value) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("Bearer").then(|| value.trim())
            })
            .filter(|s| !s.is_empty())
            .ok_or_else(denied)?;
        let hash = memo.hash(secret);
        let auth = match self.relay.auth.get(hash) {
            Some(auth) => auth,
            None => {
                // Taken before the store read: see `auth_cache`.
                let ticket = self.relay.auth.ticket();
                let record = self.store.directory_by_token(hash)?.ok_or_else(denied)?;
                let stored = record.token_hash.as_deref().unwrap_or("");
                if !token::hashes_equal(stored, hash) || record.id != dir_id {
                    return Err(denied());
                }
                let settings = settings(&record)?;
                let auth = Arc::new(Authorized {
                    mapping: self.compiled_mapping(&record.id, &settings)?,
                    base_url: self.tenant_url(&record.id),
                    settings,
                    id: record.id,
                });
                self.relay
                    .auth
                    .insert(hash.to_owned(), ticket, auth.clone());
                auth
            }
        };
        // The token must belong to the directory named in the path: a token for A can
        // never reach B, whatever the path says.
        if auth.id != dir_id {
            return Err(denied());
        }
        match &auth.settings.token {
            Some(t) if !t.is_expired(self.now()) => Ok((auth, rest)),
            _ => Err(denied()),
        }
    }
}
