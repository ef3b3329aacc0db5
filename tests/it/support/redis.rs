//! A real `redis-server` on 127.0.0.1 for the Redis dedupe store tests: no persistence, a free port,
//! killed when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh server may take to answer PING.
const READY_WITHIN: Duration = Duration::from_secs(10);
/// How often to PING while waiting.
const POLL: Duration = Duration::from_millis(25);

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
    /// Holds the server's working directory and log file.
    dir: tempfile::TempDir,
}

/// The `redis-server` binary: `$REDIS_SERVER`, else `/usr/bin/redis-server`, else the one on `PATH`.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("REDIS_SERVER") {
        return PathBuf::from(path);
    }
    let usual = PathBuf::from("/usr/bin/redis-server");
    if usual.is_file() {
        usual
    } else {
        PathBuf::from("redis-server")
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub use crate::support::free_port;

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub fn start() -> RedisServer {
        // Another process may take the free port between our probe and redis' bind: try a few ports.
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(free_port(), None) {
                Ok(server) => return server,
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// Starts a server on `port` (e.g. the port of a server that was stopped).
    pub fn start_on(port: u16) -> RedisServer {
        Self::try_start(port, None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a server on `port` that requires `password` (`requirepass`).
    pub fn start_with_password(port: u16, password: &str) -> RedisServer {
        Self::try_start(port, Some(password)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start(port: u16, password: Option<&str>) -> Result<RedisServer, String> {
        let dir = tempfile::tempdir().expect("temporary directory for redis-server");
        let log = dir.path().join("redis.log");
        let mut command = Command::new(binary());
        command
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary().display()))?;
        let mut server = RedisServer {
            child: Some(child),
            port,
            password: password.map(str::to_owned),
            dir,
        };
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if server.answers_ping() {
                return Ok(server);
            }
            let exited = server.child.as_mut().unwrap().try_wait().unwrap();
            if let Some(status) = exited {
                server.child = None;
                return Err(format!(
                    "redis-server on port {port} exited with {status}: {}",
                    server.log()
                ));
            }
            if Instant::now() >= deadline {
                let log = server.log();
                server.stop();
                return Err(format!(
                    "redis-server on port {port} did not answer PING within {READY_WITHIN:?}: {log}"
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Whether the server answers `PING` with `+PONG` right now.
    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = connect(self.port) else {
            return false;
        };
        if let Some(password) = &self.password {
            if write_command(&mut stream, &["AUTH", password]).is_err() {
                return false;
            }
            let mut reader = BufReader::new(&stream);
            match read_reply(&mut reader) {
                Ok(Reply::Status(_)) => {}
                _ => return false,
            }
        }
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut line = String::new();
        let mut reader = BufReader::new(&stream);
        reader.read_line(&mut line).is_ok() && line.starts_with("+PONG")
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/0`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Sends one command (authenticating first when the server has a password) and returns the reply.
    pub fn command(&self, args: &[&str]) -> Reply {
        let mut stream = connect(self.port).expect("connect to redis-server");
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if let Some(password) = &self.password {
            write_command(&mut stream, &["AUTH", password]).unwrap();
            let reply = read_reply(&mut reader).unwrap();
            assert!(matches!(reply, Reply::Status(_)), "AUTH: {reply:?}");
        }
        write_command(&mut stream, args).unwrap();
        read_reply(&mut reader).unwrap()
    }

    /// Changes the password the server requires (`CONFIG SET requirepass`), as a rotation does.
    pub fn require_password(&mut self, password: &str) {
        let reply = self.command(&["CONFIG", "SET", "requirepass", password]);
        assert_eq!(reply, Reply::Status("OK".into()), "CONFIG SET requirepass");
        self.password = Some(password.to_owned());
    }

    /// The value of `key` (`GET`), or `None` when it does not exist.
    pub fn get(&self, key: &str) -> Option<String> {
        match self.command(&["GET", key]) {
            Reply::Bulk(value) => value,
            other => panic!("GET {key}: {other:?}"),
        }
    }

    /// The remaining time to live of `key` in milliseconds (`PTTL`: -2 when missing, -1 for none).
    pub fn pttl(&self, key: &str) -> i64 {
        match self.command(&["PTTL", key]) {
            Reply::Integer(ms) => ms,
            other => panic!("PTTL {key}: {other:?}"),
        }
    }

    /// Every key matching `pattern`, sorted.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        match self.command(&["KEYS", pattern]) {
            Reply::Array(items) => {
                let mut keys: Vec<String> = items
                    .into_iter()
                    .map(|item| match item {
                        Reply::Bulk(Some(key)) => key,
                        other => panic!("KEYS {pattern}: {other:?}"),
                    })
                    .collect();
                keys.sort();
                keys
            }
            other => panic!("KEYS {pattern}: {other:?}"),
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    /// Freezes the server (`SIGSTOP`): it keeps its port and accepts connections but answers nothing,
    /// like a Redis stuck in a long command or behind a broken network.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run again (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("redis-server is running").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}: {status}");
    }

    /// Kills the server and waits for it to exit; afterwards nothing listens on its port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    Ok(stream)
}

/// One RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR ...`
    Error(String),
    /// `:1`
    Integer(i64),
    /// `$3 abc`, or `$-1` (none).
    Bulk(Option<String>),
    /// `*2 ...`, or `*-1` (empty).
    Array(Vec<Reply>),
}

fn write_command(stream: &mut TcpStream, args: &[&str]) -> std::io::Result<()> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    stream.write_all(&out)
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let line = line.trim_end_matches("\r\n");
    if line.is_empty() {
        return Err(std::io::Error::other("empty RESP line"));
    }
    let (kind, rest) = line.split_at(1);
    let number = || -> std::io::Result<i64> {
        rest.parse()
            .map_err(|_| std::io::Error::other(format!("bad RESP line {line:?}")))
    };
    Ok(match kind {
        "+" => Reply::Status(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(number()?),
        "$" => match number()? {
            n if n < 0 => Reply::Bulk(None),
            n => {
                let mut data = vec![0u8; n as usize + 2];
                reader.read_exact(&mut data)?;
                data.truncate(n as usize);
                Reply::Bulk(Some(String::from_utf8_lossy(&data).into_owned()))
            }
        },
        "*" => match number()? {
            n if n < 0 => Reply::Array(Vec::new()),
            n => Reply::Array(
                (0..n)
                    .map(|_| read_reply(reader))
                    .collect::<std::io::Result<_>>()?,
            ),
        },
        _ => return Err(std::io::Error::other(format!("bad RESP line {line:?}"))),
    })
}
