//! A [`DeviceLink`] for the domain's tests: configured, up or down at the test's word, and
//! keeping every command it was asked to publish or withdraw (the MQTT side has its own
//! tests).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use uuid::Uuid;

use crate::commands::device::{DeviceLink, OutboundCommand};

/// A broker connection that is up or down at the test's word and keeps every command.
#[derive(Default)]
pub(crate) struct RecordingLink {
    pub connected: AtomicBool,
    pub published: Mutex<Vec<OutboundCommand>>,
    pub withdrawn: Mutex<Vec<Uuid>>,
}

impl RecordingLink {
    pub fn published(&self) -> usize {
        self.published.lock().unwrap().len()
    }
}

impl DeviceLink for RecordingLink {
    fn is_configured(&self) -> bool {
        true
    }

    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    fn publish_command(&self, command: OutboundCommand) {
        self.published.lock().unwrap().push(command);
    }

    fn withdraw_command(&self, command_id: Uuid) {
        self.withdrawn.lock().unwrap().push(command_id);
    }

    fn clear_service_failed(&self, _client: Uuid) {}
}
