//! Wiring of the device side: the live settings and their config observer, the MQTT gateway,
//! the command domain with its ingest and scheduler loops (and, on a store other processes
//! share, the loop following their changes), and their health components.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::commands::{DeviceSettings, Fleet, MAX_BATCH, Settings};
use crate::health::{Component, ComponentStatus, HealthSource};
use crate::lifecycle::ServerContext;

/// Deliveries the gateway may queue ahead of the ingest loop (backpressure beyond this).
const INGEST_QUEUE: usize = 8 * MAX_BATCH;

/// Start the gateway and the command loops as background tasks; return the domain for the API.
pub fn start(ctx: &Arc<ServerContext>) -> Arc<Fleet> {
    let settings = Settings::new(DeviceSettings::from_config(&ctx.config.config()));
    ctx.observers.register(settings.observer());
    let (deliveries, inbox) = mpsc::channel(INGEST_QUEUE);
    // In a cluster each replica has a broker session of its own.
    let replica = ctx.store.cluster().map(|_| ctx.process.replica_id.clone());
    let (link, gateway) = crate::mqtt::start(&ctx.tasks, &settings, deliveries, replica);
    ctx.health.register(gateway);
    let leadership = ctx.cluster.leadership().clone();
    let fleet = Arc::new(Fleet::new(ctx.store.clone(), settings, link).with_leadership(leadership));
    ctx.health.register(Arc::new(CommandsHealth(fleet.clone())));
    let ingest = fleet.clone();
    ctx.tasks.spawn("commands.ingest", move |control| ingest.run_ingest(inbox, control));
    if let Some(feed) = ctx.store.change_feed() {
        let follower = fleet.clone();
        ctx.tasks.spawn("commands.replica_changes", move |control| {
            follower.run_change_feed(feed, control)
        });
    }
    let scheduler = fleet.clone();
    ctx.tasks.spawn("commands.scheduler", move |control| scheduler.run_scheduler(control));
    fleet
}

/// The `commands` health component: acks that changed nothing.
struct CommandsHealth(Arc<Fleet>);

impl HealthSource for CommandsHealth {
    fn component(&self) -> Component {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = self.0.stats();
        let settings = self.0.settings().current();
        Component {
            name: "commands",
            status: ComponentStatus::Healthy,
            detail: format!(
                "ignored acks {}, unknown acks {}, copies applied by another replica {}, \
                 kept for another replica {}, taken over {}, dropped from a full standby {}, \
                 crash recovery {}",
                stats.ignored_acks.load(Relaxed),
                stats.unknown_acks.load(Relaxed),
                stats.replica_copies.load(Relaxed),
                stats.held_for_others.load(Relaxed),
                stats.taken_over.load(Relaxed),
                stats.standby_overflow.load(Relaxed),
                if settings.crash_recovery.enabled { "on" } else { "off" },
            ),
        }
    }
}
