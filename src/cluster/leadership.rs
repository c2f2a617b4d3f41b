//! [`Leadership`]: whether this replica leads right now, as a `watch` of its [`Role`] that the
//! singleton loops read, plus the monotonic deadline after which a leader that could not
//! renew stops acting as one even before its lease loop notices; and the [`Members`] this
//! replica last saw alive, which the ingest divides the devices among.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::store::Fence;

/// This replica's part in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Holds the lease at `epoch`: runs the singleton loops, fenced by that epoch.
    Leader {
        epoch: i64,
    },
    Follower,
}

/// The replicas this one last saw alive (heartbeat younger than `lease_ttl`), itself always
/// among them, and how long a message another replica owns is kept here in case that
/// replica turns out dead (`crate::commands` ingest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    /// Replica ids, sorted, without repeats.
    pub ids: Vec<String>,
    /// How long after a replica's last heartbeat the others may still not have noticed its
    /// death: `lease_ttl` (its row counts as alive until then) plus two `lease_renew` (the
    /// others read the rows once per renewal) plus a margin for a loaded machine.
    pub hold: Duration,
}

/// Margin added to [`Members::hold`].
const HOLD_MARGIN: Duration = Duration::from_secs(5);

impl Members {
    /// `ids` (with `me` added), sorted, and the hold derived from the lease settings.
    pub fn new(me: &str, mut ids: Vec<String>, ttl: Duration, renew: Duration) -> Self {
        ids.push(me.to_owned());
        ids.sort();
        ids.dedup();
        Self { ids, hold: ttl + renew * 2 + HOLD_MARGIN }
    }
}

/// The role of this replica, shared by the lease loop (which changes it) and the loops that
/// only run while leading. Cheap to clone.
#[derive(Clone)]
pub struct Leadership {
    replica_id: Arc<str>,
    role: Arc<watch::Sender<Role>>,
    /// The live replicas as the lease loop last read them (on SQLite: this one only).
    members: Arc<watch::Sender<Arc<Members>>>,
    /// When a leader must stop acting as one unless it renews: the start of its last
    /// successful renewal plus the TTL minus a margin. `None`: no deadline (SQLite).
    deadline: Arc<Mutex<Option<Instant>>>,
}

impl Leadership {
    /// The one process of a SQLite store: always the leader, epoch 0.
    pub fn always(replica_id: &str) -> Self {
        Self::with(replica_id, Role::Leader { epoch: 0 })
    }

    /// A replica of a shared store, before it took the lease.
    pub fn follower(replica_id: &str) -> Self {
        Self::with(replica_id, Role::Follower)
    }

    /// A replica that takes itself for the leader at `epoch`, whatever the store says (one
    /// paused past its lease, say), with no deadline: for the fencing tests of the loops.
    #[cfg(test)]
    pub fn leading(replica_id: &str, epoch: i64) -> Self {
        Self::with(replica_id, Role::Leader { epoch })
    }

    fn with(replica_id: &str, role: Role) -> Self {
        let alone = Members::new(replica_id, Vec::new(), Duration::ZERO, Duration::ZERO);
        Self {
            replica_id: replica_id.into(),
            role: Arc::new(watch::Sender::new(role)),
            members: Arc::new(watch::Sender::new(Arc::new(alone))),
            deadline: Arc::default(),
        }
    }

    pub fn replica_id(&self) -> &str {
        &self.replica_id
    }

    /// The role now, counting a leader past its deadline as a follower.
    pub fn role(&self) -> Role {
        let role = *self.role.borrow();
        match role {
            Role::Leader { .. } if self.expired() => Role::Follower,
            role => role,
        }
    }

    /// The role last announced, without the deadline check: a leader past its deadline
    /// may still renew (the database decides whether the lease is still its own).
    pub(super) fn announced(&self) -> Role {
        *self.role.borrow()
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.role(), Role::Leader { .. })
    }

    /// Follows role changes (the deadline passing is not announced: read [`Self::role`]).
    pub fn subscribe(&self) -> watch::Receiver<Role> {
        self.role.subscribe()
    }

    /// The live replicas as last read.
    pub fn members(&self) -> Arc<Members> {
        self.members.borrow().clone()
    }

    /// Follows changes of [`Self::members`].
    pub fn watch_members(&self) -> watch::Receiver<Arc<Members>> {
        self.members.subscribe()
    }

    /// The live replicas read now; announced only when they changed.
    pub fn see_members(&self, members: Members) {
        self.members.send_if_modified(|known| {
            let changed = **known != members;
            if changed {
                tracing::info!(replicas = ?members.ids, "live replicas");
                *known = Arc::new(members);
            }
            changed
        });
    }

    /// What a leader's write transaction checks, while this replica leads.
    pub fn fence(&self) -> Option<Fence> {
        match self.role() {
            Role::Leader { epoch } => Some(Fence { holder: self.replica_id.to_string(), epoch }),
            Role::Follower => None,
        }
    }

    /// Leads at `epoch` until `deadline` (set again at every renewal).
    pub(super) fn lead(&self, epoch: i64, deadline: Instant) {
        *lock(&self.deadline) = Some(deadline);
        self.role.send_if_modified(|role| {
            let changed = *role != Role::Leader { epoch };
            if changed {
                tracing::info!(replica.id = %self.replica_id, lease.epoch = epoch, "leading");
            }
            *role = Role::Leader { epoch };
            changed
        });
    }

    /// Stops leading at `epoch` (if it still does), saying why.
    pub fn step_down(&self, epoch: i64, why: &str) {
        self.role.send_if_modified(|role| {
            let leading = *role == Role::Leader { epoch };
            if leading {
                tracing::warn!(replica.id = %self.replica_id, lease.epoch = epoch, "stepping down: {why}");
                *role = Role::Follower;
            }
            leading
        });
    }

    fn expired(&self) -> bool {
        lock(&self.deadline).is_some_and(|deadline| Instant::now() >= deadline)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_leader_past_its_deadline_is_a_follower() {
        let leadership = Leadership::follower("r-1");
        assert_eq!(leadership.fence(), None);
        leadership.lead(3, Instant::now() + Duration::from_secs(60));
        assert_eq!(leadership.fence(), Some(Fence { holder: "r-1".into(), epoch: 3 }));
        leadership.lead(3, Instant::now() - Duration::from_millis(1));
        assert_eq!(leadership.role(), Role::Follower);
        leadership.lead(4, Instant::now() + Duration::from_secs(60));
        leadership.step_down(3, "old epoch");
        assert!(leadership.is_leader(), "stepping down from an older epoch changes nothing");
        leadership.step_down(4, "fenced");
        assert_eq!(*leadership.subscribe().borrow(), Role::Follower);
    }

    #[test]
    fn members_always_hold_this_replica_and_announce_only_changes() {
        let leadership = Leadership::follower("r-2");
        assert_eq!(leadership.members().ids, vec!["r-2".to_owned()]);
        let mut watch = leadership.watch_members();
        let (ttl, renew) = (Duration::from_secs(15), Duration::from_secs(5));
        leadership.see_members(Members::new("r-2", vec!["r-3".into(), "r-1".into()], ttl, renew));
        assert!(watch.has_changed().unwrap());
        let seen = watch.borrow_and_update().clone();
        assert_eq!(seen.ids, ["r-1", "r-2", "r-3"]);
        assert_eq!(seen.hold, Duration::from_secs(30));
        leadership.see_members(Members::new(
            "r-2",
            vec!["r-1".into(), "r-3".into(), "r-2".into()],
            ttl,
            renew,
        ));
        assert!(!watch.has_changed().unwrap(), "the same replicas are not announced again");
    }
}
