//! The per-RPC policy table: for every method of the v1 API, the least role allowed to call
//! it, whether it changes state (and so is audited) and whether it is refused while the
//! server drains. The RPC layer is the only reader; authentication (roles), the audit log and
//! the drain refusal all enforce this one table, so no handler repeats them.

use crate::auth::Class;
pub use crate::auth::Role;

/// Policy of one RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub role: Role,
    /// Changes state: recorded in the audit log.
    pub mutating: bool,
    /// Answered UNAVAILABLE while the server drains (the caller retries against the
    /// successor): what would start work that outlives the drain, or prepare for one.
    pub refused_while_draining: bool,
}

const fn read(role: Role) -> Policy {
    Policy { role, mutating: false, refused_while_draining: false }
}

const fn write(role: Role) -> Policy {
    Policy { role, mutating: true, refused_while_draining: false }
}

impl Policy {
    const fn not_while_draining(self) -> Policy {
        Policy { refused_while_draining: true, ..self }
    }
}

/// Every rebound.v1 method (`Service/Method`).
pub const TABLE: &[(&str, Policy)] = &[
    ("rebound.v1.HealthService/GetHealth", read(Role::Viewer)),
    ("rebound.v1.RestartService/Restart", write(Role::Admin).not_while_draining()),
    ("rebound.v1.RestartService/PrepareShutdown", read(Role::Viewer).not_while_draining()),
    ("rebound.v1.RestartService/GetRestartStatus", read(Role::Viewer)),
    ("rebound.v1.RestartService/ListRestartEvents", read(Role::Viewer)),
    ("rebound.v1.RestartService/WatchRestart", read(Role::Viewer).not_while_draining()),
    ("rebound.v1.RestartService/TestReconnect", read(Role::Viewer).not_while_draining()),
    ("rebound.v1.RestartService/RollingRestart", write(Role::Admin).not_while_draining()),
    ("rebound.v1.ConfigService/GetConfig", read(Role::Viewer)),
    ("rebound.v1.ConfigService/Reload", write(Role::Operator)),
    ("rebound.v1.ConfigService/Validate", read(Role::Operator)),
    ("rebound.v1.ConfigService/ListReloadEvents", read(Role::Viewer)),
    ("rebound.v1.ConfigService/GetReloadStats", read(Role::Viewer)),
    ("rebound.v1.ConfigService/WatchConfig", read(Role::Viewer)),
    ("rebound.v1.RecoveryService/GetRecoveryReport", read(Role::Viewer)),
    ("rebound.v1.RecoveryService/ListRecoveryReports", read(Role::Viewer)),
    ("rebound.v1.RecoveryService/RunCleanup", write(Role::Admin)),
    ("rebound.v1.RecoveryService/Backup", write(Role::Admin)),
    ("rebound.v1.RecoveryService/ListAuditEvents", read(Role::Admin)),
    ("rebound.v1.ClientCommandService/IssueCommand", write(Role::Operator).not_while_draining()),
    ("rebound.v1.ClientCommandService/GetCommand", read(Role::Viewer)),
    ("rebound.v1.ClientCommandService/ListCommands", read(Role::Viewer)),
    ("rebound.v1.ClientCommandService/CancelCommand", write(Role::Operator).not_while_draining()),
    ("rebound.v1.ClientCommandService/WatchCommands", read(Role::Viewer)),
    ("rebound.v1.ClientCommandService/ListClients", read(Role::Viewer)),
    ("rebound.v1.ClientCommandService/CountClients", read(Role::Viewer)),
    ("rebound.v1.ClientCommandService/GetClient", read(Role::Viewer)),
    (
        "rebound.v1.ClientCommandService/ClearServiceFailed",
        write(Role::Operator).not_while_draining(),
    ),
    ("rebound.v1.ClientCommandService/UpdateClient", write(Role::Operator).not_while_draining()),
    ("rebound.v1.ClientCommandService/StartRollout", write(Role::Operator).not_while_draining()),
    ("rebound.v1.ClientCommandService/GetRollout", read(Role::Viewer)),
    ("rebound.v1.ClientCommandService/ListRollouts", read(Role::Viewer)),
    ("rebound.v1.ClientCommandService/AbortRollout", write(Role::Operator).not_while_draining()),
    ("rebound.v1.ClientCommandService/WatchRollout", read(Role::Viewer)),
];

