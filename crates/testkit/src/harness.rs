//! A throwaway FreeSWITCH for the real-FreeSWITCH tests and the demo.
//!
//! It runs the FreeSWITCH installed under `FREESWITCH_PREFIX` (default
//! `/usr/local/freeswitch`) in a temporary directory, with the one-file
//! config `conf/test/freeswitch.xml`, listening on 127.0.0.1 only, and with
//! the freshly built `mod_cc_cdr.so` in its module dir. Dropping it stops
//! FreeSWITCH.

use std::fs;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::capture;
use crate::esl::EslClient;

const CONFIG_TEMPLATE: &str = include_str!("../../../conf/test/freeswitch.xml");
pub const ESL_PASSWORD: &str = "ClueCon";

/// The FreeSWITCH installation to use.
#[derive(Clone, Debug)]
pub struct Installation {
    pub prefix: PathBuf,
    pub binary: PathBuf,
    pub module_dir: PathBuf,
}

impl Installation {
    /// The FreeSWITCH under `FREESWITCH_PREFIX`, or `None` with the reason.
    pub fn find() -> Result<Installation, String> {
        let prefix = PathBuf::from(
            std::env::var("FREESWITCH_PREFIX").unwrap_or_else(|_| "/usr/local/freeswitch".into()),
        );
        let binary = prefix.join("bin/freeswitch");
        if !binary.is_file() {
            return Err(format!("no FreeSWITCH at {}", prefix.display()));
        }
        let module_dir = module_dir(&prefix).ok_or_else(|| {
            format!(
                "no module dir with mod_callcenter.so under {}",
                prefix.display()
            )
        })?;
        let installation = Installation {
            prefix,
            binary,
            module_dir,
        };
        if let Some(missing) = REQUIRED_MODULES
            .iter()
            .find(|name| !installation.has_module(name))
        {
            return Err(format!(
                "no {missing} in {}",
                installation.module_dir.display()
            ));
        }
        Ok(installation)
    }

    /// Whether the module file `name` (e.g. `mod_conference`) is installed.
    pub fn has_module(&self, name: &str) -> bool {
        self.module_dir.join(format!("{name}.so")).is_file()
    }
}

/// The modules every test FreeSWITCH loads (`conf/test/freeswitch.xml`);
/// tests that need more check with `Installation::has_module`, and the
/// README lists both.
pub const REQUIRED_MODULES: &[&str] = &[
    "mod_callcenter",
    "mod_loopback",
    "mod_event_socket",
    "mod_commands",
    "mod_dptools",
    "mod_dialplan_xml",
    "mod_tone_stream",
    "mod_logfile",
];

/// Where the installation keeps its modules: pkg-config's `modulesdir`, or
/// the classic and FHS layouts.
pub fn module_dir(prefix: &Path) -> Option<PathBuf> {
    let from_pkg_config = Command::new("pkg-config")
        .args(["--variable=modulesdir", "freeswitch"])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    from_pkg_config
        .into_iter()
        .chain([prefix.join("mod"), prefix.join("lib/freeswitch/mod")])
        .find(|dir| dir.join("mod_callcenter.so").is_file())
}

/// The `mod_cc_cdr` library Cargo built next to the running executable
/// (a test in `target/*/deps`, or a binary in `target/*`).
pub fn built_module() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("libmod_cc_cdr.so"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "libmod_cc_cdr.so not found near {}: run cargo build first",
                exe.display()
            )
        })
}

/// What to run FreeSWITCH with.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Queues, agents and tiers: the inside of `callcenter.conf`.
    pub callcenter_xml: String,
    /// `cc_cdr.conf` params. `db-path` defaults to `cc_cdr.db` in the db dir.
    pub cc_cdr_params: Vec<(String, String)>,
    /// `cc_cdr.conf`'s `<columns>`: `(name, variable, leg)`, written as
    /// given (an empty `leg` is left out).
    pub cc_cdr_columns: Vec<(String, String, String)>,
    /// `cc_cdr.conf`'s `<queues>`: each queue's name and its `(name,
    /// value)` params.
    pub cc_cdr_queues: Vec<(String, Vec<(String, String)>)>,
}

