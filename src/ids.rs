//! Hash maps and sets keyed by ids (`Uuid`) on the command path: the device writer's working
//! set, the rollout progress deltas and the MQTT outbox hash every command id several times
//! per transition. std's default hasher (SipHash-1-3) was about 1 % of the server's samples in
//! the fan-out benchmark's profile. foldhash hashes a 16-byte key with a few multiplications
//! instead of SipHash's rounds and is, like std's, seeded at random per process, so ids a
//! device chooses cannot be aimed at one bucket.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

/// The hasher of [`IdMap`] and [`IdSet`].
pub type IdHasher = foldhash::fast::RandomState;

/// A map keyed by id; make one with `IdMap::default()`.
pub type IdMap<V> = HashMap<Uuid, V, IdHasher>;

/// A set of ids; make one with `IdSet::default()`.
pub type IdSet = HashSet<Uuid, IdHasher>;
