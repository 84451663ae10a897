//! Directories (tenants): create, read, change, delete; their stored settings.

use crate::directory::{
    normalize_domain, normalize_services, validate_name, Directory, DirectoryUpdate, LoginInfo,
    NewDirectory, StoredSettings,
};
use crate::error::{Result, ScimError};
use crate::mapping::Profile;
use crate::store::DirectoryRecord;

use super::Engine;

impl Engine {
    /// Create a directory. Each rule violation is a 400 naming the field and the rule; a
    /// name already in use (case-insensitively) is a 409.
    pub fn create_directory(&self, new: &NewDirectory) -> Result<Directory> {
        validate_name(&new.name)?;
        let services = normalize_services(&new.services)?;
        let profile = new.mapping_profile.unwrap_or(Profile::for_idp(new.idp));
        let settings = StoredSettings {
            domain: normalize_domain(&new.domain)?,
            idp: new.idp,
            mappings: services.iter().map(|s| (*s, profile.mapping())).collect(),
            services,
            settings: new.settings.clone(),
            created: self.now(),
            token: None,
            oidc: None,
        };
        // Ids never contain '_' (Okta rejects base URLs with one).
        let record = DirectoryRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            name: new.name.clone(),
            token_hash: None,
            data: to_data(&settings)?,
        };
        self.store.create_directory(&record)?;
        // Its first event is news to the activity feed.
        self.activity.mark(&record.id, 0);
        self.view(&record)
    }

    pub fn directory(&self, id: &str) -> Result<Directory> {
        self.view(&self.record(id)?)
    }

    /// The directory with this name (case-insensitively), if any.
    pub fn directory_by_name(&self, name: &str) -> Result<Option<Directory>> {
        let folded = name.to_lowercase();
        self.store
            .list_directories()?
            .iter()
            .find(|r| r.name.to_lowercase() == folded)
            .map(|r| self.view(r))
            .transpose()
    }

    /// Every directory, in creation order.
    pub fn directories(&self) -> Result<Vec<Directory>> {
        self.store
            .list_directories()?
            .iter()
            .map(|r| self.view(r))
            .collect()
    }

    /// Change what may change: domain, services, settings. Name and IdP kind are fixed.
    pub fn update_directory(&self, id: &str, update: &DirectoryUpdate) -> Result<Directory> {
        let domain = update.domain.as_deref().map(normalize_domain).transpose()?;
        let services = update
            .services
            .as_deref()
            .map(normalize_services)
            .transpose()?;
        let record = self.modify(id, |s, _| {
            if let Some(d) = &domain {
                s.domain.clone_from(d);
            }
            if let Some(services) = &services {
                s.services.clone_from(services);
            }
            if let Some(settings) = &update.settings {
                s.settings = settings.clone();
            }
            Ok(())
        })?;
        self.view(&record)
    }

    /// Delete a directory with its users, groups and pending events; its token stops
    /// working at once.
    pub fn delete_directory(&self, id: &str) -> Result<()> {
        let deleted = self.store.delete_directory(id);
        self.relay.auth.invalidate();
        if !deleted? {
            return Err(not_found(id));
        }
        self.compiled.lock().remove(id);
        self.relay.feed.forget(id);
        self.activity.forget(id);
        self.parties.lock().remove(id);
        Ok(())
    }

    /// Change a directory's settings (and its token hash) atomically in the store
    /// ([`crate::store::Store::modify_directory`]: no concurrent change is lost), then invalidate the
    /// authentication cache (after the store returned, whatever it returned: see
    /// [`super::auth_cache`]). Every directory change goes through here. `change` may run more
    /// than once and runs while the store's writer is held: it only edits what it is given.
    pub(super) fn modify(
        &self,
        id: &str,
        mut change: impl FnMut(&mut StoredSettings, &mut Option<String>) -> Result<()>,
    ) -> Result<DirectoryRecord> {
        let modified = self.store.modify_directory(id, &mut |record| {
            let mut s = settings(record)?;
            change(&mut s, &mut record.token_hash)?;
            record.data = to_data(&s)?;
            Ok(())
        });
        self.relay.auth.invalidate();
        modified
    }

    pub(super) fn record(&self, id: &str) -> Result<DirectoryRecord> {
        self.store.get_directory(id)?.ok_or_else(|| not_found(id))
    }

    pub(super) fn view(&self, record: &DirectoryRecord) -> Result<Directory> {
        let s = settings(record)?;
        Ok(Directory {
            id: record.id.clone(),
            name: record.name.clone(),
            domain: s.domain,
            idp: s.idp,
            services: s.services,
            settings: s.settings,
            created: s.created,
            token: s.token,
            tenant_url: self.tenant_url(&record.id),
            login: s.oidc.as_ref().map(|o| LoginInfo {
                client_id: o.config.client_id.clone(),
                config_url: o.config.config_url.clone(),
                claim: o.config.claim.clone(),
                attribute: o.attribute.clone(),
                redirect_uri: o.config.redirect_uri.clone(),
                login_url: self.login_url(&record.id),
            }),
        })
    }
}

pub(super) fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("directory '{id}' not found"))
}

pub(super) fn settings(record: &DirectoryRecord) -> Result<StoredSettings> {
    serde_json::from_value(record.data.clone()).map_err(|e| {
        ScimError::internal(format!(
            "directory '{}' has unreadable settings: {e}",
            record.id
        ))
    })
}

fn to_data(s: &StoredSettings) -> Result<serde_json::Value> {
    serde_json::to_value(s).map_err(|e| ScimError::internal(format!("directory settings: {e}")))
}
