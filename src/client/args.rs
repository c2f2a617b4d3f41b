//! The command-line options of every program that talks to a running server (the admin
//! commands of `rebound` and `rebound-mcp`), and how such a program parses its command line.

use clap::{Args, Parser};
use std::process::ExitCode;

/// Options shared by every command that talks to a running server.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Server address: host:port, http://host:port or unix:PATH.
    #[arg(long, global = true, env = "REBOUND_ADDR", default_value = super::DEFAULT_ADDR)]
    pub addr: String,
    /// Bearer token sent with every call (servers with `auth.tokens_file`). Prefer the
    /// environment variable: a flag is visible to other users in the process list.
    #[arg(long, global = true, env = "REBOUND_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM CA certificate to trust for an https:// --addr (servers with server.tls).
    #[arg(long, global = true, env = "REBOUND_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// PEM client certificate for mutual TLS (servers with server.tls.client_ca_file), with
    /// --tls-key. Its identity must be listed under [[clients]] in the server's tokens file.
    #[arg(long, global = true, env = "REBOUND_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, global = true, env = "REBOUND_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl ClientArgs {
    /// Token and TLS settings for [`super::Transport::connect_with`].
    pub fn options(&self) -> super::ClientOptions {
        super::ClientOptions {
            token: self.token.clone(),
            tls_ca: self.tls_ca.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
        }
    }
}

/// Parse a binary's command line, or the exit code to end with: --help and --version are
/// not errors (0); usage mistakes exit 64 (EX_USAGE) after printing what is wrong.
pub fn parse_args<P: Parser>() -> Result<P, ExitCode> {
    P::try_parse().map_err(|err| {
        let _ = err.print();
        ExitCode::from(if err.use_stderr() { crate::exit::USAGE } else { crate::exit::OK })
    })
}
