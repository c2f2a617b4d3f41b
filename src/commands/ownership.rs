//! Which replica ingests a device's messages, and what the others keep meanwhile.
//!
//! Every replica receives every device message (its own persistent MQTT session), but only
//! the device's *owner* stores its effect: the live replica with the highest
//! [`score`] for the device (rendezvous hashing over [`Members`]). The others keep the
//! message in their [`Standby`] for [`Members::hold`]; when the live replicas change, each
//! replica ingests the kept messages of the devices it owns now. So the ingest work is
//! divided among the replicas instead of done by each, and a message whose owner died
//! before storing it is stored by the device's next owner (docs/cluster.md, "Device
//! messages across replicas").
//!
//! Views of the live replicas differ for a moment after a change; the design stays safe
//! because:
//! - a replica always counts itself alive, and the highest score among a set stays the
//!   highest among any subset holding it, so the final owner never passes a message on;
//! - two replicas that both take themselves for the owner both store it: the copies
//!   ledger makes the second a no-op (`copies_seen_elsewhere`);
//! - a message nobody took ingests when the views settle: each view change re-reads the
//!   standby, and it holds messages longer than a death takes to be noticed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::device::{Delivery, GatewayEvent};
use crate::cluster::Members;

/// Most messages kept for other replicas; past it the oldest are dropped (counted).
pub const STANDBY_LIMIT: usize = 500_000;

/// The score of `replica` for `device`: a 64-bit FNV-1a of both, mixed (splitmix64's
/// finalizer) so that ids differing in one character spread evenly. Stable across builds
/// and platforms: replicas of different versions must agree on it during a rolling restart.
pub fn score(replica: &str, device: Uuid) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in replica.bytes().chain([0xff]).chain(device.as_bytes().iter().copied()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// The replica of `members` that ingests `device`'s messages (ties, which need equal
/// scores, go to the smaller id).
pub fn owner(members: &Members, device: Uuid) -> &str {
    members
        .ids
        .iter()
        .max_by_key(|id| (score(id, device), std::cmp::Reverse(id.as_str())))
        .map_or("", String::as_str)
}

/// Whether `me` ingests the delivery now: everything but a device message of a device
/// another live replica owns.
pub fn mine(members: &Members, me: &str, event: &GatewayEvent) -> bool {
    match event {
        GatewayEvent::Device { client, .. } => owner(members, *client) == me,
        GatewayEvent::Published { .. } | GatewayEvent::Connected { .. } => true,
    }
}

/// Device messages other replicas own, kept (already acknowledged to the broker) in arrival
/// order for [`Members::hold`].
#[derive(Default)]
pub struct Standby {
    kept: VecDeque<(Instant, GatewayEvent)>,
}

impl Standby {
    /// Keeps `event`, received `at`; `true` when the standby was full and its oldest message
    /// was dropped to make room.
    pub fn keep(&mut self, at: Instant, event: GatewayEvent) -> bool {
        let full = self.kept.len() >= STANDBY_LIMIT;
        if full {
            self.kept.pop_front();
        }
        self.kept.push_back((at, event));
        full
    }

    /// Forgets what was received more than `hold` before `now`.
    pub fn expire(&mut self, now: Instant, hold: Duration) {
        while self.kept.front().is_some_and(|(at, _)| now.duration_since(*at) > hold) {
            self.kept.pop_front();
        }
    }

    /// Takes out, in arrival order, the kept messages `me` owns among `members`, as
    /// deliveries without a receipt (the broker has them acknowledged already).
    pub fn take_owned(&mut self, members: &Members, me: &str) -> Vec<Delivery> {
        let mut owned = Vec::new();
        self.kept.retain(|(_, event)| {
            let take = mine(members, me, event);
            if take {
                owned.push(Delivery { event: event.clone(), receipt: None });
            }
            !take
        });
        owned
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::device::DeviceMessage;

    fn members(ids: &[&str]) -> Members {
        let ids = ids.iter().map(|id| (*id).to_owned()).collect();
        Members::new("r-a", ids, Duration::from_secs(2), Duration::from_millis(500))
    }

    fn status(client: Uuid) -> GatewayEvent {
        GatewayEvent::Device {
            client,
            topic: format!("rebound/v1/clients/{client}/status"),
            message: DeviceMessage::Status { online: true, retained: false },
            digest: Some(client.to_string()),
        }
    }

    fn devices(n: usize) -> Vec<Uuid> {
        (0..n as u128).map(|i| Uuid::from_u128(i * 0x9e37_79b9_7f4a_7c15 + 1)).collect()
    }

    #[test]
    fn the_devices_spread_evenly_over_three_replicas() {
        let three = members(&["r-a", "r-b", "r-c"]);
        let mut per_replica = std::collections::HashMap::<&str, usize>::new();
        for device in devices(3000) {
            *per_replica.entry(owner(&three, device)).or_default() += 1;
        }
        assert_eq!(per_replica.len(), 3, "{per_replica:?}");
        for (replica, n) in per_replica {
            assert!((800..=1200).contains(&n), "{replica} owns {n} of 3000 devices");
        }
    }

    #[test]
    fn an_owner_stays_the_owner_among_fewer_replicas_and_only_a_dead_ones_devices_move() {
        let three = members(&["r-a", "r-b", "r-c"]);
        let two = members(&["r-a", "r-b"]);
        for device in devices(1000) {
            let before = owner(&three, device);
            let after = owner(&two, device);
            if before != "r-c" {
                assert_eq!(before, after, "device {device} moved although its owner lives");
            }
        }
    }

    #[test]
    fn scores_are_stable_across_builds() {
        // Replicas of two versions must agree during a rolling restart: the value is fixed
        // (checked against an independent FNV-1a 64 + splitmix64 finalizer in Python).
        let device = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(score("r-a", device), score("r-a", device));
        assert_ne!(score("r-a", device), score("r-b", device));
        assert_eq!(score("replica-1", Uuid::nil()), 0x9dd3_68a8_dd00_a323);
    }

    #[test]
    fn the_standby_gives_back_what_a_replica_owns_after_a_change_and_forgets_old_messages() {
        let me = "r-a";
        let three = members(&["r-a", "r-b", "r-c"]);
        let theirs: Vec<Uuid> =
            devices(200).into_iter().filter(|d| owner(&three, *d) == "r-c").collect();
        assert!(!theirs.is_empty());
        let mut standby = Standby::default();
        let start = Instant::now();
        for (i, device) in theirs.iter().enumerate() {
            assert!(!mine(&three, me, &status(*device)));
            standby.keep(start + Duration::from_millis(i as u64), status(*device));
        }
        assert!(standby.take_owned(&three, me).is_empty(), "nothing moves while r-c lives");
        let without_c = members(&["r-a", "r-b"]);
        let taken = standby.take_owned(&without_c, me);
        let expected: Vec<Uuid> =
            theirs.iter().copied().filter(|d| owner(&without_c, *d) == me).collect();
        let got: Vec<Uuid> = taken
            .iter()
            .map(|d| match &d.event {
                GatewayEvent::Device { client, .. } => *client,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, expected, "r-a takes its share of r-c's devices, in arrival order");
        assert!(taken.iter().all(|d| d.receipt.is_none()));
        assert_eq!(standby.len(), theirs.len() - expected.len());
        standby.expire(start + Duration::from_secs(60), Duration::from_secs(30));
        assert!(standby.is_empty(), "messages older than the hold are forgotten");
    }
}
