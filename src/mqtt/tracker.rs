//! Which publish a broker PUBACK acknowledges.
//!
//! rumqttc reports only packet ids: `Outgoing::Publish(pkid)` when it writes a publish and
//! `Incoming::PubAck(pkid)` when the broker acknowledges it. Publishes leave in the order they
//! were handed to the client, so the tracker pairs each first `Outgoing::Publish` of a packet id
//! with the oldest publish handed over and not yet written. A packet id already in flight is a
//! retransmission after a reconnect; a collision (`AwaitAck`) parks the publish until its id is
//! free. Each hand-over is stamped with the connection epoch so that, when the broker has lost
//! the session, exactly the publishes rumqttc dropped are forgotten.

use std::collections::{HashMap, HashSet, VecDeque};

use uuid::Uuid;

/// What a publish was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// A command; `primary` is the canonical topic (its PUBACK marks the command published).
    Command { id: Uuid, primary: bool },
    /// The empty retained publish that clears a service failure.
    ClearServiceFailed,
}

#[derive(Debug, Default)]
pub struct Tracker {
    handed: VecDeque<(u64, Tag)>,
    inflight: HashMap<u16, Tag>,
    collided: Option<(u16, Tag)>,
    /// Commands handed over and not yet acknowledged on their canonical topic.
    pending: HashSet<Uuid>,
    epoch: u64,
}

impl Tracker {
    /// Whether a command is already on its way (so it is not published twice).
    pub fn is_pending(&self, id: Uuid) -> bool {
        self.pending.contains(&id)
    }

    /// A publish was handed to the client.
    pub fn handed(&mut self, tag: Tag) {
        if let Tag::Command { id, primary: true } = tag {
            self.pending.insert(id);
        }
        self.handed.push_back((self.epoch, tag));
    }

    /// `Outgoing::Publish(pkid)`.
    pub fn written(&mut self, pkid: u16) {
        if pkid == 0 || self.inflight.contains_key(&pkid) {
            return;
        }
        if let Some((parked, tag)) = self.collided
            && parked == pkid
        {
            self.collided = None;
            self.inflight.insert(pkid, tag);
            return;
        }
        if let Some((_, tag)) = self.handed.pop_front() {
            self.inflight.insert(pkid, tag);
        }
    }

    /// `Outgoing::AwaitAck(pkid)`: the next publish waits for `pkid` to be acknowledged.
    pub fn collided(&mut self, pkid: u16) {
        if let Some((_, tag)) = self.handed.pop_front() {
            self.collided = Some((pkid, tag));
        }
    }

    /// `Incoming::PubAck(pkid)`: the acknowledged publish, if it was tracked.
    pub fn acked(&mut self, pkid: u16) -> Option<Tag> {
        let tag = self.inflight.remove(&pkid)?;
        if let Tag::Command { id, primary: true } = tag {
            self.pending.remove(&id);
        }
        Some(tag)
    }

    /// The connection dropped: what is handed over so far belongs to the old connection.
    pub fn disconnected(&mut self) {
        self.epoch += 1;
    }

    /// Connected again. Without a session the broker and rumqttc dropped every unacknowledged
    /// publish of earlier connections; forget them (the domain publishes its queue again).
    pub fn connected(&mut self, session_present: bool) {
        if session_present {
            return;
        }
        let epoch = self.epoch;
        let mut lost: Vec<Tag> = self.inflight.drain().map(|(_, tag)| tag).collect();
        lost.extend(self.collided.take().map(|(_, tag)| tag));
        while self.handed.front().is_some_and(|(e, _)| *e < epoch) {
            lost.extend(self.handed.pop_front().map(|(_, tag)| tag));
        }
        for tag in lost {
            if let Tag::Command { id, primary: true } = tag {
                self.pending.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(id: Uuid) -> Tag {
        Tag::Command { id, primary: true }
    }

    #[test]
    fn pairs_pubacks_with_publishes_in_order_and_skips_retransmissions() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut t = Tracker::default();
        t.handed(cmd(a));
        t.handed(Tag::Command { id: a, primary: false });
        t.handed(cmd(b));
        t.written(1);
        t.written(2);
        t.written(1); // retransmission
        t.written(3);
        assert!(t.is_pending(a) && t.is_pending(b));
        assert_eq!(t.acked(2), Some(Tag::Command { id: a, primary: false }));
        assert!(t.is_pending(a));
        assert_eq!(t.acked(1), Some(cmd(a)));
        assert!(!t.is_pending(a));
        assert_eq!(t.acked(3), Some(cmd(b)));
        assert_eq!(t.acked(3), None);
    }

    #[test]
    fn collisions_wait_for_their_packet_id() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut t = Tracker::default();
        t.handed(cmd(a));
        t.handed(cmd(b));
        t.written(1);
        t.collided(1);
        assert_eq!(t.acked(1), Some(cmd(a)));
        t.written(1);
        assert_eq!(t.acked(1), Some(cmd(b)));
    }

    #[test]
    fn a_lost_session_forgets_only_the_old_connection() {
        let (old, new) = (Uuid::new_v4(), Uuid::new_v4());
        let mut t = Tracker::default();
        t.handed(cmd(old));
        t.disconnected();
        t.handed(cmd(new));
        t.connected(false);
        assert!(!t.is_pending(old) && t.is_pending(new));
        t.written(7);
        assert_eq!(t.acked(7), Some(cmd(new)));
    }
}
