//! Tracing and OpenTelemetry set-up: human or JSON logs on stderr, optional OTLP trace export,
//! W3C trace-context propagation, and a handle to change the log filter at runtime.
//!
//! With `telemetry.log_dir` set, the same lines also go to `rebound.log` and errors alone to
//! `rebound.error.log` in that directory, both rotated by size (see [`rotate`]).
//!
//! Call [`init`] once, early in `main`; keep the returned [`Telemetry`] alive and call
//! [`Telemetry::shutdown`] last so buffered spans are exported. Its settings are
//! [`TelemetryConfig`]; this module imports nothing from the crate, so the client side
//! (`rebound-mcp`) starts it without the server's configuration.

mod rotate;
mod settings;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use rotate::RotatingFile;
pub use settings::{LogFormat, TelemetryConfig};
use std::io::IsTerminal;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// The environment variable OpenTelemetry tooling uses for the collector endpoint.
const OTEL_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("telemetry.log_level: {0}")]
    Filter(String),
    #[error("telemetry.otlp_endpoint: {0}")]
    Exporter(String),
    #[error("telemetry.log_dir: cannot open log files in {dir}: {reason}")]
    LogDir { dir: String, reason: String },
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInstalled(String),
}

/// Live telemetry handles.
pub struct Telemetry {
    filter: reload::Handle<EnvFilter, Registry>,
    provider: Option<SdkTracerProvider>,
    /// `RUST_LOG` was set at start: it keeps winning over `telemetry.log_level`.
    env_filter: bool,
}

impl Telemetry {
    /// A handle that changes the log filter while the process runs.
    pub fn log_level(&self) -> LogLevel {
        LogLevel { filter: self.filter.clone(), env_filter: self.env_filter }
    }

    /// Whether spans are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flush and stop the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            eprintln!("rebound: flushing traces failed: {err}");
        }
    }
}

/// Changes the log filter at runtime (the server follows `telemetry.log_level` through
/// config reloads with it). Cheap to clone.
#[derive(Clone)]
pub struct LogLevel {
    filter: reload::Handle<EnvFilter, Registry>,
    /// `RUST_LOG` was set at start: it keeps winning over `telemetry.log_level`.
    env_filter: bool,
}

impl LogLevel {
    /// Filter by `directive` from now on, unless `RUST_LOG` was set at start (it keeps
    /// precedence and this is a no-op). A directive that does not parse changes nothing.
    pub fn set(&self, directive: &str) -> Result<(), TelemetryError> {
        if self.env_filter {
            tracing::info!("telemetry.log_level changed, but RUST_LOG is set and keeps precedence");
            return Ok(());
        }
        let filter = parse_filter(directive)?;
        self.filter.reload(filter).map_err(|err| TelemetryError::Filter(err.to_string()))
    }
}

fn parse_filter(directive: &str) -> Result<EnvFilter, TelemetryError> {
    EnvFilter::builder().parse(directive).map_err(|err| TelemetryError::Filter(err.to_string()))
}

/// Install the global subscriber. `RUST_LOG`, when set, wins over `telemetry.log_level`.
pub fn init(config: &TelemetryConfig) -> Result<Telemetry, TelemetryError> {
    let env_directive = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
    let env_filter = env_directive.is_some();
    let directive = env_directive.unwrap_or_else(|| config.log_level.clone());
    let (filter, handle) = reload::Layer::new(parse_filter(&directive)?);
    let fmt = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let files = config
        .log_dir
        .as_ref()
        .map(|dir| {
            let open = |name| RotatingFile::open(dir, name, config.log_max_bytes, config.log_keep);
            let fail = |err: std::io::Error| TelemetryError::LogDir {
                dir: dir.display().to_string(),
                reason: err.to_string(),
            };
            Ok::<_, TelemetryError>((
                open("rebound.log").map_err(fail)?,
                open("rebound.error.log").map_err(fail)?,
            ))
        })
        .transpose()?;
    let (all_file, error_file) = files.unzip();
    let json = config.log_format == LogFormat::Json;
    let all_file = all_file.map(|file| {
        let layer = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(file);
        if json {
            layer.json().flatten_event(true).with_current_span(true).boxed()
        } else {
            layer.boxed()
        }
    });
    let error_file = error_file.map(|file| {
        let layer = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(file);
        let layer = if json {
            layer.json().flatten_event(true).with_current_span(true).boxed()
        } else {
            layer.boxed()
        };
        layer.with_filter(LevelFilter::ERROR)
    });
    let endpoint = config
        .otlp_endpoint
        .clone()
        .or_else(|| std::env::var(OTEL_ENDPOINT_ENV).ok().filter(|v| !v.is_empty()));
    let provider = endpoint.map(|endpoint| otlp_provider(&endpoint)).transpose()?;
    let otel = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("rebound")));
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(all_file)
        .with(error_file)
        .with(otel)
        .try_init()
        .map_err(|err| TelemetryError::AlreadyInstalled(err.to_string()))?;
    Ok(Telemetry { filter: handle, provider, env_filter })
}

fn otlp_provider(endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|err| TelemetryError::Exporter(err.to_string()))?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name("rebound").build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log level handle over a filter layer that is kept alive but never installed.
    fn level(env_filter: bool) -> (LogLevel, reload::Layer<EnvFilter, Registry>) {
        let (layer, filter) = reload::Layer::new(parse_filter("info").unwrap());
        (LogLevel { filter, env_filter }, layer)
    }

    fn current(level: &LogLevel) -> String {
        level.filter.with_current(|filter| filter.to_string()).unwrap()
    }

    #[test]
    fn the_log_level_follows_a_new_directive_and_keeps_the_old_one_on_a_bad_one() {
        let (level, _layer) = level(false);
        level.set("rebound=debug").unwrap();
        assert_eq!(current(&level), "rebound=debug");
        let err = level.set("rebound=[").unwrap_err().to_string();
        assert!(err.starts_with("telemetry.log_level: "), "{err}");
        assert_eq!(current(&level), "rebound=debug");
    }

    #[test]
    fn rust_log_keeps_precedence_over_the_configured_level() {
        let (level, _layer) = level(true);
        level.set("debug").unwrap();
        assert_eq!(current(&level), "info");
    }
}
