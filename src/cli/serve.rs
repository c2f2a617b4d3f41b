//! `rebound serve`: load the configuration, start telemetry, run the server.

use crate::{config, exit, server, telemetry};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file; without it rebound runs on defaults. REBOUND_<SECTION>__<KEY>
    /// environment variables override single keys (e.g. REBOUND_SERVER__LISTEN=0.0.0.0:50051).
    #[arg(long, short, env = "REBOUND_CONFIG")]
    pub config: Option<PathBuf>,
}

pub async fn run(args: ServeArgs) -> u8 {
    let loaded = match config::load(args.config.as_deref(), std::env::vars()) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("rebound: {err}");
            return exit::USAGE;
        }
    };
    let telemetry = match telemetry::init(&loaded.config.telemetry) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("rebound: {err}");
            return exit::USAGE;
        }
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %loaded.source,
        otlp = telemetry.exporting(),
        "starting"
    );
    let observers = crate::config::Observers::default();
    observers.register(Arc::new(LogLevelObserver(telemetry.log_level())));
    let code = match server::run(loaded, observers).await {
        Ok(server::Stopped::Shutdown | server::Stopped::HandedOver) => exit::OK,
        Ok(server::Stopped::Exec(plan)) => {
            // Flush this image's spans first: the exec discards everything in memory.
            telemetry.shutdown();
            let err = plan.exec();
            eprintln!("rebound: exec failed: {err}");
            return exit::FAILURE;
        }
        Err(err) => {
            tracing::error!(error = %err, "server stopped with an error");
            eprintln!("rebound: {err}");
            err.exit_code()
        }
    };
    telemetry.shutdown();
    code
}

/// Follows `telemetry.log_level` through config reloads.
struct LogLevelObserver(telemetry::LogLevel);

impl config::ConfigObserver for LogLevelObserver {
    fn name(&self) -> &'static str {
        "telemetry.log_level"
    }

    fn apply(&self, old: &config::Config, new: &config::Config) -> Result<(), String> {
        if old.telemetry.log_level == new.telemetry.log_level {
            return Ok(());
        }
        self.0.set(&new.telemetry.log_level).map_err(|err| err.to_string())
    }
}
