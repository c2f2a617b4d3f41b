//! A real Mosquitto for the device tests, started from the shipped `deploy/mosquitto` config
//! and ACL (see `rebound::mosquitto`), with the server's account and one account per
//! device, on a free port.

use rebound::mosquitto as broker;

/// The server's broker account.
pub const SERVER_USER: &str = "rebound-server";
pub const SERVER_PASSWORD: &str = "server-secret";

/// Every device's password in the tests (the username is its UUID).
pub fn device_password(uuid: &uuid::Uuid) -> String {
    format!("pw-{}", &uuid.to_string()[..8])
}

/// How many ports [`Broker::start_with_listener`] tries for its second listener.
const BIND_ATTEMPTS: usize = 5;

/// A running broker.
pub struct Broker {
    inner: broker::Broker,
    pub port: u16,
}

impl Broker {
    /// Start with the server account and one account per device.
    pub fn start(devices: &[uuid::Uuid]) -> Broker {
        Self::start_with(devices, "")
    }

    /// [`Broker::start`] with `extra` appended to the config (e.g. a TLS listener).
    pub fn start_with(devices: &[uuid::Uuid], extra: &str) -> Broker {
        Self::try_start_with(devices, extra)
            .unwrap_or_else(|err| panic!("{err} (./scripts/test.sh installs mosquitto)"))
    }

    /// [`Broker::start_with`] with a second listener: `listener(port)` is the extra config for
    /// it on `port`, and the port it got is returned. Mosquitto cannot bind port 0 and say which
    /// port it got, so this takes a port that was free a moment ago and tries another when
    /// someone else took it first.
    pub fn start_with_listener(
        devices: &[uuid::Uuid],
        listener: impl Fn(u16) -> String,
    ) -> (Broker, u16) {
        let mut last = None;
        for _ in 0..BIND_ATTEMPTS {
            let port = super::closed_port();
            match Self::try_start_with(devices, &listener(port)) {
                Ok(broker) => return (broker, port),
                Err(err) => last = Some(err),
            }
        }
        panic!("{} (./scripts/test.sh installs mosquitto)", last.unwrap())
    }

    fn try_start_with(devices: &[uuid::Uuid], extra: &str) -> Result<Broker, broker::BrokerError> {
        let mut users = vec![(SERVER_USER.to_owned(), SERVER_PASSWORD.to_owned())];
        users.extend(devices.iter().map(|uuid| (uuid.to_string(), device_password(uuid))));
        let inner = broker::Broker::start_with(&users, extra)?;
        std::fs::write(inner.dir().join("server-password"), SERVER_PASSWORD).unwrap();
        let port = inner.port;
        Ok(Broker { inner, port })
    }

    pub fn log(&self) -> String {
        self.inner.log()
    }

    pub fn url(&self) -> String {
        self.inner.url()
    }

    /// The broker's password file (hashed by `mosquitto_passwd -U` at start).
    pub fn passwd_file(&self) -> std::path::PathBuf {
        self.inner.dir().join("passwd")
    }

    /// SIGHUP: Mosquitto re-reads its password and ACL files (`systemctl reload mosquitto`).
    pub fn reload(&self) {
        let pid = self.inner.pid().to_string();
        let status = std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success(), "kill -HUP {pid} failed");
    }

    /// Kill the broker (as in a crash); [`Broker::restart`] brings it back on the same port.
    pub fn stop(&mut self) {
        self.inner.stop();
    }

    pub fn restart(&mut self) {
        self.inner.restart().unwrap_or_else(|err| panic!("broker restart: {err}"));
    }

    /// The `[mqtt]` section for `rebound serve` without any password: the server must take it
    /// from `REBOUND_MQTT_PASSWORD`.
    pub fn server_config_without_password(&self) -> String {
        format!("[mqtt]\nurl = \"{}\"\nusername = \"{SERVER_USER}\"\n", self.inner.url())
    }

    /// The `[mqtt]` section for `rebound serve` (password from a file), plus `extra` keys.
    pub fn server_config(&self, extra: &str) -> String {
        format!(
            "[mqtt]\nurl = \"{}\"\nusername = \"{SERVER_USER}\"\npassword_file = \"{}\"\n{extra}\n",
            self.inner.url(),
            self.inner.dir().join("server-password").display()
        )
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- mosquitto log ---\n{}--- end of mosquitto log ---", self.log());
        }
    }
}