pub struct FreeSwitch {
    child: Child,
    binary: PathBuf,
    pub dir: PathBuf,
    pub esl_port: u16,
    pub db_path: PathBuf,
    options: Options,
    /// More `<configuration>` sections; see [`FreeSwitch::start_with_config`].
    extra_config: String,
    /// Keep the directory (logs, databases) after stopping. It is always
    /// kept when a test fails, for its logs.
    pub keep_dir: bool,
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `<param name=".." value=".."/>` lines, each after `indent`.
fn param_lines(params: &[(String, String)], indent: &str) -> String {
    params
        .iter()
        .map(|(n, v)| {
            format!(
                "{indent}<param name=\"{}\" value=\"{}\"/>\n",
                xml_escape(n),
                xml_escape(v)
            )
        })
        .collect()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn write_config(
    dir: &Path,
    esl_port: u16,
    options: &Options,
    extra_config: &str,
) -> io::Result<()> {
    let params_xml = param_lines(&options.cc_cdr_params, "        ");
    let columns_xml: String = options
        .cc_cdr_columns
        .iter()
        .map(|(name, variable, leg)| {
            let leg = match leg.as_str() {
                "" => String::new(),
                leg => format!(" leg=\"{}\"", xml_escape(leg)),
            };
            format!(
                "        <column name=\"{}\" variable=\"{}\"{leg}/>\n",
                xml_escape(name),
                xml_escape(variable)
            )
        })
        .collect();
    let queues_xml: String = options
        .cc_cdr_queues
        .iter()
        .map(|(queue, params)| {
            let params = param_lines(params, "          ");
            format!(
                "        <queue name=\"{}\">\n{params}        </queue>\n",
                xml_escape(queue)
            )
        })
        .collect();
    let config = CONFIG_TEMPLATE
        .replace("@LOG_DIR@", &dir.join("log").display().to_string())
        .replace("@DB_DIR@", &dir.join("db").display().to_string())
        .replace("@ESL_PORT@", &esl_port.to_string())
        .replace("@SWITCHNAME@", &switchname(esl_port))
        .replace("@CALLCENTER@", &options.callcenter_xml)
        .replace("@CC_CDR_PARAMS@", &params_xml)
        .replace("@CC_CDR_COLUMNS@", &columns_xml)
        .replace("@CC_CDR_QUEUES@", &queues_xml)
        .replace("@EXTRA_CONFIG@", extra_config);
    fs::write(dir.join("conf/freeswitch.xml"), config)
}

/// Runs the FreeSWITCH binary on a test directory, in the foreground.
fn spawn(binary: &Path, dir: &Path) -> io::Result<Child> {
    let d = |sub: &str| dir.join(sub).display().to_string();
    let stderr = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("log/stderr.log"))?;
    Command::new(binary)
        .args(["-nf", "-nc", "-nonat", "-nonatmap", "-nocal", "-nort"])
        .args(["-conf", &d("conf"), "-log", &d("log"), "-db", &d("db")])
        .args(["-run", &d("run"), "-mod", &d("mod"), "-temp", &d("tmp")])
        .args(["-storage", &d("storage"), "-recordings", &d("recordings")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
}

/// The test switch's `switchname`: one of its own per instance, so that
/// several on one machine are told apart (the hostname is the default).
fn switchname(esl_port: u16) -> String {
    format!("cc-cdr-test-{esl_port}")
}

/// Polls `check` every 100 ms until it gives a value or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl FreeSwitch {
    /// Its `switchname` (`FreeSWITCH-Switchname`).
    pub fn switchname(&self) -> String {
        switchname(self.esl_port)
    }

    /// Starts FreeSWITCH and waits until mod_callcenter and mod_cc_cdr run.
    pub fn start(
        install: &Installation,
        module: &Path,
        options: &Options,
    ) -> io::Result<FreeSwitch> {
        FreeSwitch::start_with_config(install, module, options, "")
    }

    /// [`FreeSwitch::start`] with more `<configuration>` sections in the
    /// config file (e.g. `cdr_sqlite.conf` for a module loaded later with
    /// `load`); `extra_config` is XML put beside `cc_cdr.conf`.
    pub fn start_with_config(
        install: &Installation,
        module: &Path,
        options: &Options,
        extra_config: &str,
    ) -> io::Result<FreeSwitch> {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cc_cdr_fs_{}_{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        for sub in [
            "conf",
            "log",
            "db",
            "run",
            "mod",
            "tmp",
            "storage",
            "recordings",
        ] {
            fs::create_dir_all(dir.join(sub))?;
        }
        for entry in fs::read_dir(&install.module_dir)? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_owned();
            if path.extension().is_some_and(|e| e == "so") && name != "mod_cc_cdr.so" {
                std::os::unix::fs::symlink(&path, dir.join("mod").join(&name))?;
            }
        }
        fs::copy(module, dir.join("mod/mod_cc_cdr.so"))?;

        let esl_port = free_port()?;
        let mut options = options.clone();
        if !options.cc_cdr_params.iter().any(|(n, _)| n == "db-path") {
            options
                .cc_cdr_params
                .push(("db-path".into(), "cc_cdr.db".into()));
        }
        write_config(&dir, esl_port, &options, extra_config)?;

        let child = spawn(&install.binary, &dir)?;
        let db_path = options
            .cc_cdr_params
            .iter()
            .find(|(n, _)| n == "db-path")
            .map(|(_, v)| dir.join("db").join(v))
            .unwrap_or_default();
        let mut fs = FreeSwitch {
            child,
            binary: install.binary.clone(),
            dir,
            esl_port,
            db_path,
            options,
            extra_config: extra_config.to_owned(),
            keep_dir: false,
        };
        fs.wait_ready()?;
        Ok(fs)
    }

    /// Kills FreeSWITCH with SIGKILL, as a crash or the OOM killer would:
    /// nothing unloads, nothing flushes.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts FreeSWITCH again (after `kill` or `stop`) on the same
    /// directory, databases and ports, and waits until it is ready.
    pub fn restart(&mut self) -> io::Result<()> {
        if self.is_running() {
            self.stop();
        }
        self.child = spawn(&self.binary, &self.dir)?;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let ready = wait_for(Duration::from_secs(60), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(Err(io::Error::other(format!(
                    "FreeSWITCH exited with {status} while starting; see {}",
                    self.dir.join("log").display()
                ))));
            }
            let mut esl = self.esl().ok()?;
            let cc = esl.api("module_exists mod_callcenter").ok()?;
            let ours = esl.api("module_exists mod_cc_cdr").ok()?;
            (cc.trim() == "true" && ours.trim() == "true").then_some(Ok(()))
        });
        ready.unwrap_or_else(|| {
            Err(io::Error::other(format!(
                "FreeSWITCH not ready with mod_callcenter and mod_cc_cdr after 60 s; see {}",
                self.dir.join("log").display()
            )))
        })
    }

