//! Attribute mappings of a directory, resync, user lookup by mapped value, records.

use crate::directory::StoredSettings;
use crate::error::{Result, ScimError};
use crate::integration::Service;
use crate::mapping::{service_name, DirectoryMapping, FoundUser, Mapping, MappingEntry, Profile};
use crate::schema::ResourceKind;
use crate::store::StoredResource;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::directories::settings;
use super::protocol::tenant;
use super::Engine;

/// Users per write transaction of [`Engine::resync`].
const RESYNC_BATCH: usize = 500;

impl Engine {
    /// The mapping of each service the directory feeds ("Map SCIM User Attributes").
    pub fn mappings(&self, id: &str) -> Result<BTreeMap<Service, Mapping>> {
        Ok(settings(&self.record(id)?)?.fed_mappings())
    }

    /// The mapping of one service; 400 when the directory does not feed it.
    pub fn mapping(&self, id: &str, service: Service) -> Result<Mapping> {
        let s = settings(&self.record(id)?)?;
        fed(&s, service)?;
        Ok(s.mapping(service))
    }

    /// Replace a service's whole mapping (validated: 400 naming the bad entry).
    pub fn set_mapping(&self, id: &str, service: Service, mapping: &Mapping) -> Result<Mapping> {
        self.edit_mapping(id, service, |m| {
            *m = mapping.clone();
            Ok(())
        })
    }

    /// Add an entry, or change the one with the same target (case-insensitively). The
    /// profile's required targets must stay required. Emits no event: see [`Self::resync`].
    pub fn set_mapping_entry(
        &self,
        id: &str,
        service: Service,
        kind: ResourceKind,
        entry: &MappingEntry,
    ) -> Result<Mapping> {
        self.edit_mapping(id, service, |m| {
            let entries = m.entries_mut(kind);
            match entries
                .iter_mut()
                .find(|e| e.target.eq_ignore_ascii_case(&entry.target))
            {
                Some(e) => *e = entry.clone(),
                None => entries.push(entry.clone()),
            }
            Ok(())
        })
    }

    /// Remove the entry with this target: 404 when there is none, 400 when it is required.
    pub fn remove_mapping_entry(
        &self,
        id: &str,
        service: Service,
        kind: ResourceKind,
        target: &str,
    ) -> Result<Mapping> {
        self.edit_mapping(id, service, |m| {
            let entries = m.entries_mut(kind);
            let at = entries
                .iter()
                .position(|e| e.target.eq_ignore_ascii_case(target))
                .ok_or_else(|| {
                    ScimError::not_found(format!(
                        "no {} mapping entry with target '{target}' for {}",
                        kind.as_str(),
                        service_name(service)
                    ))
                })?;
            if entries[at].required {
                return Err(ScimError::invalid_value(format!(
                    "mapping entry '{}' is required and cannot be removed",
                    entries[at].target
                )));
            }
            entries.remove(at);
            Ok(())
        })
    }

    /// Reset a service's mapping to a profile's defaults.
    pub fn reset_mapping(&self, id: &str, service: Service, profile: Profile) -> Result<Mapping> {
        self.edit_mapping(id, service, |m| {
            *m = profile.mapping();
            Ok(())
        })
    }

    fn edit_mapping(
        &self,
        id: &str,
        service: Service,
        edit: impl Fn(&mut Mapping) -> Result<()>,
    ) -> Result<Mapping> {
        let mut edited = None;
        self.modify(id, |s, _| {
            fed(s, service)?;
            let mut m = s.mapping(service);
            edit(&mut m)?;
            m.validate_for(service)?;
            s.mappings.insert(service, m.clone());
            edited = Some(m);
            Ok(())
        })?;
        edited.ok_or_else(|| ScimError::internal("mapping change did not run"))
    }

    /// Append a `user.updated` event, with records under the current mappings, for every
    /// user of the directory (after a mapping change the host must apply). Changing a
    /// mapping never does this by itself. Runs in write transactions of 500 users;
    /// returns how many events were appended.
    pub fn resync(&self, id: &str) -> Result<u64> {
        let record = self.record(id)?;
        let s = settings(&record)?;
        let m = self.compiled_mapping(&record.id, &s)?;
        let base_url = self.tenant_url(&record.id);
        let tenant = tenant(&record.id, &s, &base_url, &m);
        let n = self.provider.resync_for(&tenant, RESYNC_BATCH)?;
        self.record_activity(&record.id);
        self.relay.feed.notify();
        self.retain_events(&record.id);
        Ok(n)
    }

    /// The provisioned user whose mapped `target` (for `service`) equals `value`:
    /// case-insensitively when the source attribute is (`userName`, emails), exactly
    /// otherwise (`externalId`). Equality on `userName`, `externalId` or an email (also
    /// through a value path) is an index point lookup. More than one match is a 409.
    pub fn find_user(
        &self,
        id: &str,
        service: Service,
        target: &str,
        value: &str,
    ) -> Result<Option<FoundUser>> {
        let record = self.record(id)?;
        let s = settings(&record)?;
        let m = self.compiled_mapping(&record.id, &s)?;
        let (filter, entry) = m.lookup(service, ResourceKind::User, target, value)?;
        let base_url = self.tenant_url(&record.id);
        let tenant = tenant(&record.id, &s, &base_url, &m);
        let mut accept = |r: &StoredResource| {
            entry
                .value(&r.data)
                .is_some_and(|v| entry.value_equals(&v, value))
        };
        let mut found =
            self.provider
                .find_for(&tenant, ResourceKind::User, filter.as_ref(), &mut accept)?;
        if found.len() > 1 {
            return Err(ScimError::uniqueness(format!(
                "{} users have '{target}' = '{value}' for {}",
                found.len(),
                service_name(service)
            )));
        }
        Ok(found.pop().map(|resource| {
            let mut records = m.records(ResourceKind::User, &resource);
            FoundUser {
                id: resource["id"].as_str().unwrap_or_default().to_owned(),
                record: records[service_name(service)].take(),
                resource,
            }
        }))
    }

    /// The directory's compiled mappings, cached while the stored ones are unchanged.
    pub(super) fn compiled_mapping(
        &self,
        id: &str,
        s: &StoredSettings,
    ) -> Result<Arc<DirectoryMapping>> {
        let wanted = s.fed_mappings();
        if let Some(m) = self.compiled.lock().get(id) {
            if *m.mappings() == wanted {
                return Ok(m.clone());
            }
        }
        let m = Arc::new(DirectoryMapping::compile(&wanted).map_err(|e| {
            ScimError::internal(format!(
                "directory '{id}' has an invalid mapping: {}",
                e.detail
            ))
        })?);
        self.compiled.lock().insert(id.to_owned(), m.clone());
        Ok(m)
    }

    /// The records the directory's mappings make of a rendered resource, per service it
    /// feeds (`{"uem": {…}, "access": {…}}`): what a host applying its events has.
    pub fn records(
        &self,
        directory_id: &str,
        kind: ResourceKind,
        resource: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let record = self.record(directory_id)?;
        let s = settings(&record)?;
        Ok(self
            .compiled_mapping(&record.id, &s)?
            .records(kind, resource))
    }
}

/// 400 unless the directory feeds `service`.
pub(super) fn fed(s: &StoredSettings, service: Service) -> Result<()> {
    if s.services.contains(&service) {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "the directory does not feed '{}'",
            service_name(service)
        )))
    }
}
