//! A throwaway PostgreSQL server for the tests, the demo and the benchmarks.
//!
//! It runs the PostgreSQL installed on this machine (see [`PgServer::available`])
//! as a fresh cluster in a temporary directory, listening on 127.0.0.1 only
//! on a free port, with trust authentication for user `postgres` and a
//! database `cc_cdr`. Durability is off (`fsync`, `synchronous_commit`,
//! `full_page_writes`): the data lives only as long as the test. Dropping it
//! stops PostgreSQL and removes the directory.
//!
//! initdb and postgres refuse to run as root, and tests and CI run as root:
//! then the server tools run as the `postgres` system user (via `runuser`),
//! which owns the temporary directory. Client tools (psql, createdb,
//! pg_isready) connect over TCP with `-U postgres` and run as whoever we are.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The database every server starts with; [`PgServer::dsn`] points to it.
pub const DATABASE: &str = "cc_cdr";
/// The database superuser, and the system user the server runs as under root.
const USER: &str = "postgres";
/// How long any start, stop or readiness wait may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Where Debian and Ubuntu put each major version's server binaries.
const LIB_ROOT: &str = "/usr/lib/postgresql";
/// Our settings, kept in their own file (included from postgresql.conf) so a
/// retry on another port rewrites one small file.
const SETTINGS_FILE: &str = "cc_cdr_test.conf";
/// Variables that would make libpq tools go elsewhere than we tell them.
const PG_ENV: [&str; 9] = [
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGSERVICE",
    "PGOPTIONS",
    "PGPASSFILE",
    "PGDATA",
];

/// A running throwaway PostgreSQL cluster; see the module documentation.
#[derive(Debug)]
pub struct PgServer {
    /// The server's bin dir (initdb, pg_ctl, postgres, usually psql too).
    bin: PathBuf,
    /// The temporary directory: `data/` (the cluster) and `server.log`.
    dir: PathBuf,
    port: u16,
    /// We are root: server tools run as the `postgres` user.
    as_postgres: bool,
    /// More settings, after ours (`enable_tls`).
    extra_settings: String,
}

impl PgServer {
    /// Whether a PostgreSQL can be run here: the server's bin dir, or the
    /// one-line reason why not (callers print `skipped: no PostgreSQL
    /// (<reason>)`). A later [`PgServer::start`] failure is a real failure.
    pub fn available() -> Result<PathBuf, String> {
        setup().map(|(bin, _)| bin)
    }

