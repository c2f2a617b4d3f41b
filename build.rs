//! Compiles `proto/rebound/v1/*.proto` with protox (no system protoc), generates the tonic
//! server and client code, and writes the encoded descriptor set (with comments) that the
//! reflection service serves. Also records the git commit for `GetHealth`. Without the
//! `server` feature (the agent-only build) there is no gRPC code to generate.

use std::path::Path;
use std::process::Command;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=migrations");
    for git_file in [".git/HEAD", ".git/refs/heads"] {
        if Path::new(git_file).exists() {
            println!("cargo:rerun-if-changed={git_file}");
        }
    }

    #[cfg(feature = "server")]
    compile_protos()?;

    let sha = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=REBOUND_GIT_SHA={sha}");
    Ok(())
}

#[cfg(feature = "server")]
fn compile_protos() -> Result<(), Box<dyn std::error::Error>> {
    use prost::Message;
    use std::path::PathBuf;

    let mut protos: Vec<PathBuf> = std::fs::read_dir("proto/rebound/v1")?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    protos.sort();

    let fds = protox::Compiler::new(["proto"])?
        .include_source_info(true)
        .include_imports(true)
        .open_files(&protos)?
        .file_descriptor_set();

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("rebound_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    Ok(())
}
