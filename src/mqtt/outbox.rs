//! The gateway's outbound state: what the domain queued and the in-flight window has not
//! taken yet ([`Backlog`]), packet ids, the QoS 1 publishes the broker has not acknowledged
//! yet (at most [`INFLIGHT`]), and which commands are on their way ([`Outbox`]).
//!
//! The gateway assigns packet ids itself, so a PUBACK names its publish directly. The
//! unacknowledged publishes outlive a connection: when the broker kept the session they are
//! sent again, in their original order with their original ids and the DUP flag (MQTT 3.1.1
//! §4.4); when it lost it they are forgotten: the domain publishes its queued commands again
//! (`GatewayEvent::Connected`), and the gateway queues its service-failure clears again.

use std::collections::{HashMap, VecDeque};

use rumqttc::mqttbytes::v4::Publish;
use uuid::Uuid;

use super::Outbound;
use crate::ids::IdSet;

/// Outbound QoS 1 publishes awaiting PUBACK at once (the in-flight window).
const INFLIGHT: usize = super::options::INFLIGHT as usize;

/// What a publish was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// A command; `primary` is the canonical topic (its PUBACK marks the command published).
    Command { id: Uuid, primary: bool },
    /// The empty retained publish that clears a device's service failure.
    ClearServiceFailed(Uuid),
}

/// What the domain queued and the window has not taken yet, in order; a command at most
/// once (the domain publishes its queue again on every connection, while part of it may
/// still wait here). A command withdrawn by the domain, or expired by the time the window
/// has room for it, is dropped instead of sent (contract: a queued command is published
/// "unless expired by then").
#[derive(Default)]
pub struct Backlog {
    queue: VecDeque<Outbound>,
    commands: IdSet,
    /// Commands in `queue` that are not to be sent any more.
    withdrawn: IdSet,
}

impl Backlog {
    pub fn push(&mut self, message: Outbound) {
        match &message {
            Outbound::Withdraw(id) => {
                if self.commands.contains(id) {
                    self.withdrawn.insert(*id);
                }
                return;
            }
            Outbound::Command(command) if !self.commands.insert(command.command_id) => return,
            _ => {}
        }
        self.queue.push_back(message);
    }

    /// Put `message` first (a clear the broker lost with its session).
    pub fn push_front(&mut self, message: Outbound) {
        self.queue.push_front(message);
    }

    /// The next message to send at `now_ms`; withdrawn and expired commands ahead of it are
    /// dropped.
    pub fn front(&mut self, now_ms: i64) -> Option<&Outbound> {
        while let Some(Outbound::Command(command)) = self.queue.front() {
            let withdrawn = self.withdrawn.contains(&command.command_id);
            if !withdrawn && command.expires_ms > now_ms {
                break;
            }
            let why = if withdrawn { "withdrawn" } else { "expired" };
            tracing::debug!(command.id = %command.command_id, "mqtt: queued command {why}; not sent");
            self.pop_front();
        }
        self.queue.front()
    }

    pub fn pop_front(&mut self) {
        if let Some(Outbound::Command(command)) = self.queue.pop_front() {
            self.commands.remove(&command.command_id);
            self.withdrawn.remove(&command.command_id);
        }
    }
}

/// What a new connection does with the publishes of the earlier ones.
pub struct Resumed {
    /// To send again (DUP, original ids, in order): the broker kept the session.
    pub again: Vec<Publish>,
    /// Devices whose service-failure clear the broker lost with its session.
    pub forgotten_clears: Vec<Uuid>,
}

struct Unacked {
    /// Order of sending.
    seq: u64,
    publish: Publish,
    tag: Tag,
}

#[derive(Default)]
pub struct Outbox {
    last_pkid: u16,
    seq: u64,
    unacked: HashMap<u16, Unacked>,
    /// Packet id of the subscription awaiting its SUBACK (it shares the id space).
    subscribing: Option<u16>,
    /// Commands handed over and not yet acknowledged on their canonical topic.
    pending: IdSet,
}

impl Outbox {
    /// Whether a command is already on its way (so it is not published twice).
    pub fn is_pending(&self, id: Uuid) -> bool {
        self.pending.contains(&id)
    }

    /// How many more publishes fit in the in-flight window.
    pub fn room(&self) -> usize {
        INFLIGHT.saturating_sub(self.unacked.len())
    }