    /// Rewrites `cc_cdr.conf`'s params in the config file, as an admin
    /// editing it would; `reload mod_cc_cdr` then reads them.
    pub fn set_cc_cdr_params(&mut self, params: &[(&str, &str)]) -> io::Result<()> {
        self.options.cc_cdr_params = params
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        write_config(&self.dir, self.esl_port, &self.options, &self.extra_config)
    }

    /// Rewrites `cc_cdr.conf`'s `<columns>`, as
    /// [`FreeSwitch::set_cc_cdr_params`] does its params.
    pub fn set_cc_cdr_columns(&mut self, columns: &[(&str, &str, &str)]) -> io::Result<()> {
        self.options.cc_cdr_columns = columns
            .iter()
            .map(|(n, v, l)| (n.to_string(), v.to_string(), l.to_string()))
            .collect();
        write_config(&self.dir, self.esl_port, &self.options, &self.extra_config)
    }

    /// A new event-socket connection.
    pub fn esl(&self) -> io::Result<EslClient> {
        EslClient::connect(
            &format!("127.0.0.1:{}", self.esl_port),
            ESL_PASSWORD,
            Duration::from_secs(30),
        )
    }

    /// Runs one API command on a fresh connection.
    /// Whether FreeSWITCH has the module loaded (`module_exists`): `load`
    /// answers `+OK` even for a module that does not exist.
    pub fn module_loaded(&self, name: &str) -> bool {
        self.api(&format!("module_exists {name}"))
            .is_ok_and(|reply| reply.trim() == "true")
    }

    pub fn api(&self, command: &str) -> io::Result<String> {
        self.esl()?.api(command)
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("log/freeswitch.log")
    }

    /// Stops FreeSWITCH cleanly (modules unload, mod_cc_cdr flushes) and
    /// returns whether it exited in time.
    pub fn stop(&mut self) -> bool {
        if let Ok(Some(_)) = self.child.try_wait() {
            return true;
        }
        let _ = self.api("fsctl shutdown");
        let exited = wait_for(Duration::from_secs(30), || {
            self.child.try_wait().ok().flatten().map(|_| ())
        });
        if exited.is_none() {
            self.kill();
        }
        exited.is_some()
    }

    /// Starts recording the module's events to `path` (the fixture format)
    /// until the returned capture is finished or dropped.
    pub fn capture(&self, path: &Path) -> io::Result<Capture> {
        let mut client = self.esl()?;
        client.set_timeout(Duration::from_millis(200))?;
        let mut out = io::BufWriter::new(fs::File::create(path)?);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        // Subscribe before returning, so no event of the caller's next call is missed.
        client.subscribe(capture::CAPTURED_EVENTS)?;
        let thread = std::thread::spawn(move || {
            capture::record(&mut client, &mut out, || stop_flag.load(Ordering::Relaxed))
        });
        Ok(Capture {
            stop,
            thread: Some(thread),
        })
    }

    /// The FreeSWITCH process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Names of the FreeSWITCH process's threads that start with `prefix`
    /// (from /proc; names are cut at 15 bytes).
    pub fn threads_named(&self, prefix: &str) -> Vec<String> {
        let tasks = PathBuf::from(format!("/proc/{}/task", self.pid()));
        fs::read_dir(tasks)
            .map(|dir| {
                dir.filter_map(|t| fs::read_to_string(t.ok()?.path().join("comm")).ok())
                    .map(|name| name.trim().to_owned())
                    .filter(|name| name.starts_with(prefix))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Open file descriptors of the FreeSWITCH process on files whose path
    /// starts with `prefix`, as text (from /proc).
    pub fn fds_to(&self, prefix: &str) -> usize {
        let fds = PathBuf::from(format!("/proc/{}/fd", self.pid()));
        fs::read_dir(fds)
            .map(|dir| {
                dir.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
                    .filter(|target| target.to_string_lossy().starts_with(prefix))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Whether the FreeSWITCH process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for FreeSwitch {
    fn drop(&mut self) {
        self.stop();
        if !self.keep_dir && !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A running event capture; see [`FreeSwitch::capture`].
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<usize>>>,
}

impl Capture {
    /// Stops recording and returns the number of events written.
    pub fn finish(mut self) -> io::Result<usize> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("capture thread panicked")),
            None => Ok(0),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
