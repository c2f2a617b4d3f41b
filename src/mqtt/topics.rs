//! The topic layout of `contracts/mqtt-v1.md`: `{p}/{uuid}/commands` (and the alias
//! `{p}/{uuid}/command` while `mqtt.compat_topics` is on) outbound; acks, health, status and
//! service_failed inbound. Parsing only: no payloads, no rules.

use uuid::Uuid;

use crate::model::commands::AckTopic;

/// What an inbound topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    Ack(AckTopic),
    Health,
    Status,
    ServiceFailed,
}

impl Inbound {
    /// Short name for counters and logs.
    pub fn name(self) -> &'static str {
        match self {
            Inbound::Ack(AckTopic::Canonical) => "commands/ack",
            Inbound::Ack(AckTopic::Alias) => "command/ack",
            Inbound::Health => "health",
            Inbound::Status => "status",
            Inbound::ServiceFailed => "service_failed",
        }
    }
}

/// The topics of one prefix and compat setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    compat: bool,
}

impl Topics {
    pub fn new(prefix: &str, compat: bool) -> Self {
        Self { prefix: prefix.to_owned(), compat }
    }

    /// Subscription filters for every device.
    pub fn filters(&self) -> Vec<String> {
        let p = &self.prefix;
        let mut filters = vec![
            format!("{p}/+/commands/ack"),
            format!("{p}/+/health"),
            format!("{p}/+/status"),
            format!("{p}/+/service_failed"),
        ];
        if self.compat {
            filters.insert(1, format!("{p}/+/command/ack"));
        }
        filters
    }

    /// Where a command for `client` is published: canonical first, then the alias.
    pub fn command_topics(&self, client: Uuid) -> Vec<String> {
        let mut topics = vec![format!("{}/{client}/commands", self.prefix)];
        if self.compat {
            topics.push(format!("{}/{client}/command", self.prefix));
        }
        topics
    }

    /// The retained service failure topic of `client`.
    pub fn service_failed(&self, client: Uuid) -> String {
        format!("{}/{client}/service_failed", self.prefix)
    }

    /// The device and kind of an inbound topic; `None` for anything else (including the
    /// alias ack topic while compat is off, and a UUID not written lower-case and hyphenated).
    pub fn parse(&self, topic: &str) -> Option<(Uuid, Inbound)> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let (uuid, kind) = rest.split_once('/')?;
        let kind = match kind {
            "commands/ack" => Inbound::Ack(AckTopic::Canonical),
            "command/ack" if self.compat => Inbound::Ack(AckTopic::Alias),
            "health" => Inbound::Health,
            "status" => Inbound::Status,
            "service_failed" => Inbound::ServiceFailed,
            _ => return None,
        };
        // The contract's form only (lower-case, hyphenated): a device that names itself
        // otherwise would be registered under an id whose command topic it never reads.
        let parsed = Uuid::try_parse(uuid).ok()?;
        (parsed.hyphenated().encode_lower(&mut Uuid::encode_buffer()) == uuid)
            .then_some((parsed, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_inbound_topic_and_nothing_else() {
        let topics = Topics::new("infoscreen", true);
        let id = Uuid::new_v4();
        let ack = topics.parse(&format!("infoscreen/{id}/commands/ack"));
        assert_eq!(ack, Some((id, Inbound::Ack(AckTopic::Canonical))));
        let alias = topics.parse(&format!("infoscreen/{id}/command/ack"));
        assert_eq!(alias, Some((id, Inbound::Ack(AckTopic::Alias))));
        assert_eq!(topics.parse(&format!("infoscreen/{id}/health")), Some((id, Inbound::Health)));
        assert_eq!(topics.parse(&format!("infoscreen/{id}/commands")), None);
        assert_eq!(topics.parse("infoscreen/not-a-uuid/health"), None);
        let upper = id.to_string().to_uppercase();
        let simple = id.simple().to_string();
        for other_form in [upper, simple, format!("{{{id}}}"), format!("urn:uuid:{id}")] {
            let topic = format!("infoscreen/{other_form}/health");
            assert_eq!(topics.parse(&topic), None, "{topic}: not the contract's form");
        }
        assert_eq!(topics.parse(&format!("other/{id}/health")), None);
        let strict = Topics::new("infoscreen", false);
        assert_eq!(strict.parse(&format!("infoscreen/{id}/command/ack")), None);
        assert_eq!(strict.filters().len(), 4);
        assert_eq!(topics.command_topics(id).len(), 2);
    }
}
