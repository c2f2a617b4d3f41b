//! Test certificates made with the `openssl` command: a CA and a server certificate for
//! 127.0.0.1 / localhost signed by it, in a directory the test owns.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA and the server certificate it signed.
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Make `{name}-ca.pem`, `{name}-server.pem` and `{name}-server.key` in `dir`.
pub fn make(dir: &Path, name: &str) -> Certs {
    let file = |suffix: &str| format!("{name}-{suffix}");
    std::fs::write(
        dir.join(file("ext.cnf")),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    let ca_subject = format!("/CN={name} test ca");
    openssl(
        dir,
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-keyout",
                &file("ca.key"),
                "-out",
                &file("ca.pem"),
                "-days",
                "2",
                "-subj",
                &ca_subject,
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req"],
            &ec[..],
            &[
                "-keyout",
                &file("server.key"),
                "-out",
                &file("server.csr"),
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &file("server.csr"),
            "-CA",
            &file("ca.pem"),
            "-CAkey",
            &file("ca.key"),
            "-CAcreateserial",
            "-out",
            &file("server.pem"),
            "-days",
            "2",
            "-extfile",
            &file("ext.cnf"),
        ],
    );
    Certs {
        ca: dir.join(file("ca.pem")),
        cert: dir.join(file("server.pem")),
        key: dir.join(file("server.key")),
    }
}