    /// Creates and starts a cluster in a new temporary directory named after
    /// `name` (for the reader of `/tmp`; any text is fine), with the database
    /// [`DATABASE`], and waits until it accepts connections.
    pub fn start(name: &str) -> Result<PgServer, String> {
        let (bin, as_postgres) = setup()?;
        // pid and counter: tests run in parallel threads and processes.
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dir = std::env::temp_dir().join(format!(
            "cc_cdr_pg_{}_{}_{}",
            std::process::id(),
            name,
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover from a killed run that had our pid.
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // From here on, Drop stops whatever ran and removes the directory.
        let mut server = PgServer {
            bin,
            dir,
            port: 0,
            as_postgres,
            extra_settings: String::new(),
        };
        server.init()?;
        server.start_on_free_port()?;
        server.create_database(DATABASE)?;
        Ok(server)
    }

    /// The URL of the [`DATABASE`] database, for tokio-postgres and psql.
    pub fn dsn(&self) -> String {
        self.dsn_for(DATABASE)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (fast shutdown: sessions are ended, the data stays)
    /// and waits until it is gone. Stopping a stopped server does nothing.
    pub fn stop(&mut self) -> Result<(), String> {
        if !self.pid_file().exists() {
            return Ok(());
        }
        self.pg_ctl_stop("fast")
    }

    /// Starts the server again, on the same port with the same data, and
    /// waits until it accepts connections; a running one is stopped first.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop()?;
        self.start_server()
    }

    /// Turns TLS on (`ssl = on`) with this certificate and key (PEM), and
    /// restarts the server. Plain connections are still accepted.
    pub fn enable_tls(&mut self, cert: &Path, key: &Path) -> Result<(), String> {
        for (from, name) in [(cert, "server.crt"), (key, "server.key")] {
            let to = self.data_dir().join(name);
            fs::copy(from, &to).map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
            fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .map_err(|e| format!("cannot chmod {}: {e}", to.display()))?;
            if self.as_postgres {
                run(Command::new("chown").arg(USER).arg(&to), "chown")?;
            }
        }
        self.extra_settings =
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n".to_owned();
        self.stop()?;
        self.write_settings()?;
        self.start_server()
    }

    /// Creates another database in this server and returns its URL, so each
    /// test can have its own. `name`: ASCII letters, digits and `_`.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "bad database name {name:?}: use 1 to 63 ASCII letters, digits and _"
            ));
        }
        let mut cmd = self.client("createdb");
        cmd.args(self.connection_args()).arg(name);
        run(&mut cmd, "createdb")?;
        Ok(self.dsn_for(name))
    }

    /// The last 40 lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = fs::read(self.log_path()).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn dsn_for(&self, database: &str) -> String {
        format!("postgresql://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Exists while a postmaster runs (or died without cleaning up).
    fn pid_file(&self) -> PathBuf {
        self.data_dir().join("postmaster.pid")
    }

    /// `-h -p -U` for the client tools: TCP only, since there are no sockets.
    fn connection_args(&self) -> [String; 6] {
        [
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
            "-U".into(),
            USER.into(),
        ]
    }

    /// A server tool (or `test`), as the `postgres` user when we
    /// are root. It runs in our directory: the postgres user may not be able
    /// to enter our current one, and initdb complains then.
    fn server_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", USER, "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        cmd.current_dir(&self.dir);
        quiet_env(&mut cmd);
        cmd
    }

    /// A client tool: from the server's bin dir, else from PATH (e.g.
    /// Debian's /usr/bin wrappers).
    fn client(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        let mut cmd = Command::new(if path.is_file() {
            path.into_os_string()
        } else {
            OsString::from(tool)
        });
        quiet_env(&mut cmd);
        cmd
    }

    /// Makes the cluster: initdb, then our settings.
    fn init(&mut self) -> Result<(), String> {
        if self.as_postgres {
            run(Command::new("chown").arg(USER).arg(&self.dir), "chown")?;
            // A TMPDIR under /root (mode 700) is not traversable by postgres.
            let writable = self
                .server_command("test")
                .arg("-w")
                .arg(&self.dir)
                .status()
                .is_ok_and(|s| s.success());
            if !writable {
                return Err(format!(
                    "the {USER} user cannot write to {}: make its parent directories \
                     traversable or set TMPDIR",
                    self.dir.display()
                ));
            }
        }
        let mut initdb = self.server_command(self.bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(self.data_dir())
            .args(["--auth=trust", "--username", USER])
            // C locale: the environment's may not be installed; UTF8 as in
            // production. --no-sync: the cluster is thrown away.
            .args(["--no-locale", "--encoding=UTF8", "--no-sync"]);
        run(&mut initdb, "initdb")?;
        let conf = self.data_dir().join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| writeln!(f, "\ninclude '{SETTINGS_FILE}'"))
            .map_err(|e| format!("cannot append to {}: {e}", conf.display()))
    }

    /// Writes our settings with the current port.
    fn write_settings(&self) -> Result<(), String> {
        let path = self.data_dir().join(SETTINGS_FILE);
        let settings = format!(
            "# Written by src/pg_server.rs: a throwaway server, so speed over\n\
             # durability, reachable over TCP from this machine only.\n\
             listen_addresses = '127.0.0.1'\n\
             port = {}\n\
             unix_socket_directories = ''\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n{}",
            self.port, self.extra_settings
        );
        fs::write(&path, settings).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if self.as_postgres {
            // Our umask may make it unreadable to postgres otherwise.
            run(Command::new("chown").arg(USER).arg(&path), "chown")?;
        }
        Ok(())
    }

    /// Picks a free port and starts there. Another process may take the port
    /// between our pick and the server's bind, so that failure is retried.
    fn start_on_free_port(&mut self) -> Result<(), String> {
        let mut last_error = String::new();
        for _ in 0..3 {
            self.port = free_port()?;
            self.write_settings()?;
            match self.start_server() {
                Ok(()) => return Ok(()),
                Err(e) if e.contains("could not bind") => last_error = e,
                Err(e) => return Err(e),
            }
        }
        Err(last_error)
    }

    /// pg_ctl start, then waits until the server answers on its port.
    fn start_server(&mut self) -> Result<(), String> {
        let mut pg_ctl = self.server_command(self.bin.join("pg_ctl"));
        pg_ctl
            .args(["start", "-w", "-t", &TIMEOUT.as_secs().to_string(), "-D"])
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path());
        if let Err(e) = run(&mut pg_ctl, "pg_ctl start") {
            return Err(format!("{e}; server log:\n{}", self.log_tail()));
        }
        let deadline = Instant::now() + TIMEOUT;
        while !self.accepts_connections() {
            if Instant::now() >= deadline {
                return Err(format!(
                    "PostgreSQL not accepting connections on 127.0.0.1:{} after {} s; \
                     server log:\n{}",
                    self.port,
                    TIMEOUT.as_secs(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn accepts_connections(&self) -> bool {
        if self.bin.join("pg_isready").is_file() {
            // -U and -d: so the probe does not log "role root does not exist".
            self.client("pg_isready")
                .args(self.connection_args())
                .args(["-d", "postgres", "-t", "5", "-q"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        } else {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok()
        }
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        let mut pg_ctl = self.server_command(self.bin.join("pg_ctl"));
        pg_ctl
            .args([
                "stop",
                "-w",
                "-t",
                &TIMEOUT.as_secs().to_string(),
                "-m",
                mode,
                "-D",
            ])
            .arg(self.data_dir());
        run(&mut pg_ctl, "pg_ctl stop").map(|_| ())
    }
}

impl Drop for PgServer {
    /// Also runs when a test panics. If even an immediate stop fails, the
    /// server shuts itself down within a minute of its directory vanishing.
    fn drop(&mut self) {
        if self.pid_file().exists() && self.pg_ctl_stop("fast").is_err() {
            let _ = self.pg_ctl_stop("immediate");
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The server's bin dir and whether to run it as the `postgres` user, or the
/// reason PostgreSQL cannot run here.
fn setup() -> Result<(PathBuf, bool), String> {
    let bin = find_bin_dir(
        std::env::var_os("PG_BIN_DIR"),
        std::env::var_os("PATH"),
        Path::new(LIB_ROOT),
    )?;
    let as_postgres = effective_uid()? == 0;
    if as_postgres {
        let has_user = Command::new("id")
            .args(["-u", USER])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_user {
            return Err(format!(
                "running as root, which PostgreSQL refuses, and there is no {USER} user to run it as"
            ));
        }
    }
    Ok((bin, as_postgres))
}

/// `PG_BIN_DIR`; else the real directory of `pg_ctl` or `initdb` on PATH
/// (following symlinks such as Debian's /usr/local/bin ones, but not
/// Debian's /usr/bin/pg_wrapper, whose directory has no server); else the
/// newest `<lib_root>/<version>/bin`.
fn find_bin_dir(
    pg_bin_dir: Option<OsString>,
    path: Option<OsString>,
    lib_root: &Path,
) -> Result<PathBuf, String> {
    if let Some(dir) = pg_bin_dir.filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if is_bin_dir(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "PG_BIN_DIR={} has no initdb, pg_ctl and postgres",
                dir.display()
            ))
        };
    }
    let path = path.unwrap_or_default();
    for dir in std::env::split_paths(&path).filter(|d| d.is_absolute()) {
        for tool in ["pg_ctl", "initdb"] {
            let real = match fs::canonicalize(dir.join(tool)) {
                Ok(real) => real,
                Err(_) => continue,
            };
            if let Some(real_dir) = real.parent().filter(|d| is_bin_dir(d)) {
                return Ok(real_dir.to_path_buf());
            }
        }
    }
    let newest = fs::read_dir(lib_root)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: Vec<u32> = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|n| n.parse().ok())
                .collect::<Option<_>>()?;
            let bin = entry.path().join("bin");
            is_bin_dir(&bin).then_some((version, bin))
        })
        .max();
    newest.map(|(_, bin)| bin).ok_or_else(|| {
        format!(
            "no initdb, pg_ctl and postgres in PG_BIN_DIR, on PATH or in {}/*/bin",
            lib_root.display()
        )
    })
}

fn is_bin_dir(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|tool| dir.join(tool).is_file())
}

/// From /proc (the effective uid is the second `Uid:` field), else `id -u`:
/// libc::geteuid is unsafe, and all unsafe lives in src/ffi.
fn effective_uid() -> Result<u32, String> {
    let from_proc = fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1)?.parse().ok())
    });
    if let Some(uid) = from_proc {
        return Ok(uid);
    }
    let out = run(Command::new("id").arg("-u"), "id -u")?;
    out.trim()
        .parse()
        .map_err(|_| format!("cannot tell our user id: `id -u` printed {out:?}"))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