/// The policy for a request path (`/package.Service/Method`); `None` for services outside
/// the rebound API (standard health, reflection), which stay open to probes and tools.
pub fn lookup(path: &str) -> Option<Policy> {
    let method = path.strip_prefix('/').unwrap_or(path);
    TABLE.iter().find(|(name, _)| *name == method).map(|(_, policy)| *policy)
}

/// The rate limit a method counts against: restarts, and the calls that issue device
/// commands.
pub fn limit(path: &str) -> Option<Class> {
    match path.strip_prefix('/').unwrap_or(path) {
        "rebound.v1.RestartService/Restart" | "rebound.v1.RestartService/RollingRestart" => {
            Some(Class::Restart)
        }
        "rebound.v1.ClientCommandService/IssueCommand"
        | "rebound.v1.ClientCommandService/StartRollout" => Some(Class::Command),
        _ => None,
    }
}

/// Whether `path` is a gRPC reflection method (open unless `auth.protect_reflection`).
pub fn is_reflection(path: &str) -> bool {
    path.starts_with("/grpc.reflection.")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every method in the proto contract has exactly one entry, and the role each method's
    /// comment documents ("Role: operator.") is the role the table enforces.
    #[test]
    fn the_table_covers_the_contract_and_matches_its_documented_roles() {
        let methods = crate::api::methods::contract();
        assert_eq!(methods.len(), TABLE.len(), "one entry per method");
        for method in methods {
            let name = &method.path;
            let policy = lookup(name).unwrap_or_else(|| panic!("{name} has no policy"));
            assert_eq!(
                policy.role.as_str(),
                method.role,
                "{name}: table and proto comment disagree"
            );
        }
    }

    #[test]
    fn limited_methods_exist_in_the_table() {
        for (name, _) in TABLE {
            let path = format!("/{name}");
            if let Some(class) = limit(&path) {
                assert!(lookup(&path).is_some_and(|p| p.mutating), "{name} ({class:?})");
            }
        }
        assert_eq!(limit("/rebound.v1.RestartService/Restart"), Some(Class::Restart));
        assert_eq!(limit("/rebound.v1.RestartService/RollingRestart"), Some(Class::Restart));
        assert!(is_reflection("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"));
    }

    /// The calls refused while draining: the restart calls that start or prepare one, and
    /// the ones that send devices work (commands, rollouts, client changes).
    #[test]
    fn calls_that_start_work_are_refused_while_draining() {
        let refused: Vec<_> = TABLE
            .iter()
            .filter(|(_, policy)| policy.refused_while_draining)
            .map(|(name, _)| name.rsplit_once('/').unwrap().1)
            .collect();
        assert_eq!(
            refused,
            [
                "Restart",
                "PrepareShutdown",
                "WatchRestart",
                "TestReconnect",
                "RollingRestart",
                "IssueCommand",
                "CancelCommand",
                "ClearServiceFailed",
                "UpdateClient",
                "StartRollout",
                "AbortRollout",
            ]
        );
    }

    /// The audit log names every caller and what they tried: admins only, for gRPC, the
    /// console's gateway and MCP alike (they all read this table).
    #[test]
    fn the_audit_log_is_for_admins() {
        let audit = lookup("/rebound.v1.RecoveryService/ListAuditEvents").unwrap();
        assert_eq!((audit.role, audit.mutating), (Role::Admin, false));
    }

    #[test]
    fn other_services_have_no_policy() {
        assert_eq!(lookup("/grpc.health.v1.Health/Check"), None);
        assert_eq!(lookup("/rebound.v1.ConfigService/Reload"), Some(write(Role::Operator)));
    }
}
