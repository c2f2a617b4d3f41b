//! Configuration: the TOML model, loading with environment overrides, and validation.
//!
//! This module owns what a configuration *is* and whether it is acceptable. It does not
//! apply configuration to running components (that is the reload manager's job) and it
//! never touches the network or the store.
//!
//! Loading is `file → TOML table → REBOUND_<SECTION>__<KEY> overrides → serde (unknown keys
//! rejected with their path) → validate() (every semantic error at once, each with its
//! field path)`.

mod devices;
mod diff;
pub(crate) use crate::duration;
mod handle;
mod load;
mod model;
pub mod reload;
mod security;
pub mod watch;

pub use devices::{
    BrokerUrl, CommandsConfig, CrashRecoveryConfig, EscalationConfig, MqttConfig, RolloutConfig,
    SafetyConfig, SchedulerConfig,
};
pub use diff::{Change, ChangeKind, REDACTED, diff, is_secret, needs_restart, redacted_toml};
pub use handle::{ConfigHandle, ConfigObserver, Current, Observers, file_observer};
pub use load::{ConfigError, FieldError, LoadedConfig, Source, hash_config, load, parse_str};
pub use model::{
    CONFIG_VERSION, ClusterConfig, Config, DEFAULT_LISTEN, DEFAULT_STORE_URL, LogFormat,
    ReloadConfig, RestartConfig, RetentionConfig, ServerConfig, StoreConfig, TelemetryConfig,
    TlsConfig, valid_replica_id,
};
pub use security::{AuthConfig, RateLimitConfig};
