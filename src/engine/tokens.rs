//! A directory's bearer token: issue, revoke, expiry.

use crate::directory::Directory;
use crate::error::{Result, ScimError};
use crate::token::{self, IssuedToken};
use time::Duration;

use super::Engine;

impl Engine {
    /// Issue a new secret token valid for `lifespan_months` (1–24, default 6). The secret
    /// is returned here once and never stored; the previous token stops working at once.
    /// Changing a lifespan is issuing a new token with it.
    pub fn issue_token(&self, id: &str, lifespan_months: Option<u32>) -> Result<IssuedToken> {
        let months = token::lifespan(lifespan_months)?;
        let issued = token::generate(self.now(), months)?;
        let hash = token::hash(&issued.secret);
        self.modify(id, |s, token_hash| {
            s.token = Some(issued.info.clone());
            *token_hash = Some(hash.clone());
            Ok(())
        })?;
        Ok(issued)
    }

    /// Revoke the directory's token: every request with it fails from now on.
    pub fn revoke_token(&self, id: &str) -> Result<()> {
        self.modify(id, |s, token_hash| {
            s.token = None;
            *token_hash = None;
            Ok(())
        })
        .map(drop)
    }

    /// Directories whose token expires within `within` from now (already expired ones
    /// included), soonest first: what a host warns its admins about. A `within` that
    /// reaches past the representable time (year 9999) is a 400.
    pub fn tokens_expiring_within(&self, within: Duration) -> Result<Vec<Directory>> {
        let limit = self.now().checked_add(within).ok_or_else(|| {
            ScimError::invalid_value(format!(
                "tokens expiring within {} seconds: the limit is past the latest representable time",
                within.whole_seconds()
            ))
        })?;
        let mut out: Vec<Directory> = self
            .directories()?
            .into_iter()
            .filter(|d| d.token.as_ref().is_some_and(|t| t.expires_at <= limit))
            .collect();
        out.sort_by_key(|d| d.token.as_ref().map(|t| t.expires_at));
        Ok(out)
    }
}