    /// Give `publish` the next free packet id and keep it until its PUBACK; returns the
    /// packet to send.
    pub fn publish(&mut self, mut publish: Publish, tag: Tag) -> Publish {
        publish.pkid = self.next_pkid();
        if let Tag::Command { id, primary: true } = tag {
            self.pending.insert(id);
        }
        self.seq += 1;
        let kept = Unacked { seq: self.seq, publish: publish.clone(), tag };
        self.unacked.insert(publish.pkid, kept);
        publish
    }

    /// A packet id for a SUBSCRIBE.
    pub fn subscription(&mut self) -> u16 {
        let pkid = self.next_pkid();
        self.subscribing = Some(pkid);
        pkid
    }

    /// PUBACK `pkid`: what it acknowledged, if it was ours.
    pub fn acked(&mut self, pkid: u16) -> Option<Tag> {
        let Unacked { tag, .. } = self.unacked.remove(&pkid)?;
        if let Tag::Command { id, primary: true } = tag {
            self.pending.remove(&id);
        }
        Some(tag)
    }

    /// SUBACK `pkid` arrived: whether it answers the subscription.
    pub fn subscribed(&mut self, pkid: u16) -> bool {
        let ours = self.subscribing == Some(pkid);
        if ours {
            self.subscribing = None;
        }
        ours
    }

    /// Connected again: when the broker kept the session, the publishes to send again (DUP,
    /// in their order); when it did not, everything is forgotten and the clears among them
    /// are named.
    pub fn resume(&mut self, session_present: bool) -> Resumed {
        self.subscribing = None;
        if session_present {
            let mut again: Vec<&Unacked> = self.unacked.values().collect();
            again.sort_by_key(|u| u.seq);
            let again = again.into_iter().map(|u| Publish { dup: true, ..u.publish.clone() });
            return Resumed { again: again.collect(), forgotten_clears: Vec::new() };
        }
        let mut lost: Vec<Unacked> = self.unacked.drain().map(|(_, u)| u).collect();
        lost.sort_by_key(|u| u.seq);
        let mut forgotten_clears = Vec::new();
        for u in lost {
            match u.tag {
                Tag::Command { id, primary: true } => {
                    self.pending.remove(&id);
                }
                Tag::Command { .. } => {}
                Tag::ClearServiceFailed(client) => forgotten_clears.push(client),
            }
        }
        Resumed { again: Vec::new(), forgotten_clears }
    }

