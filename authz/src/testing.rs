//! Test support (feature `testing`): a throw-away `redis-server` on a free loopback
//! port, for this crate's and the gateway's integration tests.
//!
//! ```no_run
//! # fn main() -> Result<(), credgate_authz::testing::TestingError> {
//! let redis = credgate_authz::testing::RedisServer::start()?;
//! let url = redis.url(); // redis://127.0.0.1:PORT/
//! # Ok(()) }
//! ```
//!
//! The server runs without persistence (`--save '' --appendonly no`) and is killed
//! when the value is dropped. `redis-server` must be on `PATH` (or named by the
//! `REDIS_SERVER` environment variable); when it is not, [`RedisServer::start`]
//! fails with "redis-server not found: apt-get install -y redis-server", so a test
//! that needs it fails loudly rather than being skipped.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long [`RedisServer::start`] waits for `PING` to be answered.
pub const READY_DEADLINE: Duration = Duration::from_secs(10);

/// Why the test Redis could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestingError {
    /// `redis-server` is not installed.
    #[error("redis-server not found: apt-get install -y redis-server")]
    NotFound,
    /// It could not be spawned, exited early, or did not answer in time.
    #[error("redis-server on port {port}: {detail}")]
    Start {
        /// The port it was started on.
        port: u16,
        /// What went wrong.
        detail: String,
    },
}

/// A running `redis-server` child process, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    password: Option<String>,
    tls: Option<(u16, TlsFiles)>,
    /// For a node of a [`RedisCluster`].
    cluster: Option<ClusterNode>,
    child: Option<Child>,
}

/// What makes a [`RedisServer`] a node of a [`RedisCluster`].
#[derive(Debug, Clone)]
struct ClusterNode {
    /// The cluster bus port.
    bus_port: u16,
    /// The node file (`cluster-config-file`).
    node_file: PathBuf,
    /// For a bus over TLS: the certificate and key the node presents to
    /// the others.
    bus_client: Option<(PathBuf, PathBuf)>,
}

/// The server side of a TLS test Redis ([`RedisServer::start_tls`]).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA certificates client certificates must chain to (PEM).
    pub ca: PathBuf,
    /// Whether clients must present a certificate (`tls-auth-clients`).
    pub auth_clients: bool,
}

// === impl TlsFiles ===

impl TlsFiles {
    /// The dev PKI's server certificate and key (`credgate certs dev`, in
    /// `certs`), accepting client certificates that chain to `ca` (a path
    /// under `certs`, e.g. `ca.crt`).
    pub fn dev(certs: &Path, ca: &str, auth_clients: bool) -> Self {
        Self {
            cert: certs.join("server.crt"),
            key: certs.join("server.key"),
            ca: certs.join(ca),
            auth_clients,
        }
    }
}

/// Writes a fresh dev PKI (`credgate certs dev`) to `dir/certs` and
/// returns that directory.
pub fn dev_pki(dir: &Path) -> Result<PathBuf, TestingError> {
    let certs = dir.join("certs");
    credgate_certs::generate_dev_pki(&credgate_certs::DevPkiOptions {
        out: certs.clone(),
        force: false,
    })
    .map_err(|e| TestingError::Start {
        port: 0,
        detail: format!("dev PKI: {e}"),
    })?;
    Ok(certs)
}

// === impl RedisServer ===

impl RedisServer {
    /// Starts `redis-server` on a free port and waits (bounded) until it answers `PING`.
    pub fn start() -> Result<Self, TestingError> {
        Self::start_inner(None, None, None)
    }

    /// Like [`RedisServer::start`], also serving TLS on a second port
    /// ([`RedisServer::tls_url`]); the plain port stays open for readiness
    /// checks and test set-up.
    pub fn start_tls(files: TlsFiles) -> Result<Self, TestingError> {
        Self::start_inner(None, Some(files), None)
    }

    /// Like [`RedisServer::start`], requiring this password (`requirepass`):
    /// clients must `AUTH` first.
    pub fn start_with_password(password: &str) -> Result<Self, TestingError> {
        Self::start_inner(Some(password.to_owned()), None, None)
    }