fn quiet_env(cmd: &mut Command) {
    for var in PG_ENV {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
}

/// Runs `cmd` and returns its stdout, or an error with its stderr.
fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() {
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    } else {
        Err(format!(
            "{what} failed ({status}): {}",
            String::from_utf8_lossy(&stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A started server, or `None` after the one skip line where there is no
    /// PostgreSQL. A PostgreSQL that is there but fails to start fails.
    fn server_or_skip(name: &str) -> Option<PgServer> {
        if let Err(reason) = PgServer::available() {
            println!("skipped: no PostgreSQL ({reason})");
            return None;
        }
        Some(PgServer::start(name).unwrap_or_else(|e| panic!("PgServer::start: {e}")))
    }

    /// Runs `sql` with psql in `database` and returns its unaligned output.
    fn psql(server: &PgServer, database: &str, sql: &str) -> Result<String, String> {
        let mut cmd = server.client("psql");
        cmd.args(server.connection_args()).args([
            "-d",
            database,
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ]);
        run(&mut cmd, "psql").map(|out| out.trim().to_owned())
    }

    #[test]
    fn starts_answers_creates_databases_and_cleans_up() {
        let Some(server) = server_or_skip("basic") else {
            return;
        };
        let port = server.port();
        assert_eq!(
            server.dsn(),
            format!("postgresql://postgres@127.0.0.1:{port}/cc_cdr")
        );
        assert_eq!(psql(&server, DATABASE, "select 1").as_deref(), Ok("1"));
        let settings = psql(
            &server,
            DATABASE,
            "select current_setting('fsync') || ' ' || current_setting('listen_addresses')",
        );
        assert_eq!(settings.as_deref(), Ok("off 127.0.0.1"));

        let dsn = server.create_database("second_db").unwrap();
        assert_eq!(
            dsn,
            format!("postgresql://postgres@127.0.0.1:{port}/second_db")
        );
        assert_eq!(
            psql(&server, "second_db", "select current_database()").as_deref(),
            Ok("second_db")
        );
        assert!(server.create_database("second_db").is_err(), "exists");
        assert!(server.create_database("bad name").is_err());
        assert!(server.create_database("").is_err());

        let dir = server.dir.clone();
        assert!(dir.join("data/PG_VERSION").is_file());
        drop(server);
        assert!(!dir.exists(), "{} not removed", dir.display());
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
            "still listening on {port} after drop"
        );
    }

    #[test]
    fn data_survives_stop_and_restart() {
        let Some(mut server) = server_or_skip("restart") else {
            return;
        };
        let port = server.port();
        psql(
            &server,
            DATABASE,
            "create table kept (n int); insert into kept values (42)",
        )
        .unwrap();

        server.stop().unwrap();
        assert!(!server.accepts_connections(), "still up after stop");
        assert!(psql(&server, DATABASE, "select 1").is_err());
        server.stop().unwrap(); // stopping a stopped server does nothing

        server.restart().unwrap();
        assert_eq!(server.port(), port);
        assert_eq!(
            psql(&server, DATABASE, "select n from kept").as_deref(),
            Ok("42")
        );
        // Restart of a running server: stops, then starts.
        server.restart().unwrap();
        assert_eq!(psql(&server, DATABASE, "select 1").as_deref(), Ok("1"));
        assert!(server.log_tail().contains("database system is ready"));
    }

    /// The bin dir search, on fake installations (no PostgreSQL needed).
    #[test]
    fn finds_the_bin_dir() {
        let root = std::env::temp_dir().join(format!("cc_cdr_pg_find_{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let fake = |dir: &Path, tools: &[&str]| {
            fs::create_dir_all(dir).unwrap();
            for tool in tools {
                fs::write(dir.join(tool), "").unwrap();
            }
        };
        let all = ["initdb", "pg_ctl", "postgres"];
        let lib = root.join("lib");
        fake(&lib.join("9.6/bin"), &all);
        fake(&lib.join("15/bin"), &all);
        fake(&lib.join("16/bin"), &["pg_ctl", "postgres"]); // no initdb
        fake(&lib.join("common/bin"), &all); // not a version
        let none = || None::<OsString>;

        // The newest complete version.
        assert_eq!(find_bin_dir(none(), none(), &lib), Ok(lib.join("15/bin")));

        // PATH, through a symlink to the real bin dir; a dir holding only a
        // wrapper (no server beside it) is passed over.
        let wrapper = root.join("wrapper");
        fake(&wrapper, &["pg_ctl"]);
        let links = root.join("links");
        fs::create_dir_all(&links).unwrap();
        std::os::unix::fs::symlink(lib.join("9.6/bin/initdb"), links.join("initdb")).unwrap();
        let path = std::env::join_paths([root.join("missing"), wrapper, links]).unwrap();
        let found = find_bin_dir(none(), Some(path), &lib).unwrap();
        assert_eq!(found, fs::canonicalize(lib.join("9.6/bin")).unwrap());

        // PG_BIN_DIR wins, and is not second-guessed.
        let env = Some(lib.join("9.6/bin").into_os_string());
        assert_eq!(find_bin_dir(env, none(), &lib), Ok(lib.join("9.6/bin")));
        let env = Some(lib.join("16/bin").into_os_string());
        assert!(
            find_bin_dir(env, none(), &lib)
                .unwrap_err()
                .contains("PG_BIN_DIR")
        );

        // Nothing: a one-line reason.
        let reason = find_bin_dir(none(), none(), &root.join("nowhere")).unwrap_err();
        assert!(
            !reason.contains('\n') && reason.contains("nowhere"),
            "{reason}"
        );

        fs::remove_dir_all(&root).unwrap();
    }
}
