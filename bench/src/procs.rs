//! Child processes the benchmark starts (the simulated platform, gateways,
//! nginx, redis-server): each is stopped when its guard drops — on success,
//! on error and on Ctrl-C alike — and every live child's pid is kept in a
//! file that `scripts/bench` kills on exit in case this process itself dies
//! without unwinding.

use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The file listing the pids of running children, one per line.
#[derive(Debug)]
pub struct Registry {
    path: PathBuf,
    pids: Mutex<Vec<u32>>,
}

impl Registry {
    /// A registry writing `path` (emptied now).
    pub fn new(path: PathBuf) -> anyhow::Result<Arc<Registry>> {
        std::fs::write(&path, "").with_context(|| format!("writing {}", path.display()))?;
        Ok(Arc::new(Registry {
            path,
            pids: Mutex::new(Vec::new()),
        }))
    }

    fn update(&self, f: impl FnOnce(&mut Vec<u32>)) {
        if let Ok(mut pids) = self.pids.lock() {
            f(&mut pids);
            let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
            if let Err(e) = std::fs::write(&self.path, text) {
                eprintln!("bench: cannot write {}: {e}", self.path.display());
            }
        }
    }
}

/// A running child process, stopped (SIGTERM, then SIGKILL after 5 s) when
/// dropped.
#[derive(Debug)]
pub struct Proc {
    /// Short name for messages.
    pub name: String,
    /// Where its stderr (and stdout unless piped) goes.
    pub log: PathBuf,
    child: Child,
    registry: Arc<Registry>,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr appended to `log` (unless the
    /// caller already set stdout to a pipe, `piped_stdout`).
    pub fn spawn(
        name: &str,
        cmd: &mut Command,
        log: &Path,
        piped_stdout: bool,
        registry: &Arc<Registry>,
    ) -> anyhow::Result<Proc> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        if !piped_stdout {
            cmd.stdout(file.try_clone()?);
        }
        cmd.stderr(file);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", cmd.get_program()))?;
        let pid = child.id();
        registry.update(|p| p.push(pid));
        Ok(Proc {
            name: name.to_owned(),
            log: log.to_owned(),
            child,
            registry: registry.clone(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's stdout pipe, when it was requested.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Fails when the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => anyhow::bail!(
                "{} exited ({status}); see {}",
                self.name,
                self.log.display()
            ),
            Err(e) => anyhow::bail!("{}: {e}", self.name),
        }
    }

    /// Waits until `addr` accepts TCP connections (at most `limit`),
    /// failing early if the process exits.
    pub async fn wait_listening(
        &mut self,
        addr: SocketAddr,
        limit: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            self.check_alive()?;
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "{} did not listen on {addr} within {limit:?}; see {}",
                    self.name,
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the process (the same as dropping the guard).
    pub fn stop(self) {}

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.child.id().to_string();
        // The shell's own `kill`: a bare Debian has no /bin/kill (procps).
        let _ = Command::new("sh")
            .args(["-c", "kill -TERM \"$0\"", &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("bench: {} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate();
        let pid = self.child.id();
        self.registry.update(|p| p.retain(|x| *x != pid));
    }
}

/// A free TCP port on 127.0.0.1 (bound then released; the child binds it
/// a moment later).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(l.local_addr()?)
}
