//! The device registry over gRPC: list, get, update and clear a failed service.

use uuid::Uuid;

use super::{ClientCommandApi, convert, fields};
use crate::api::page;
use crate::audit::AuditSlot;
use crate::error::{Error, Result};
use crate::model::clients::{ClientFilter, ClientRecord, CrashFilter};
use crate::proto::v1 as pb;

impl ClientCommandApi {
    async fn client_message(&self, client: &ClientRecord) -> Result<pb::Client> {
        let mut messages = self.client_messages(std::slice::from_ref(client)).await?;
        Ok(messages.remove(0))
    }

    /// The messages of `clients`, their lockouts read together.
    async fn client_messages(&self, clients: &[ClientRecord]) -> Result<Vec<pb::Client>> {
        let ids: Vec<Uuid> = clients.iter().map(|c| c.client_uuid).collect();
        let lockouts = self.fleet.lockouts(&ids).await?;
        let cooldown = self.fleet.settings().current().safety.escalation_cooldown;
        Ok(clients
            .iter()
            .zip(&lockouts)
            .map(|(client, lockout)| {
                convert::client(client, lockout, self.fleet.crash_state_of(client), cooldown)
            })
            .collect())
    }
}

pub(super) async fn list(
    api: &ClientCommandApi,
    r: pb::ListClientsRequest,
) -> Result<pb::ListClientsResponse> {
    let limit = page::size(r.page_size)?;
    if !r.group.is_empty() {
        crate::commands::validate_group(&r.group)?;
    }
    let stale_after = api.fleet.settings().current().crash_recovery.stale_after;
    let bound = crate::clock::now_ms() - stale_after.as_millis() as i64;
    let crash = match pb::CrashState::try_from(r.crash_state).map_err(|_| {
        Error::invalid_argument("crash_state", format!("unknown value {}", r.crash_state))
    })? {
        pb::CrashState::Unspecified => None,
        pb::CrashState::Healthy => Some((CrashFilter::Healthy, bound)),
        pb::CrashState::Crashed => Some((CrashFilter::Crashed, bound)),
        pb::CrashState::Stale => Some((CrashFilter::Stale, bound)),
    };
    let online = match pb::Presence::try_from(r.presence)
        .map_err(|_| Error::invalid_argument("presence", format!("unknown value {}", r.presence)))?
    {
        pb::Presence::Unspecified => None,
        pb::Presence::Online => Some(true),
        pb::Presence::Offline => Some(false),
    };
    let filter = ClientFilter {
        group: (!r.group.is_empty()).then_some(r.group.clone()),
        online,
        needs_attention: r.needs_attention,
        service_failed: r.service_failed,
        capability_tier: fields::tier("capability_tier", r.capability_tier)?,
        crash,
        uuid_prefix: uuid_prefix(&r.uuid_prefix)?,
    };
    // The staleness bound moves with time; the token fingerprints the rest.
    let fingerprint = (
        &filter.group,
        filter.online,
        filter.needs_attention,
        filter.service_failed,
        filter.capability_tier,
        filter.crash.map(|(c, _)| c),
        &filter.uuid_prefix,
    );
    let after = page::decode::<Uuid>(&r.page_token, &fingerprint)?;
    let records = api.fleet.store().list_clients(&filter, after, limit).await?;
    let mut clients = api.client_messages(&records).await?;
    let key = |c: &ClientRecord| c.client_uuid;
    let next_page_token = page::finish(&mut clients, &records, limit, key, &fingerprint);
    let total_size = match r.include_total_size {
        true => api.fleet.store().count_clients(&filter).await?,
        false => 0,
    };
    Ok(pb::ListClientsResponse { clients, next_page_token, total_size })
}

pub(super) async fn count(
    api: &ClientCommandApi,
    r: pb::CountClientsRequest,
) -> Result<pb::CountClientsResponse> {
    if !r.group.is_empty() {
        crate::commands::validate_group(&r.group)?;
    }
    let scope = ClientFilter {
        group: (!r.group.is_empty()).then_some(r.group),
        uuid_prefix: uuid_prefix(&r.uuid_prefix)?,
        ..Default::default()
    };
    let counted = api.fleet.client_counts(&scope).await?;
    let counts = counted.counts;
    Ok(pb::CountClientsResponse {
        total: counts.total,
        online: counts.online,
        offline: counts.offline,
        crashed: counts.crashed,
        service_failed: counts.service_failed,
        counted_at: Some(convert::ts(counted.at_ms)),
    })
}

/// The `uuid_prefix` filter: `None` when empty; lowercase hex digits and dashes, at most a
/// whole uuid long.
fn uuid_prefix(prefix: &str) -> Result<Option<String>> {
    let prefix = prefix.trim().to_ascii_lowercase();
    if prefix.len() > 36 {
        return Err(Error::invalid_argument("uuid_prefix", "longer than a uuid (36 characters)"));
    }
    if !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(Error::invalid_argument("uuid_prefix", "only hex digits and dashes"));
    }
    Ok((!prefix.is_empty()).then_some(prefix))
}

pub(super) async fn get(
    api: &ClientCommandApi,
    r: pb::GetClientRequest,
) -> Result<pb::GetClientResponse> {
    let record = api.fleet.client(fields::uuid("client_uuid", &r.client_uuid)?).await?;
    Ok(pb::GetClientResponse { client: Some(api.client_message(&record).await?) })
}

pub(super) async fn update(
    api: &ClientCommandApi,
    audit: AuditSlot,
    r: pb::UpdateClientRequest,
) -> Result<pb::UpdateClientResponse> {
    let uuid = fields::uuid("client_uuid", &r.client_uuid)?;
    let tier = fields::tier("capability_tier", r.capability_tier)?;
    let record = api.fleet.update_client(uuid, r.group, tier, &audit).await?;
    Ok(pb::UpdateClientResponse { client: Some(api.client_message(&record).await?) })
}

pub(super) async fn clear_service_failed(
    api: &ClientCommandApi,
    audit: AuditSlot,
    r: pb::ClearServiceFailedRequest,
) -> Result<pb::ClearServiceFailedResponse> {
    let (record, cleared) = api
        .fleet
        .clear_service_failed(fields::uuid("client_uuid", &r.client_uuid)?, &audit)
        .await?;
    Ok(pb::ClearServiceFailedResponse { client: Some(api.client_message(&record).await?), cleared })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_prefix_is_hex_and_dashes_up_to_a_uuid() {
        assert_eq!(uuid_prefix("").unwrap(), None);
        assert_eq!(uuid_prefix(" 0A1b-").unwrap().as_deref(), Some("0a1b-"));
        let err = uuid_prefix("ab%").unwrap_err().to_string();
        assert!(err.starts_with("uuid_prefix: "), "{err}");
        assert!(uuid_prefix(&"a".repeat(37)).is_err());
    }
}