    /// The next packet id not in use (1 to 65535, then 1 again).
    fn next_pkid(&mut self) -> u16 {
        loop {
            self.last_pkid = self.last_pkid % u16::MAX + 1;
            let pkid = self.last_pkid;
            if !self.unacked.contains_key(&pkid) && self.subscribing != Some(pkid) {
                return pkid;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::QoS;

    fn cmd(id: Uuid) -> Tag {
        Tag::Command { id, primary: true }
    }

    fn publish(topic: &str) -> Publish {
        Publish::new(topic, QoS::AtLeastOnce, "x")
    }

    #[test]
    fn pubacks_name_their_publish_and_settle_pending_commands() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut o = Outbox::default();
        let pa = o.publish(publish("a"), cmd(a)).pkid;
        let alias = o.publish(publish("a-alias"), Tag::Command { id: a, primary: false }).pkid;
        let pb = o.publish(publish("b"), cmd(b)).pkid;
        assert_eq!((pa, alias, pb), (1, 2, 3));
        assert!(o.is_pending(a) && o.is_pending(b));
        assert_eq!(o.acked(alias), Some(Tag::Command { id: a, primary: false }));
        assert!(o.is_pending(a), "the alias does not settle the command");
        assert_eq!(o.acked(pa), Some(cmd(a)));
        assert!(!o.is_pending(a));
        assert_eq!(o.acked(pa), None, "a duplicate PUBACK");
        assert_eq!(o.acked(pb), Some(cmd(b)));
    }

    #[test]
    fn packet_ids_wrap_and_skip_those_in_use() {
        let mut o = Outbox { last_pkid: u16::MAX - 1, ..Outbox::default() };
        let held = o.publish(publish("held"), Tag::ClearServiceFailed(Uuid::nil())).pkid;
        assert_eq!(held, u16::MAX);
        assert_eq!(o.subscription(), 1, "wraps to 1, never 0");
        o.last_pkid = u16::MAX - 1;
        assert_eq!(
            o.publish(publish("next"), Tag::ClearServiceFailed(Uuid::nil())).pkid,
            2,
            "skips 65535, 1"
        );
        o.subscribed(1);
        o.acked(u16::MAX);
        o.last_pkid = u16::MAX - 1;
        assert_eq!(
            o.publish(publish("again"), Tag::ClearServiceFailed(Uuid::nil())).pkid,
            u16::MAX
        );
    }

    fn queued(id: Uuid, expires_ms: i64) -> Outbound {
        Outbound::Command(crate::commands::device::OutboundCommand {
            command_id: id,
            client_uuid: Uuid::nil(),
            action: crate::contract::Action::RestartApp,
            issued_ms: 0,
            expires_ms,
            requested_by: None,
            reason: None,
        })
    }

    /// What the backlog hands out at `now_ms`, in order, until it is empty.
    fn drain(backlog: &mut Backlog, now_ms: i64, names: &[(Uuid, &str)]) -> Vec<String> {
        let mut taken = Vec::new();
        while let Some(message) = backlog.front(now_ms) {
            taken.push(match message {
                Outbound::Command(c) => {
                    let name = names.iter().find(|(id, _)| *id == c.command_id).map(|n| n.1);
                    format!("command {}", name.unwrap_or("?"))
                }
                Outbound::ClearServiceFailed(_) => "clear".to_owned(),
                Outbound::Withdraw(_) => "withdraw".to_owned(),
            });
            backlog.pop_front();
        }
        taken
    }

    #[test]
    fn the_backlog_holds_a_command_once() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut backlog = Backlog::default();
        for id in [a, b, a, b] {
            backlog.push(queued(id, 100));
        }
        backlog.push(Outbound::ClearServiceFailed(a));
        backlog.push(Outbound::ClearServiceFailed(a));
        let taken = drain(&mut backlog, 0, &[(a, "a"), (b, "b")]);
        assert_eq!(taken, ["command a", "command b", "clear", "clear"]);
        backlog.push(queued(a, 100));
        assert!(backlog.front(0).is_some(), "taken out, it may be queued again");
    }

    #[test]
    fn withdrawn_and_expired_commands_are_dropped_not_sent() {
        let (a, b, c, d) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let names = [(a, "a"), (b, "b"), (c, "c"), (d, "d")];
        let mut backlog = Backlog::default();
        backlog.push(Outbound::Withdraw(a)); // not queued (yet): nothing to drop
        backlog.push(queued(a, 100));
        backlog.push(queued(b, 100));
        backlog.push(Outbound::ClearServiceFailed(b));
        backlog.push(queued(c, 50)); // expired at 60
        backlog.push(queued(d, 100));
        backlog.push(Outbound::Withdraw(b));
        backlog.push(Outbound::Withdraw(d));
        assert_eq!(drain(&mut backlog, 60, &names), ["command a", "clear"]);
        // Dropped, a command may be queued again (the domain republishes what is queued).
        backlog.push(queued(d, 100));
        assert_eq!(drain(&mut backlog, 60, &names), ["command d"]);
    }

    #[test]
    fn the_window_holds_inflight_publishes() {
        let mut o = Outbox::default();
        for i in 0..INFLIGHT {
            assert_eq!(o.room(), INFLIGHT - i);
            o.publish(publish("t"), Tag::ClearServiceFailed(Uuid::nil()));
        }
        assert_eq!(o.room(), 0);
        o.acked(1);
        assert_eq!(o.room(), 1);
    }

    #[test]
    fn a_kept_session_resends_in_order_with_dup_a_lost_one_forgets() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut o = Outbox { last_pkid: u16::MAX - 1, ..Outbox::default() };
        let first = o.publish(publish("a"), cmd(a));
        let second = o.publish(publish("b"), cmd(b));
        assert_eq!((first.pkid, second.pkid), (u16::MAX, 1));
        let device = Uuid::new_v4();
        o.publish(publish("clear"), Tag::ClearServiceFailed(device));
        let resumed = o.resume(true);
        let sent: Vec<(u16, bool, &str)> =
            resumed.again.iter().map(|p| (p.pkid, p.dup, p.topic.as_str())).collect();
        let expected = [(u16::MAX, true, "a"), (1, true, "b"), (2, true, "clear")];
        assert_eq!(sent, expected, "original ids, in order");
        assert!(o.is_pending(a) && o.is_pending(b));
        let lost = o.resume(false);
        assert!(lost.again.is_empty());
        assert_eq!(lost.forgotten_clears, [device], "the gateway queues it again");
        assert!(!o.is_pending(a) && !o.is_pending(b), "the domain publishes them again");
        assert_eq!(o.acked(1), None);
    }
}
