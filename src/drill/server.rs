//! The scratch server of a drill: a `vault` or `bao` process on 127.0.0.1 with Raft storage in
//! a private directory under `temp_dir`, stopped and removed on every path.
//!
//! The directory is `.vault-raft-snapshot-drill-<pid>-<random>` (mode 0700). While the drill
//! runs, it holds an exclusive `flock` on the `lock` file inside, and the server's PID is in
//! `server.pid`. A drill killed outright (SIGKILL, OOM) cannot clean up: its server dies with
//! it (`PR_SET_PDEATHSIG`), and the next drill's start ([`remove_leftovers`]) finds a
//! directory whose lock nobody holds, stops a server still running from it, and removes it.
//! The config file the server reads holds no secret: unseal keys and tokens go over its API.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use log::{debug, info, warn};

use crate::shutdown::StopFlag;

/// How every scratch directory's name starts.
pub const DIR_PREFIX: &str = ".vault-raft-snapshot-drill-";
const LOCK: &str = "lock";
const PID: &str = "server.pid";
/// How long a stopped server gets to exit before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A running scratch server (stopped, and its directory removed, when dropped).
pub struct ScratchServer {
    dir: PathBuf,
    _lock: File,
    child: Option<Child>,
    addr: String,
    log: PathBuf,
}

/// The PID in a scratch directory's name.
fn owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(DIR_PREFIX)?;
    let (pid, random) = rest.split_once('-')?;
    if random.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

fn flock(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock(2) on a descriptor we own.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

fn running(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// Removes what killed drills left in `temp_dir`: every scratch directory whose lock nobody
/// holds, after stopping a server that still runs from it. Returns the directories removed.
pub fn remove_leftovers(temp_dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(temp_dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(owner) else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        let lock = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(dir.join(LOCK));
        let _held = match lock {
            Ok(file) if flock(&file) => file,
            Ok(_) => continue,
            // No lock file: the drill died before it made one, or it is being made now.
            Err(_) if pid == std::process::id() || running(pid) => continue,
            Err(_) => match File::open(&dir) {
                Ok(f) => f,
                Err(_) => continue,
            },
        };
        stop_orphan(&dir);
        match fs::remove_dir_all(&dir) {
            Ok(()) => {
                info!(
                    "Removed {}, the scratch server directory of a drill (PID {pid}) that was killed",
                    dir.display()
                );
                removed.push(dir);
            }
            Err(e) => warn!("cannot remove {}: {e}", dir.display()),
        }
    }
    removed
}

/// Kills the server named in `dir`'s PID file if that process still runs from `dir`.
fn stop_orphan(dir: &Path) {
    let Some(pid) = fs::read_to_string(dir.join(PID))
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    else {
        return;
    };
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let config = dir.join("server.hcl");
    let needle = config.to_string_lossy();
    if !String::from_utf8_lossy(&cmdline).contains(needle.as_ref()) {
        return;
    }
    // SAFETY: kill(2) on a process verified to run our scratch config.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let started = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() && started.elapsed() < STOP_GRACE {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Two distinct free ports on 127.0.0.1 (both held while the second is found).
fn free_ports() -> Result<(u16, u16)> {
    let bind = || TcpListener::bind("127.0.0.1:0").context("cannot find a free port on 127.0.0.1");
    let (first, second) = (bind()?, bind()?);
    Ok((first.local_addr()?.port(), second.local_addr()?.port()))
}

/// How many times a scratch server that lost its port to another process is started again.
const PORT_ATTEMPTS: u32 = 3;

/// The inodes of the sockets listening on 127.0.0.1:`port` in a `/proc/net/tcp` table.
fn listener_inodes(table: &str, port: u16) -> Vec<String> {
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // 0A: TCP_LISTEN.
            (fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A"))
                .then(|| fields.get(9).map(|inode| (*inode).to_string()))
                .flatten()
        })
        .collect()
}

/// Whether process `pid` holds the socket that listens on 127.0.0.1:`port`: that a
/// connection to the port succeeds says only that *something* listens there, and the port,
/// free when it was chosen, may have been taken since by another process. `None` when this
/// cannot be read: no `/proc/net/tcp`, or the process's descriptors are closed to us (a
/// `vault` binary with file capabilities, as its packages install it, is not dumpable).
fn owns_listener(pid: u32, port: u16) -> Option<bool> {
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    let inodes = listener_inodes(&table, port);
    if inodes.is_empty() {
        return Some(false);
    }
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(fds.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|target| {
            inodes
                .iter()
                .any(|inode| target.as_os_str() == format!("socket:[{inode}]").as_str())
        })
    }))
}

