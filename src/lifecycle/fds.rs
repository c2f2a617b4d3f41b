//! File descriptors that cross a process boundary during a hot restart, and the process
//! group that holds them in a successor: the only unsafe code of the crate.
//!
//! Three operations need the OS directly:
//! - clearing `FD_CLOEXEC` on a duplicate of a listening socket (or of the control socket),
//!   so that a spawned successor or the image after `execve` inherits it;
//! - adopting an inherited descriptor number as an [`OwnedFd`] in the successor;
//! - killing a successor's whole process group on rollback ([`kill_group`]), so that no
//!   process it started keeps the inherited descriptors open.
//!
//! Everything else (duplicating, pipes, socket pairs, spawning, `exec`) uses safe std APIs.
//! This module knows nothing about what the descriptors are used for.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// A duplicate of `fd` that survives `execve` (`FD_CLOEXEC` cleared), for a child to inherit.
///
/// The duplicate is open in this process too: drop it once the child has been spawned. Any
/// other child spawned while it exists inherits it as well, so keep that window short.
pub fn inheritable(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let dup = fd.try_clone_to_owned()?;
    set_cloexec(dup.as_fd(), false)?;
    Ok(dup)
}

/// Set or clear `FD_CLOEXEC` on `fd`.
pub fn set_cloexec(fd: BorrowedFd<'_>, close_on_exec: bool) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: `raw` comes from a live `BorrowedFd`, so it is open for this call; F_GETFD only
    // reads the descriptor flags.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = if close_on_exec { flags | libc::FD_CLOEXEC } else { flags & !libc::FD_CLOEXEC };
    if wanted == flags {
        return Ok(());
    }
    // SAFETY: as above; F_SETFD changes only the descriptor flags of this open descriptor.
    if unsafe { libc::fcntl(raw, libc::F_SETFD, wanted) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Take ownership of descriptor `raw`, inherited from the predecessor, and mark it
/// close-on-exec again so it does not leak into later children.
///
/// Fails when `raw` is a standard stream or not open. Call it once per inherited number.
pub fn adopt(raw: RawFd) -> io::Result<OwnedFd> {
    if raw <= 2 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd {raw} is a standard stream, not an inherited socket"),
        ));
    }
    // SAFETY: F_GETFD on an arbitrary number has no effect beyond reporting EBADF when it is
    // not open.
    if unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("inherited fd {raw} is not open: {err}")));
    }
    // SAFETY: the descriptor is open (checked above) and was passed to this process for its
    // exclusive use by the predecessor (the numbers travel in the handover environment);
    // nothing else in this process refers to it, and callers adopt each number once.
    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
    set_cloexec(owned.as_fd(), true)?;
    Ok(owned)
}

/// Send SIGKILL to every process in process group `pgid` (a successor spawned as the leader
/// of a group of its own, and whatever it started). `Ok` when the group no longer exists.
///
/// Refuses `pgid` 0 and 1: `killpg(0)` would hit this process's own group.
pub fn kill_group(pgid: u32) -> io::Result<()> {
    let pgid = match libc::pid_t::try_from(pgid) {
        Ok(pgid) if pgid > 1 => pgid,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("process group {pgid}: not a child's group"),
            ));
        }
    };
    // SAFETY: killpg only sends a signal; `pgid` is above 1, so it never names this process's
    // own group (0) or init. The caller passes the pid of a child it spawned as a group
    // leader: the kernel does not reuse that number while any member of the group lives.
    if unsafe { libc::killpg(pgid, libc::SIGKILL) } < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ESRCH) => Ok(()),
            _ => Err(err),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloexec(fd: BorrowedFd<'_>) -> bool {
        // SAFETY: test helper; `fd` is open for the duration of the call.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn inheritable_duplicate_has_cloexec_cleared_and_adopt_sets_it_again() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(cloexec(listener.as_fd()), "std opens sockets close-on-exec");
        let dup = inheritable(listener.as_fd()).unwrap();
        assert!(!cloexec(dup.as_fd()));
        assert!(cloexec(listener.as_fd()), "the original keeps its flag");
        let raw = std::os::fd::IntoRawFd::into_raw_fd(dup);
        let adopted = adopt(raw).unwrap();
        assert!(cloexec(adopted.as_fd()));
        let again = std::net::TcpListener::from(adopted);
        assert_eq!(again.local_addr().unwrap(), listener.local_addr().unwrap());
    }

    #[test]
    fn kill_group_kills_the_leader_and_its_children_and_refuses_our_own_group() {
        use std::os::unix::process::CommandExt;
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sleep 1000 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(leader.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let grandchild: i32 = line.trim().parse().unwrap();
        kill_group(leader.id()).unwrap();
        leader.wait().unwrap();
        // The grandchild is reparented and reaped by init once killed: wait for it to go.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/{grandchild}")).exists()
            && !std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
                .unwrap_or_default()
                .contains(") Z")
        {
            assert!(std::time::Instant::now() < deadline, "the grandchild survived");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(kill_group(leader.id()).is_ok(), "a group that is gone is not an error");
        assert_eq!(kill_group(0).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn adopt_refuses_standard_streams_and_closed_numbers() {
        assert_eq!(adopt(1).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        // Far above any descriptor a test process opens (and below RLIMIT_NOFILE's hard cap).
        let err = adopt(60_000).unwrap_err();
        assert!(err.to_string().contains("not open"), "{err}");
    }
}