    fn start_inner(
        password: Option<String>,
        tls: Option<TlsFiles>,
        cluster_dir: Option<(&Path, Option<&(PathBuf, PathBuf)>)>,
    ) -> Result<Self, TestingError> {
        let binary = find_binary().ok_or(TestingError::NotFound)?;
        let mut last = None;
        // A free port can be taken between probing and binding: try a few.
        for _ in 0..5 {
            let port = free_port().map_err(|e| TestingError::Start {
                port: 0,
                detail: e.to_string(),
            })?;
            let tls = match &tls {
                None => None,
                Some(files) => Some((
                    free_port().map_err(|e| TestingError::Start {
                        port: 0,
                        detail: e.to_string(),
                    })?,
                    files.clone(),
                )),
            };
            let cluster = match cluster_dir {
                None => None,
                Some((dir, bus_client)) => Some(ClusterNode {
                    bus_port: free_port().map_err(|e| TestingError::Start {
                        port: 0,
                        detail: e.to_string(),
                    })?,
                    node_file: dir.join(format!("nodes-{port}.conf")),
                    bus_client: bus_client.cloned(),
                }),
            };
            let mut server = Self {
                binary: binary.clone(),
                port,
                password: password.clone(),
                tls,
                cluster,
                child: None,
            };
            match server.restart() {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(TestingError::NotFound))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port replicas and Sentinels reach it on: its TLS port when it
    /// serves TLS.
    fn announced_port(&self) -> u16 {
        self.tls.as_ref().map_or(self.port, |(port, _)| *port)
    }

    /// `rediss://127.0.0.1:TLS_PORT/` for a server from
    /// [`RedisServer::start_tls`].
    pub fn tls_url(&self) -> Option<String> {
        self.tls
            .as_ref()
            .map(|(port, _)| format!("rediss://127.0.0.1:{port}/"))
    }

    /// Its data directory (`--dir`), removed on drop.
    fn data_dir(&self) -> PathBuf {
        std::env::temp_dir().join(format!(
            "credgate-redis-{}-{}",
            std::process::id(),
            self.port
        ))
    }

    /// Kills the server (SIGKILL) and waits for it to exit. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether a server is running (started and not stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// (Re)starts the server on the same port, empty, and waits until it answers `PING`.
    pub fn restart(&mut self) -> Result<(), TestingError> {
        self.stop();
        let port = self.port;
        let err = |detail: String| TestingError::Start { port, detail };
        let mut cmd = Command::new(&self.binary);
        // Its own data directory: a replica's full sync writes the RDB it
        // receives there (not into the test's working directory).
        let dir = self.data_dir();
        std::fs::create_dir_all(&dir).map_err(|e| err(format!("create {}: {e}", dir.display())))?;
        cmd.args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(["--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "no"]);
        if let Some(pw) = &self.password {
            cmd.args(["--requirepass", pw]);
        }
        if let Some(ClusterNode {
            bus_port,
            node_file,
            bus_client,
        }) = &self.cluster
        {
            // A fresh node every (re)start: forget the previous node file.
            let _ = std::fs::remove_file(node_file);
            cmd.args(["--cluster-enabled", "yes"])
                .args(["--cluster-node-timeout", "1000"])
                .args(["--cluster-port", &bus_port.to_string()])
                .arg("--cluster-config-file")
                .arg(node_file);
            if self.tls.is_some() {
                // The bus over TLS; TLS clients are told the TLS ports. A
                // node connecting to another presents a client certificate.
                cmd.args(["--tls-cluster", "yes"]);
                if let Some((cert, key)) = bus_client {
                    cmd.arg("--tls-client-cert-file")
                        .arg(cert)
                        .arg("--tls-client-key-file")
                        .arg(key);
                }
            }
        }
        if let Some((tls_port, files)) = &self.tls {
            cmd.args(["--tls-port", &tls_port.to_string()])
                .arg("--tls-cert-file")
                .arg(&files.cert)
                .arg("--tls-key-file")
                .arg(&files.key)
                .arg("--tls-ca-cert-file")
                .arg(&files.ca)
                .args([
                    "--tls-auth-clients",
                    if files.auth_clients { "yes" } else { "no" },
                ]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| err(format!("spawn {}: {e}", self.binary.display())))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if ping(port, self.password.as_deref()) {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(err(format!("exited early with {status}")));
                }
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(err(format!("no PONG within {READY_DEADLINE:?}")));
            }
            // Poll interval of the readiness check (bounded by the deadline above).
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(self.data_dir());
    }
}

/// A throw-away Redis Cluster: `n` primaries on loopback, the 16,384
/// slots split evenly between them, killed (and their node files removed)
/// on drop.
#[derive(Debug)]
pub struct RedisCluster {
    /// The primaries, then (with replicas) one replica per primary.
    nodes: Vec<RedisServer>,
    /// How many of `nodes` are primaries.
    primaries: usize,
    /// The first and last slot of each primary, in node order.
    slots: Vec<(u16, u16)>,
    dir: PathBuf,
}

/// How long [`RedisCluster::start`] waits for the cluster to report `ok`.
pub const CLUSTER_READY_DEADLINE: Duration = Duration::from_secs(20);

// === impl RedisCluster ===

impl RedisCluster {
    /// Starts `n` (≥ 1) cluster-enabled servers, assigns each a contiguous
    /// share of the slots, introduces them to each other (`CLUSTER MEET`)
    /// and waits (bounded) until every node reports `cluster_state:ok` and
    /// knows all `n`.
    pub fn start(n: usize) -> Result<Self, TestingError> {
        Self::start_inner(n, false, None)
    }

    /// Like [`RedisCluster::start`], each of the `n` primaries with one
    /// replica (node `n + i` replicates node `i`), so that a primary's
    /// death is followed by its replica's promotion (node timeout 1 s).
    pub fn start_with_replicas(n: usize) -> Result<Self, TestingError> {
        Self::start_inner(n, true, None)
    }

    /// Like [`RedisCluster::start`], every node also serving TLS (and the
    /// cluster bus over TLS, `tls-cluster yes`, each node presenting
    /// `bus_client` — a certificate for client authentication and its key,
    /// under `files.ca` — to the others); [`RedisCluster::tls_urls`].
    pub fn start_tls(
        n: usize,
        files: TlsFiles,
        bus_client: (PathBuf, PathBuf),
    ) -> Result<Self, TestingError> {
        Self::start_inner(n, false, Some((files, bus_client)))
    }

    fn start_inner(
        n: usize,
        replicas: bool,
        tls: Option<(TlsFiles, (PathBuf, PathBuf))>,
    ) -> Result<Self, TestingError> {
        let n = n.max(1);
        let dir = std::env::temp_dir().join(format!(
            "credgate-redis-cluster-{}-{}",
            std::process::id(),
            free_port().unwrap_or(0)
        ));
        let start_err = |detail: String| TestingError::Start { port: 0, detail };
        std::fs::create_dir_all(&dir).map_err(|e| start_err(e.to_string()))?;
        let mut cluster = Self {
            nodes: Vec::with_capacity(n),
            primaries: n,
            slots: Vec::with_capacity(n),
            dir,
        };
        for _ in 0..(if replicas { 2 * n } else { n }) {
            let node = RedisServer::start_inner(
                None,
                tls.as_ref().map(|(files, _)| files.clone()),
                Some((&cluster.dir, tls.as_ref().map(|(_, client)| client))),
            )?;
            cluster.nodes.push(node);
        }
        cluster.form()?;
        Ok(cluster)
    }

    /// Kills every node and starts each again on its port, empty, then
    /// forms the cluster anew (a total outage and a rebuild).
    pub fn restart_all(&mut self) -> Result<(), TestingError> {
        self.nodes.iter_mut().for_each(RedisServer::stop);
        for node in &mut self.nodes {
            node.restart()?;
        }
        self.form()
    }

    /// Splits the slots over the nodes, joins them, and waits (bounded)
    /// until every node reports `cluster_state:ok` and knows all of them.
    fn form(&mut self) -> Result<(), TestingError> {
        let n = self.primaries;
        let slots = 16384 / n;
        self.slots.clear();
        for (i, node) in self.nodes[..n].iter().enumerate() {
            let first = i * slots;
            let last = if i + 1 == n { 16383 } else { first + slots - 1 };
            self.slots.push((
                u16::try_from(first).unwrap_or(u16::MAX),
                u16::try_from(last).unwrap_or(u16::MAX),
            ));
            node_command(
                node.port,
                redis::cmd("CLUSTER")
                    .arg("ADDSLOTSRANGE")
                    .arg(first)
                    .arg(last),
            )?;
        }
        let first = self.nodes[0].port;
        for node in &self.nodes[1..] {
            let bus = node.cluster.as_ref().map_or(0, |c| c.bus_port);
            node_command(
                first,
                redis::cmd("CLUSTER")
                    .arg("MEET")
                    .arg("127.0.0.1")
                    .arg(node.port)
                    .arg(bus),
            )?;
        }
        let total = self.nodes.len();
        let known = format!("cluster_known_nodes:{total}");
        self.wait_until("every node knows every other", |info| info.contains(&known))?;
        for (i, replica) in self.nodes[n..].iter().enumerate() {
            let id: String = node_query(self.nodes[i].port, redis::cmd("CLUSTER").arg("MYID"))?;
            node_command(replica.port, redis::cmd("CLUSTER").arg("REPLICATE").arg(id))?;
        }
        self.wait_until("the cluster is ok", |info| {
            info.contains("cluster_state:ok") && info.contains(&known)
        })?;
        // Replicas in sync, so that a failover keeps what was written.
        for replica in &self.nodes[n..] {
            let port = replica.port;
            let deadline = Instant::now() + CLUSTER_READY_DEADLINE;
            while !node_query::<String>(port, redis::cmd("INFO").arg("replication"))
                .is_ok_and(|i| i.contains("master_link_status:up"))
            {
                if Instant::now() >= deadline {
                    return Err(TestingError::Start {
                        port,
                        detail: "the replica did not sync".into(),
                    });
                }
                // Poll interval (bounded by the deadline above).
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Waits (bounded) until every running node's `CLUSTER INFO` passes.
    fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> Result<(), TestingError> {
        let deadline = Instant::now() + CLUSTER_READY_DEADLINE;
        loop {
            let ready = self
                .nodes
                .iter()
                .filter(|n| n.is_running())
                .all(|node| node_info(node.port).is_some_and(|info| ok(&info)));
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(TestingError::Start {
                    port: self.nodes[0].port,
                    detail: format!("{what}: not within {CLUSTER_READY_DEADLINE:?}"),
                });
            }
            // Poll interval of the readiness check (bounded by the deadline above).
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills primary `i` and waits (bounded) until its replica (node
    /// `primaries + i`) has been promoted and the cluster is ok again.
    pub fn fail_over(&mut self, i: usize) -> Result<(), TestingError> {
        let Some(replica) = self.nodes.get(self.primaries + i).map(RedisServer::port) else {
            return Err(TestingError::Start {
                port: 0,
                detail: format!("primary {i} has no replica"),
            });
        };
        self.stop_node(i);
        let deadline = Instant::now() + CLUSTER_READY_DEADLINE;
        while !node_query::<String>(replica, redis::cmd("INFO").arg("replication"))
            .is_ok_and(|info| info.contains("role:master"))
        {
            if Instant::now() >= deadline {
                return Err(TestingError::Start {
                    port: replica,
                    detail: "the replica was not promoted".into(),
                });
            }
            // Poll interval (bounded by the deadline above).
            std::thread::sleep(Duration::from_millis(20));
        }
        self.wait_until("the cluster is ok again", |info| {
            info.contains("cluster_state:ok")
        })
    }

    /// `redis://127.0.0.1:PORT/` of each node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// `rediss://127.0.0.1:TLS_PORT/` of each node of a cluster from
    /// [`RedisCluster::start_tls`] (empty otherwise).
    pub fn tls_urls(&self) -> Vec<String> {
        self.nodes.iter().filter_map(RedisServer::tls_url).collect()
    }

    /// The port of each node.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(RedisServer::port).collect()
    }

    /// Kills node `i` (SIGKILL); the others keep serving their slots until
    /// the cluster marks it failed. Out-of-range `i` does nothing.
    pub fn stop_node(&mut self, i: usize) {
        if let Some(node) = self.nodes.get_mut(i) {
            node.stop();
        }
    }

    /// The index of the node owning `key`'s slot (`CLUSTER KEYSLOT`, asked
    /// of the first node still running).
    pub fn node_of(&self, key: &str) -> Result<usize, TestingError> {
        let node =
            self.nodes
                .iter()
                .find(|n| n.is_running())
                .ok_or_else(|| TestingError::Start {
                    port: 0,
                    detail: "no node is running".into(),
                })?;
        let slot: u16 = node_query(node.port, redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))?;
        self.slots
            .iter()
            .position(|(first, last)| (*first..=*last).contains(&slot))
            .ok_or_else(|| TestingError::Start {
                port: node.port,
                detail: format!("slot {slot} has no node"),
            })
    }

    /// The number of keys each node holds (`DBSIZE`), in node order.
    pub fn keys_per_node(&self) -> Result<Vec<u64>, TestingError> {
        self.nodes
            .iter()
            .map(|node| node_query(node.port, &redis::cmd("DBSIZE")))
            .collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.nodes.iter_mut().for_each(RedisServer::stop);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs one command on the node at `port` (a plain connection, not a
/// cluster client), expecting `OK`.
fn node_command(port: u16, cmd: &redis::Cmd) -> Result<(), TestingError> {
    node_query(port, cmd)
}

/// Runs one command on the node at `port` (a plain connection, not a
/// cluster client) and returns its reply.
fn node_query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> Result<T, TestingError> {
    let err = |detail: String| TestingError::Start { port, detail };
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .map_err(|e| err(e.to_string()))?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|e| err(e.to_string()))?;
    cmd.query(&mut conn).map_err(|e| err(e.to_string()))
}

/// `CLUSTER INFO` of the node at `port`, if it answers.
fn node_info(port: u16) -> Option<String> {
    node_query(port, redis::cmd("CLUSTER").arg("INFO")).ok()
}

/// Whether something on `port` answers `PING` with `+PONG`.
fn ping(port: u16, password: Option<&str>) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut want: Vec<u8> = Vec::new();
    if let Some(pw) = password {
        // RESP array form: the password may hold any byte.
        let auth = format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{pw}\r\n", pw.len());
        if stream.write_all(auth.as_bytes()).is_err() {
            return false;
        }
        want.extend_from_slice(b"+OK\r\n");
    }
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    want.extend_from_slice(b"+PONG\r\n");
    let mut buf = vec![0u8; want.len()];
    stream.read_exact(&mut buf).is_ok() && buf == want
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn find_binary() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("REDIS_SERVER") {
        let path = PathBuf::from(explicit);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
}

/// A throw-away Redis Sentinel set-up: a primary, one replica of it and
/// one Sentinel monitoring them as [`RedisSentinel::MASTER`] (quorum 1,
/// down after 500 ms), all on loopback, killed on drop. With
/// [`RedisSentinel::start_tls`] the primary, the replica and the Sentinel
/// also serve TLS, replicate and monitor over TLS, and the Sentinel names
/// the primary's TLS port.
#[derive(Debug)]
pub struct RedisSentinel {
    primary: RedisServer,
    replica: RedisServer,
    sentinel: Option<Child>,
    sentinel_port: u16,
    /// The Sentinel's TLS port, for a TLS set-up.
    sentinel_tls_port: Option<u16>,
    /// The Sentinel's `requirepass`, if any.
    sentinel_password: Option<String>,
    dir: PathBuf,
}

/// How long [`RedisSentinel`] waits for the set-up or a failover.
pub const SENTINEL_DEADLINE: Duration = Duration::from_secs(30);

// === impl RedisSentinel ===

impl RedisSentinel {
    /// The name the Sentinel monitors the primary under.
    pub const MASTER: &'static str = "credgate";

    /// Starts the primary, the replica (in sync) and the Sentinel, and
    /// waits (bounded) until the Sentinel names the primary and knows the
    /// replica.
    pub fn start() -> Result<Self, TestingError> {
        Self::start_inner(None, None)
    }

    /// Like [`RedisSentinel::start`], the Sentinel requiring `password`
    /// (`requirepass`) of its clients.
    pub fn start_with_sentinel_password(password: &str) -> Result<Self, TestingError> {
        Self::start_inner(Some(password), None)
    }

    /// Like [`RedisSentinel::start`], everything also over TLS with
    /// `files` (the servers' certificate, key and client CA): the replica
    /// replicates and the Sentinel monitors over TLS (`tls-replication
    /// yes`, presenting `client`'s certificate and key), so the Sentinel
    /// names TLS ports; [`RedisSentinel::sentinel_tls_url`] and
    /// [`RedisSentinel::primary_tls_url`]. The plain ports stay open for
    /// the helpers' own checks.
    pub fn start_tls(files: TlsFiles, client: (PathBuf, PathBuf)) -> Result<Self, TestingError> {
        Self::start_inner(None, Some((files, client)))
    }

    fn start_inner(
        sentinel_password: Option<&str>,
        tls: Option<(TlsFiles, (PathBuf, PathBuf))>,
    ) -> Result<Self, TestingError> {
        let binary = find_binary().ok_or(TestingError::NotFound)?;
        let (primary, replica) = match &tls {
            None => (RedisServer::start()?, RedisServer::start()?),
            Some((files, (cert, key))) => {
                let (primary, replica) = (
                    RedisServer::start_tls(files.clone())?,
                    RedisServer::start_tls(files.clone())?,
                );
                for node in [&primary, &replica] {
                    for (name, value) in [
                        ("tls-replication", "yes".to_owned()),
                        ("tls-client-cert-file", cert.display().to_string()),
                        ("tls-client-key-file", key.display().to_string()),
                    ] {
                        node_command(
                            node.port,
                            redis::cmd("CONFIG").arg("SET").arg(name).arg(value),
                        )?;
                    }
                }
                (primary, replica)
            }
        };
        node_command(
            replica.port,
            redis::cmd("REPLICAOF")
                .arg("127.0.0.1")
                .arg(primary.announced_port()),
        )?;
        wait_for(replica.port, "the replica did not sync", || {
            node_query::<String>(replica.port, redis::cmd("INFO").arg("replication"))
                .is_ok_and(|i| i.contains("master_link_status:up"))
        })?;
        let err = |detail: String| TestingError::Start { port: 0, detail };
        let sentinel_port = free_port().map_err(|e| err(e.to_string()))?;
        let sentinel_tls_port = match &tls {
            None => None,
            Some(_) => Some(free_port().map_err(|e| err(e.to_string()))?),
        };
        let dir = std::env::temp_dir().join(format!(
            "credgate-redis-sentinel-{}-{sentinel_port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
        let conf = dir.join("sentinel.conf");
        let master = Self::MASTER;
        let mut text = format!(
            "port {sentinel_port}\nbind 127.0.0.1\nprotected-mode no\ndir {}\n\
             sentinel monitor {master} 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds {master} 500\n\
             sentinel failover-timeout {master} 5000\n",
            dir.display(),
            primary.announced_port(),
        );
        if let Some(pw) = sentinel_password {
            text.push_str(&format!("requirepass {pw}\n"));
        }
        if let (Some(port), Some((files, (cert, key)))) = (sentinel_tls_port, &tls) {
            text.push_str(&format!(
                "tls-port {port}\ntls-cert-file {}\ntls-key-file {}\n\
                 tls-ca-cert-file {}\ntls-auth-clients {}\ntls-replication yes\n\
                 tls-client-cert-file {}\ntls-client-key-file {}\n",
                files.cert.display(),
                files.key.display(),
                files.ca.display(),
                if files.auth_clients { "yes" } else { "no" },
                cert.display(),
                key.display(),
            ));
        }
        std::fs::write(&conf, text).map_err(|e| err(e.to_string()))?;
        let child = Command::new(&binary)
            .arg(&conf)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| err(format!("spawn the sentinel: {e}")))?;
        let set_up = Self {
            primary,
            replica,
            sentinel: Some(child),
            sentinel_port,
            sentinel_tls_port,
            sentinel_password: sentinel_password.map(str::to_owned),
            dir,
        };
        let primary_port = set_up.primary.announced_port();
        wait_for(sentinel_port, "the sentinel did not see the set-up", || {
            set_up.named_primary() == Some(primary_port)
                && set_up
                    .ask_sentinel::<Vec<redis::Value>>(
                        redis::cmd("SENTINEL").arg("REPLICAS").arg(master),
                    )
                    .is_ok_and(|r| !r.is_empty())
        })?;
        Ok(set_up)
    }

    /// `redis://127.0.0.1:PORT/` of the Sentinel.
    pub fn sentinel_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.sentinel_port)
    }

    /// The primary's URL (a template for credentials and database: the
    /// address comes from the Sentinel).
    pub fn primary_url(&self) -> String {
        self.primary.url()
    }

    /// `rediss://127.0.0.1:TLS_PORT/` of the Sentinel of a
    /// [`RedisSentinel::start_tls`] set-up.
    pub fn sentinel_tls_url(&self) -> Option<String> {
        self.sentinel_tls_port
            .map(|port| format!("rediss://127.0.0.1:{port}/"))
    }

    /// The primary's `rediss://` URL of a [`RedisSentinel::start_tls`]
    /// set-up (a template, as [`RedisSentinel::primary_url`]).
    pub fn primary_tls_url(&self) -> Option<String> {
        self.primary.tls_url()
    }

    /// Keys held by the primary and by the replica (`DBSIZE`); the killed
    /// one reads 0.
    pub fn keys(&self) -> (u64, u64) {
        let count = |s: &RedisServer| {
            if s.is_running() {
                node_query(s.port, &redis::cmd("DBSIZE")).unwrap_or(0)
            } else {
                0
            }
        };
        (count(&self.primary), count(&self.replica))
    }

    /// Kills the primary and waits (bounded) until the Sentinel names the
    /// replica as the new primary and the replica says so.
    pub fn fail_over(&mut self) -> Result<(), TestingError> {
        self.primary.stop();
        let (replica, announced) = (self.replica.port, self.replica.announced_port());
        wait_for(replica, "the sentinel did not promote the replica", || {
            self.named_primary() == Some(announced)
                && node_query::<String>(replica, redis::cmd("INFO").arg("replication"))
                    .is_ok_and(|i| i.contains("role:master"))
        })
    }

    /// The port of the primary the Sentinel names (a TLS port in a TLS
    /// set-up).
    fn named_primary(&self) -> Option<u16> {
        let addr: Vec<String> = self
            .ask_sentinel(
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(Self::MASTER),
            )
            .ok()?;
        addr.get(1)?.parse().ok()
    }

    /// Runs `cmd` on the Sentinel (with its password).
    fn ask_sentinel<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, TestingError> {
        let port = self.sentinel_port;
        let err = |detail: String| TestingError::Start { port, detail };
        let url = match &self.sentinel_password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{port}/"),
            None => format!("redis://127.0.0.1:{port}/"),
        };
        let client = redis::Client::open(url).map_err(|e| err(e.to_string()))?;
        let mut conn = client
            .get_connection_with_timeout(Duration::from_secs(2))
            .map_err(|e| err(e.to_string()))?;
        cmd.query(&mut conn).map_err(|e| err(e.to_string()))
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        if let Some(mut child) = self.sentinel.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `ok` (bounded by [`SENTINEL_DEADLINE`]).
fn wait_for(port: u16, what: &str, ok: impl Fn() -> bool) -> Result<(), TestingError> {
    let deadline = Instant::now() + SENTINEL_DEADLINE;
    while !ok() {
        if Instant::now() >= deadline {
            return Err(TestingError::Start {
                port,
                detail: what.to_owned(),
            });
        }
        // Poll interval (bounded by the deadline above).
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
