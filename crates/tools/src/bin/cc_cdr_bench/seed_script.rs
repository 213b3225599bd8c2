//! The seed article's ESL script (`benches/seed/seed_cdr.py`, run by
//! `benches/seed/run_seed.py`) as a process beside a test FreeSWITCH, and
//! the Python it needs: a venv under `target/seed-venv` with python-ESL,
//! created on first use.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testkit::harness::wait_for;

use crate::common::{CpuSample, count_rows};

/// The Python ESL binding the script imports (`import ESL`): FreeSWITCH's
/// libesl built with SWIG.
pub const ESL_PACKAGE: &str = "python-ESL==1.4.18";

/// `benches/seed` of this project.
pub fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/seed")
}

/// Cargo's target directory: the one above the directory of this binary.
fn target_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    exe.ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("no target directory above {}", exe.display()))
}

fn runs(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The first executable `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Runs pip in the venv to install python-ESL, its output going to `log`;
/// with `path_first`, that directory goes first on `PATH`.
fn pip_install(python: &Path, log: &Path, path_first: Option<&Path>) -> Result<bool, String> {
    let out = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(python);
    command
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            ESL_PACKAGE,
        ])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if let Some(dir) = path_first {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![dir.to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        command.env(
            "PATH",
            std::env::join_paths(paths).map_err(|e| e.to_string())?,
        );
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    Ok(status.success())
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The venv's Python with python-ESL importable, making the venv
/// (`<target>/seed-venv`) and installing python-ESL into it when missing.
/// `base_python` makes the venv (default: `python3` on `PATH`).
pub fn ensure_python(base_python: Option<&str>) -> Result<PathBuf, String> {
    let venv = target_dir()?.join("seed-venv");
    let python = venv.join("bin/python");
    let has_esl = |python: &Path| runs(Command::new(python).args(["-c", "import ESL"]));
    if python.is_file() && has_esl(&python) {
        return Ok(python);
    }
    if !python.is_file() {
        let base = base_python.unwrap_or("python3");
        eprintln!(
            "seed script: creating a venv in {} with {base}",
            venv.display()
        );
        let made = Command::new(base)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|e| format!("seed script: cannot run {base} to make a venv: {e}"))?;
        if !made.success() || !python.is_file() {
            return Err(format!(
                "seed script: '{base} -m venv {}' failed (on Debian: apt-get install python3-venv; \
                 or name another Python with --python)",
                venv.display()
            ));
        }
    }
    let log = venv.join("pip-install.log");
    eprintln!(
        "seed script: pip install {ESL_PACKAGE} into {} (log: {})",
        venv.display(),
        log.display()
    );
    let mut installed = pip_install(&python, &log, None)?;
    if !installed {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let swig = on_path("swig");
        if swig.is_none() || text.contains("No such file or directory: 'swig'") {
            return Err(format!(
                "seed script: python-ESL is built from source with SWIG, which is missing: \
                 apt-get install -y swig g++ python3-dev, then run again. pip said:\n{}",
                log_tail(&log)
            ));
        }
        if text.contains("-classic") {
            // python-ESL 1.4.18's setup.py passes SWIG's -classic, which
            // SWIG 4 removed. A swig on PATH that drops it builds the same
            // package unchanged.
            let shim_dir = venv.join("swig-shim");
            fs::create_dir_all(&shim_dir).map_err(|e| e.to_string())?;
            let shim = shim_dir.join("swig");
            let real = swig.expect("checked above");
            let script = format!(
                "#!/bin/sh\n\
                 # Written by cc_cdr_bench: python-ESL 1.4.18 passes -classic, removed in SWIG 4.\n\
                 for a in \"$@\"; do [ \"$a\" = \"-classic\" ] || set -- \"$@\" \"$a\"; shift; done\n\
                 exec '{}' \"$@\"\n",
                real.display()
            );
            fs::write(&shim, script).map_err(|e| e.to_string())?;
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&shim, fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
            eprintln!(
                "seed script: SWIG {} refuses python-ESL's -classic option; retrying with {} \
                 (drops that option)",
                real.display(),
                shim.display()
            );
            installed = pip_install(&python, &log, Some(&shim_dir))?;
        }
    }
    if !installed {
        return Err(format!(
            "seed script: pip install {ESL_PACKAGE} failed; see {}:\n{}",
            log.display(),
            log_tail(&log)
        ));
    }
    if !has_esl(&python) {
        return Err(format!(
            "seed script: {ESL_PACKAGE} installed but 'import ESL' fails in {}",
            python.display()
        ));
    }
    eprintln!("seed script: {ESL_PACKAGE} installed");
    Ok(python)
}

/// The seed script running against a test FreeSWITCH.
pub struct SeedScript {
    child: Child,
    /// Its database (the script's my_cdr.db).
    pub db: PathBuf,
    errors: Arc<AtomicU64>,
    kinds: Arc<Mutex<BTreeMap<String, u64>>>,
    ready: Arc<AtomicBool>,
}

impl SeedScript {
    /// Starts the script with `python`, writing to `db`, connected to the
    /// event socket on 127.0.0.1:`port`, and waits until it has subscribed.
    pub fn start(python: &Path, db: &Path, port: u16, log: &Path) -> Result<SeedScript, String> {
        let wrapper = seed_dir().join("run_seed.py");
        let err_log = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(python)
            .arg("-u")
            .arg(&wrapper)
            .env("SEED_DB", db)
            .env("SEED_ESL_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err_log.try_clone().map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", wrapper.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let errors = Arc::new(AtomicU64::new(0));
        let kinds = Arc::new(Mutex::new(BTreeMap::new()));
        let ready = Arc::new(AtomicBool::new(false));
        {
            let (errors, kinds, ready) = (errors.clone(), kinds.clone(), ready.clone());
            let mut out = err_log;
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = writeln!(out, "{line}");
                    if line == "SEED-READY" {
                        ready.store(true, Ordering::SeqCst);
                    } else if line.starts_with("error:") {
                        errors.fetch_add(1, Ordering::Relaxed);
                    } else if line.starts_with("<class '") {
                        *kinds.lock().expect("lock").entry(line).or_default() += 1;
                    } else if let Some(cause) = line.strip_prefix("SEED-CAUSE: ") {
                        let key = format!("first {cause}");
                        *kinds.lock().expect("lock").entry(key).or_default() += 1;
                    }
                }
            });
        }
        let mut script = SeedScript {
            child,
            db: db.to_path_buf(),
            errors,
            kinds,
            ready,
        };
        let started = wait_for(Duration::from_secs(60), || {
            if script.ready.load(Ordering::SeqCst) {
                return Some(Ok(()));
            }
            match script.child.try_wait() {
                Ok(Some(status)) => Some(Err(status)),
                _ => None,
            }
        });
        match started {
            Some(Ok(())) => Ok(script),
            Some(Err(status)) => Err(format!(
                "the seed script exited ({status}) before subscribing; see {}:\n{}",
                log.display(),
                log_tail(log)
            )),
            None => Err(format!(
                "the seed script did not subscribe within 60 s; see {}",
                log.display()
            )),
        }
    }

    /// Rows in its table so far.
    pub fn rows(&self) -> u64 {
        count_rows(&self.db, "SELECT count(*) FROM callcenter_cdr").unwrap_or(0)
    }

    /// `error: Exception Occured` lines it has printed: each is an event it
    /// took and wrote no row for.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The exception classes it printed after those lines (`<class ...>`),
    /// and the exceptions that led to them (`first ...`, from the
    /// wrapper), with counts.
    pub fn error_kinds(&self) -> Vec<(String, u64)> {
        self.kinds
            .lock()
            .expect("lock")
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }

    pub fn cpu(&self) -> Option<CpuSample> {
        CpuSample::read(self.child.id())
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for SeedScript {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