/// How one start of the scratch server ended.
enum Launch {
    /// It listens on its API port.
    Listening,
    /// It exited because one of its ports had been taken since it was chosen.
    PortTaken,
    /// It exited for another reason (in its log).
    Exited,
}

impl ScratchServer {
    /// Makes the private directory, writes the config (`seal`: the operator's stanza, if any),
    /// starts `binary server` and waits until it listens (or `stop` is raised).
    ///
    /// # Errors
    /// When the directory cannot be made, the binary cannot be started, or the server exits
    /// or does not listen before the stop.
    pub fn start(
        binary: &Path,
        temp_dir: &Path,
        seal: Option<&str>,
        stop: &StopFlag,
    ) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        // Private from its creation: the Raft data of the restored cluster goes in it.
        let made = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(temp_dir)
            .with_context(|| {
                format!(
                    "cannot create the scratch server's directory in {}",
                    temp_dir.display()
                )
            })?;
        let dir = made.keep();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
        let lock = File::create(dir.join(LOCK))
            .with_context(|| format!("cannot create {}", dir.join(LOCK).display()))?;
        flock(&lock);
        let mut server = ScratchServer {
            log: dir.join("server.log"),
            dir,
            _lock: lock,
            child: None,
            addr: String::new(),
        };
        for attempt in 1..=PORT_ATTEMPTS {
            match server.launch(binary, seal, stop)? {
                Launch::Listening => return Ok(server),
                Launch::PortTaken if attempt < PORT_ATTEMPTS => {
                    debug!("the scratch server's port was taken; starting it again on others");
                }
                Launch::PortTaken | Launch::Exited => break,
            }
        }
        let status = server
            .exited()
            .map_or_else(|| "not running".to_string(), |s| s.to_string());
        bail!(
            "the scratch server exited ({status}) before it listened: {}",
            server.log_tail()
        )
    }

    /// Writes the config with two free ports, starts the server in a fresh data directory
    /// and waits until it listens on its API port, or exits (why: [`Launch`]).
    fn launch(&mut self, binary: &Path, seal: Option<&str>, stop: &StopFlag) -> Result<Launch> {
        let (api, cluster) = free_ports()?;
        self.addr = format!("http://127.0.0.1:{api}");
        let data = self.dir.join("data");
        if data.exists() {
            fs::remove_dir_all(&data)
                .with_context(|| format!("cannot empty {}", data.display()))?;
        }
        fs::create_dir(&data).with_context(|| format!("cannot create {}", data.display()))?;
        let config = self.dir.join("server.hcl");
        let text = format!(
            r#"storage "raft" {{
  path = "{data}"
  node_id = "drill"
}}
listener "tcp" {{
  address = "127.0.0.1:{api}"
  cluster_address = "127.0.0.1:{cluster}"
  tls_disable = true
}}
api_addr = "http://127.0.0.1:{api}"
cluster_addr = "http://127.0.0.1:{cluster}"
disable_mlock = true
ui = false
{seal}
"#,
            data = data.display(),
            seal = seal.unwrap_or("")
        );
        fs::write(&config, text).with_context(|| format!("cannot write {}", config.display()))?;
        let log = File::create(&self.log)
            .with_context(|| format!("cannot create {}", self.log.display()))?;
        let mut command = Command::new(binary);
        command
            .arg("server")
            .arg(format!("-config={}", config.display()))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for var in ["VAULT_TOKEN", "BAO_TOKEN", "VAULT_ADDR", "BAO_ADDR"] {
            command.env_remove(var);
        }
        // SAFETY: prctl(2) only, between fork and exec: the server dies with the drill.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start the scratch server {}", binary.display()))?;
        let pid = child.id();
        self.child = Some(child);
        fs::write(self.dir.join(PID), format!("{pid}\n"))?;
        debug!("scratch server PID {pid} at {}", self.addr);
        loop {
            stop.check()?;
            if self.exited().is_some() {
                let log = self.log_tail();
                return Ok(if log.contains("address already in use") {
                    Launch::PortTaken
                } else {
                    Launch::Exited
                });
            }
            // Where ownership cannot be read, a connection is taken as the sign, as before.
            if TcpStream::connect(("127.0.0.1", api)).is_ok()
                && owns_listener(pid, api) != Some(false)
            {
                return Ok(Launch::Listening);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The scratch directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's PID.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the server ended, if it did.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The end of the server's log (its last lines), for an error message.
    #[must_use]
    pub fn log_tail(&self) -> String {
        let Ok(mut file) = File::open(&self.log) else {
            return String::new();
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(600)));
        let mut tail = String::new();
        let _ = file.read_to_string(&mut tail);
        crate::text::escape(tail.trim()).into_owned()
    }

    /// Stops the server and removes the directory. The server is killed (SIGKILL): its data
    /// is thrown away, and a graceful stop (seconds for Raft) would outlast the grace a
    /// shutdown signal leaves the command.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.dir.exists() {
            if let Err(e) = fs::remove_dir_all(&self.dir) {
                warn!(
                    "cannot remove the scratch directory {}: {e}",
                    self.dir.display()
                );
            }
        }
    }
}

