//! Reading request fields: every malformed field is INVALID_ARGUMENT naming it
//! (`client_uuid: not a UUID`). Proto enums are mapped to the domain's here.

use uuid::Uuid;

use crate::contract::Action;
use crate::error::{Error, Result};
use crate::model::clients::CapabilityTier;
use crate::model::commands::{CommandState, Origin};
use crate::model::rollouts::RolloutState;
use crate::proto::v1 as pb;

/// A required UUID.
pub fn uuid(field: &str, text: &str) -> Result<Uuid> {
    if text.is_empty() {
        return Err(Error::invalid_argument(field, "required"));
    }
    optional_uuid(field, text).map(|id| id.unwrap_or_default())
}

/// An optional UUID (empty: none).
pub fn optional_uuid(field: &str, text: &str) -> Result<Option<Uuid>> {
    if text.is_empty() {
        return Ok(None);
    }
    // Only the canonical hyphenated form (any case), as common.proto specifies.
    if text.len() != 36 {
        return Err(Error::invalid_argument(field, "not a UUID"));
    }
    Uuid::try_parse(text).map(Some).map_err(|_| Error::invalid_argument(field, "not a UUID"))
}

fn unknown(field: &str, value: i32) -> Error {
    Error::invalid_argument(field, format!("unknown value {value}"))
}

/// An action; `None` for UNSPECIFIED.
pub fn action(field: &str, value: i32) -> Result<Option<Action>> {
    match pb::Action::try_from(value).map_err(|_| unknown(field, value))? {
        pb::Action::Unspecified => Ok(None),
        pb::Action::RebootHost => Ok(Some(Action::RebootHost)),
        pb::Action::ShutdownHost => Ok(Some(Action::ShutdownHost)),
        pb::Action::RestartApp => Ok(Some(Action::RestartApp)),
    }
}

pub fn required_action(value: i32) -> Result<Action> {
    action("action", value)?.ok_or_else(|| Error::invalid_argument("action", "required"))
}

pub fn command_state(field: &str, value: i32) -> Result<CommandState> {
    use pb::CommandState as S;
    Ok(match S::try_from(value).map_err(|_| unknown(field, value))? {
        S::Unspecified => return Err(Error::invalid_argument(field, "unspecified is not a state")),
        S::Queued => CommandState::Queued,
        S::Published => CommandState::Published,
        S::Accepted => CommandState::Accepted,
        S::ExecutionStarted => CommandState::ExecutionStarted,
        S::Completed => CommandState::Completed,
        S::Failed => CommandState::Failed,
        S::TimedOut => CommandState::TimedOut,
        S::Expired => CommandState::Expired,
        S::Canceled => CommandState::Canceled,
        S::Rejected => CommandState::Rejected,
    })
}

pub fn command_states(field: &str, values: &[i32]) -> Result<Vec<CommandState>> {
    crate::api::page::filter_values(field, values)?
        .iter()
        .map(|v| command_state(field, *v))
        .collect()
}

pub fn rollout_states(field: &str, values: &[i32]) -> Result<Vec<RolloutState>> {
    use pb::RolloutState as S;
    crate::api::page::filter_values(field, values)?
        .iter()
        .map(|v| {
            Ok(match S::try_from(*v).map_err(|_| unknown(field, *v))? {
                S::Unspecified => {
                    return Err(Error::invalid_argument(field, "unspecified is not a state"));
                }
                S::Pending => RolloutState::Pending,
                S::Canary => RolloutState::Canary,
                S::Waves => RolloutState::Waves,
                S::Completed => RolloutState::Completed,
                S::Aborted => RolloutState::Aborted,
                S::Failed => RolloutState::Failed,
            })
        })
        .collect()
}

pub fn origin(field: &str, value: i32) -> Result<Option<Origin>> {
    use pb::CommandOrigin as O;
    Ok(match O::try_from(value).map_err(|_| unknown(field, value))? {
        O::Unspecified => None,
        O::Api => Some(Origin::Api),
        O::Rollout => Some(Origin::Rollout),
        O::CrashRecovery => Some(Origin::CrashRecovery),
    })
}

pub fn tier(field: &str, value: i32) -> Result<Option<CapabilityTier>> {
    use pb::CapabilityTier as T;
    Ok(match T::try_from(value).map_err(|_| unknown(field, value))? {
        T::Unspecified => None,
        T::Basic => Some(CapabilityTier::Basic),
        T::ManagedPower => Some(CapabilityTier::ManagedPower),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_name_their_field() {
        assert_eq!(uuid("client_uuid", "x").unwrap_err().to_string(), "client_uuid: not a UUID");
        assert_eq!(uuid("command_id", "").unwrap_err().to_string(), "command_id: required");
        let upper = "5D7E0F0E-3C1A-4F5E-9A43-3D1F6F0B2A11";
        assert_eq!(uuid("x", upper).unwrap().to_string(), upper.to_lowercase());
        assert!(uuid("x", "5d7e0f0e3c1a4f5e9a433d1f6f0b2a11").is_err(), "simple form refused");
        assert_eq!(optional_uuid("x", "").unwrap(), None);
    }

    #[test]
    fn enums_and_pages_are_checked() {
        assert_eq!(required_action(0).unwrap_err().to_string(), "action: required");
        assert_eq!(required_action(99).unwrap_err().to_string(), "action: unknown value 99");
        assert!(command_states("states", &[0]).is_err());
    }
}
