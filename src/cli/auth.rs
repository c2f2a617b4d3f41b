//! `rebound auth`: make tokens for `auth.tokens_file` without a server. Tokens never go
//! through argv: `new-token` prints a fresh one, `hash-token` reads one from stdin.

use crate::exit;
use clap::{Args, Subcommand, ValueEnum};
use std::io::Read;

#[derive(Debug, Args)]
pub struct AuthArgs {
    #[command(subcommand)]
    command: AuthCommand,
}

#[derive(Debug, Subcommand)]
enum AuthCommand {
    /// Generate a random token; print it, then the `[[tokens]]` entry to add to the tokens
    /// file (which holds only its SHA-256).
    NewToken {
        /// Name of the caller, recorded as the principal in history and the audit log.
        #[arg(long)]
        name: String,
        /// viewer (read, watch), operator (commands, rollouts, reload) or admin (restart,
        /// cleanup, backup).
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Read a token on stdin and print its hex SHA-256 (same as `printf %s TOKEN | sha256sum`).
    HashToken,
}

/// The roles of the tokens file, spelled as it spells them (`role = "operator"`).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Viewer,
    Operator,
    Admin,
}

impl RoleArg {
    fn name(self) -> String {
        self.to_possible_value().expect("no role is skipped").get_name().to_owned()
    }
}

/// The tokens file's digest of `token`: its hex SHA-256 (what `auth` compares against).
fn hash_token(token: &str) -> String {
    crate::hex::sha256(token)
}

pub fn run(args: AuthArgs) -> u8 {
    match args.command {
        AuthCommand::NewToken { name, role } => {
            let token = match random_token() {
                Ok(token) => token,
                Err(err) => {
                    eprintln!("rebound: cannot read /dev/urandom: {err}");
                    return exit::FAILURE;
                }
            };
            let role = role.name();
            println!("{token}");
            println!(
                "\n# add to auth.tokens_file, then reload the config:\n[[tokens]]\nname = {name:?}\nrole = {role:?}\nsha256 = {:?}",
                hash_token(&token)
            );
            exit::OK
        }
        AuthCommand::HashToken => {
            let mut token = String::new();
            if let Err(err) = std::io::stdin().read_to_string(&mut token) {
                eprintln!("rebound: cannot read the token from stdin: {err}");
                return exit::FAILURE;
            }
            let token = token.trim_end_matches(['\n', '\r']);
            if token.is_empty() {
                eprintln!("rebound: no token on stdin");
                return exit::USAGE;
            }
            println!("{}", hash_token(token));
            exit::OK
        }
    }
}

/// 32 random bytes as 64 hex digits.
pub(super) fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(crate::hex::encode(&bytes))
}