impl Drop for ScratchServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_listening_socket_of_a_port_in_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
";
        assert_eq!(listener_inodes(table, 8080), ["4242"]);
        assert!(listener_inodes(table, 8081).is_empty(), "not on 127.0.0.1");
        assert!(listener_inodes(table, 8082).is_empty());
    }

    #[test]
    fn a_listener_is_owned_by_the_process_that_holds_it_only() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(owns_listener(std::process::id(), port), Some(true));
        // PID 1 (init, or this namespace's first process) does not hold it (or its
        // descriptors are closed to us).
        assert_ne!(owns_listener(1, port), Some(true));
        // A PID that does not exist: its descriptors cannot be read.
        assert_eq!(owns_listener(u32::MAX, port), None);
        drop(listener);
        assert_eq!(owns_listener(std::process::id(), port), Some(false));
    }

    #[test]
    fn two_free_ports_differ() {
        for _ in 0..50 {
            let (api, cluster) = free_ports().unwrap();
            assert_ne!(api, cluster);
        }
    }

    #[test]
    fn only_scratch_directory_names_have_an_owner() {
        assert_eq!(owner(".vault-raft-snapshot-drill-42-abc"), Some(42));
        for other in [
            ".vault-raft-snapshot-42-abc.tmp",
            ".vault-raft-snapshot-drill-x-abc",
            ".vault-raft-snapshot-drill-42-",
            "drill-42-abc",
        ] {
            assert_eq!(owner(other), None, "{other}");
        }
    }

    #[test]
    fn a_dead_drills_directory_is_removed_and_a_live_ones_kept() {
        let temp = tempfile::tempdir().unwrap();
        let dead = temp
            .path()
            .join(format!("{DIR_PREFIX}{}-dead", std::process::id()));
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join(LOCK), "").unwrap();
        fs::write(dead.join("x"), "y").unwrap();
        let live = temp
            .path()
            .join(format!("{DIR_PREFIX}{}-live", std::process::id()));
        fs::create_dir(&live).unwrap();
        let held = File::create(live.join(LOCK)).unwrap();
        assert!(flock(&held));
        assert_eq!(remove_leftovers(temp.path()), [dead]);
        assert!(live.exists());
        drop(held);
        assert_eq!(remove_leftovers(temp.path()), [live]);
    }
}
