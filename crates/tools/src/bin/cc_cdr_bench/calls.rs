//! `cc_cdr_bench calls`: real calls through mod_callcenter in a real
//! FreeSWITCH, with and without each CDR consumer, and what each costs the
//! switch in CPU and loses in rows.
//!
//! One queue, `load@default`, with A agents on mod_loopback's `null/`
//! endpoint that answer by themselves, talk a fixed time and hang up (no
//! wrap-up). Callers come in through the dialplan (`loopback/q-load`) at a
//! steady rate: each `bgapi originate` is sent at its scheduled instant.
//!
//! Each run of a configuration is a FreeSWITCH of its own, started with the
//! project's harness (which always loads mod_cc_cdr): the consumers the
//! configuration leaves out are unloaded, the others loaded, before the
//! first call. FreeSWITCH's CPU time (utime + stime of the process, from
//! /proc) is counted from the first originate until every call has ended and
//! every consumer of the configuration has caught up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::esl::EslClient;
use testkit::harness::{self, FreeSwitch, Installation, Options, wait_for};

use crate::common::{
    Args, CpuSample, clock_ticks, count_groups, count_rows, events_waiting, median, print_table,
    status_value,
};
use crate::seed_script::{self as script, SeedScript};

const USAGE: &str = "\
usage: cc_cdr_bench calls [--rate N] [--secs S] [--agents A] [--with CONFIG...] [--repeat K]
                          [--talk-secs T] [--answer-delay-ms D] [--loglevel LEVEL]
                          [--cdr-sqlite-legs a|b|ab] [--python PYTHON] [--keep]

  --rate N            new calls per second (default 20)
  --secs S            seconds of calls (default 5)
  --agents A          agents in the queue (default 300)
  --with CONFIG...    configurations, run one after the other (default: all):
                        none        mod_cc_cdr unloaded, no other consumer (the baseline)
                        cc_cdr      mod_cc_cdr
                        cdr_sqlite  mod_cdr_sqlite (mod_cc_cdr unloaded)
                        seed        the seed article's ESL script (mod_cc_cdr unloaded)
                        all         the four above
                      several consumers in one switch: join them with '+', e.g. cc_cdr+seed
  --repeat K          run each configuration K times (interleaved) and print medians (default 1)
  --talk-secs T       agents hang up T s after answering (default 2)
  --answer-delay-ms D agents answer D ms after their phone rings (default 200)
  --loglevel LEVEL    'fsctl loglevel LEVEL' before the calls (default: the test config's, debug)
  --cdr-sqlite-legs   mod_cdr_sqlite's 'legs' (default ab: a row per channel)
  --python PYTHON     the Python that makes target/seed-venv (default python3)
  --keep              keep each FreeSWITCH's directory (logs, databases)";

const QUEUE: &str = "load@default";

/// Which consumers of call-center events a run has.
#[derive(Clone, Debug, PartialEq)]
struct Config {
    name: String,
    cc_cdr: bool,
    cdr_sqlite: bool,
    seed: bool,
}

impl Config {
    fn parse(text: &str) -> Result<Vec<Config>, String> {
        if text == "all" {
            return ["none", "cc_cdr", "cdr_sqlite", "seed"]
                .iter()
                .map(|t| Config::parse(t).map(|mut v| v.remove(0)))
                .collect();
        }
        let mut config = Config {
            name: text.to_owned(),
            cc_cdr: false,
            cdr_sqlite: false,
            seed: false,
        };
        if text != "none" {
            for part in text.split('+') {
                match part {
                    "cc_cdr" => config.cc_cdr = true,
                    "cdr_sqlite" => config.cdr_sqlite = true,
                    "seed" => config.seed = true,
                    _ => return Err(format!("--with: unknown configuration '{part}'")),
                }
            }
        }
        Ok(vec![config])
    }

    fn is_baseline(&self) -> bool {
        !(self.cc_cdr || self.cdr_sqlite || self.seed)
    }
}

struct Opts {
    rate: f64,
    secs: f64,
    agents: usize,
    configs: Vec<Config>,
    repeat: usize,
    talk_secs: u32,
    answer_delay_ms: u32,
    loglevel: Option<String>,
    legs: String,
    python: Option<PathBuf>,
    keep: bool,
}

impl Opts {
    fn calls(&self) -> usize {
        (self.rate * self.secs).round() as usize
    }
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let a = Args::parse(
        args,
        &[
            "rate",
            "secs",
            "agents",
            "with",
            "repeat",
            "talk-secs",
            "answer-delay-ms",
            "loglevel",
            "cdr-sqlite-legs",
            "python",
            "keep",
            "help",
        ],
    )?;
    if a.has("help") {
        return Err(USAGE.to_owned());
    }
    let mut configs = Vec::new();
    match a.list("with") {
        None => configs = Config::parse("all")?,
        Some([]) => return Err("--with needs at least one configuration".into()),
        Some(list) => {
            for text in list {
                for config in Config::parse(text)? {
                    if !configs.contains(&config) {
                        configs.push(config);
                    }
                }
            }
        }
    }
    let opts = Opts {
        rate: a.number("rate", 20.0)?,
        secs: a.number("secs", 5.0)?,
        agents: a.number("agents", 300)?,
        configs,
        repeat: a.number("repeat", 1)?,
        talk_secs: a.number("talk-secs", 2)?,
        answer_delay_ms: a.number("answer-delay-ms", 200)?,
        loglevel: a.text("loglevel")?.map(str::to_owned),
        legs: a.text("cdr-sqlite-legs")?.unwrap_or("ab").to_owned(),
        python: a.text("python")?.map(PathBuf::from),
        keep: a.has("keep"),
    };
    if !(opts.rate > 0.0 && opts.secs > 0.0 && opts.agents > 0 && opts.repeat > 0) {
        return Err("--rate, --secs, --agents and --repeat must be above 0".into());
    }
    if !["a", "b", "ab"].contains(&opts.legs.as_str()) {
        return Err("--cdr-sqlite-legs: a, b or ab".into());
    }
    Ok(opts)
}

/// The load queue and its agents (the inside of `callcenter.conf`).
fn callcenter_xml(agents: usize, talk_secs: u32, answer_delay_ms: u32) -> String {
    let mut xml = format!(
        "      <queues>\n        <queue name=\"{QUEUE}\">\n          \
         <param name=\"strategy\" value=\"longest-idle-agent\"/>\n          \
         <param name=\"moh-sound\" value=\"silence_stream://-1\"/>\n        \
         </queue>\n      </queues>\n      <agents>\n"
    );
    for i in 0..agents {
        xml.push_str(&format!(
            "        <agent name=\"load{i:04}@default\" type=\"callback\" status=\"Available\" \
             max-no-answer=\"0\" wrap-up-time=\"0\" reject-delay-time=\"0\" busy-delay-time=\"0\" \
             no-answer-delay-time=\"0\" contact=\"{{null_auto_answer_delay={answer_delay_ms},\
             execute_on_answer='sched_hangup +{talk_secs} NORMAL_CLEARING'}}null/2{i:04}\"/>\n"
        ));
    }
    xml.push_str("      </agents>\n      <tiers>\n");
    for i in 0..agents {
        xml.push_str(&format!(
            "        <tier agent=\"load{i:04}@default\" queue=\"{QUEUE}\" level=\"1\" position=\"1\"/>\n"
        ));
    }
    xml.push_str("      </tiers>\n");
    xml
}

/// mod_cdr_sqlite's config: its own database, `cdr_sqlite.db` in the db
/// dir, table `cdr`, and its built-in default template.
fn cdr_sqlite_xml(legs: &str) -> String {
    format!(
        "    <configuration name=\"cdr_sqlite.conf\" description=\"SQLite CDR (cc_cdr_bench)\">\n      \
         <settings>\n        \
         <param name=\"db-name\" value=\"cdr_sqlite\"/>\n        \
         <param name=\"db-table\" value=\"cdr\"/>\n        \
         <param name=\"legs\" value=\"{legs}\"/>\n      \
         </settings>\n    </configuration>\n"
    )
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
struct RunResult {
    /// `bgapi originate` accepted / refused.
    placed: u64,
    refused: u64,
    /// How late the latest originate was sent after its scheduled instant.
    max_lag: Duration,
    /// Sessions FreeSWITCH created during the run (2 per loopback caller,
    /// 1 per agent leg).
    sessions: u64,
    /// Queue visits, by mod_callcenter's own counters (answered + abandoned).
    visits: Option<u64>,
    answered: Option<u64>,
    cc_rows: Option<u64>,
    cc_status_rows: Option<u64>,
    cc_dropped: Option<u64>,
    cc_closed_by: Vec<(String, u64)>,
    cc_distinct: Option<u64>,
    sqlite_rows: Option<u64>,
    seed_rows: Option<u64>,
    seed_errors: Option<u64>,
    seed_error_kinds: Vec<(String, u64)>,
    seed_cpu: Option<f64>,
    fs_cpu: f64,
    threads: Vec<(String, f64)>,
    wall: Duration,
    /// Every call ended and every consumer caught up before the timeout.
    settled: bool,
    settle_note: String,
}

impl RunResult {
    /// Rows the call should have given that a consumer did not write.
    fn lost(&self, rows: Option<u64>) -> Option<u64> {
        Some(self.visits?.saturating_sub(rows?))
    }
}

fn api(esl: &mut EslClient, command: &str) -> Result<String, String> {
    esl.api(command).map_err(|e| format!("'{command}': {e}"))
}

/// `N session(s) since startup` from `status`.
fn sessions_since_startup(esl: &mut EslClient) -> Option<u64> {
    let status = esl.api("status").ok()?;
    let line = status.lines().find(|l| l.contains("since startup"))?;
    line.split_whitespace().next()?.parse().ok()
}

fn channel_count(esl: &mut EslClient) -> Option<u64> {
    let text = esl.api("show channels count").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// mod_callcenter's `calls_answered` and `calls_abandoned` of the queue.
fn queue_counters(esl: &mut EslClient) -> Option<(u64, u64)> {
    let text = esl.api("callcenter_config queue list").ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split('|').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (answered, abandoned) = (col("calls_answered")?, col("calls_abandoned")?);
    let row: Vec<&str> = lines
        .find(|l| l.starts_with(&format!("{QUEUE}|")))?
        .split('|')
        .collect();
    Some((
        row.get(answered)?.parse().ok()?,
        row.get(abandoned)?.parse().ok()?,
    ))
}

fn agents_in_queue(esl: &mut EslClient) -> usize {
    esl.api(&format!("callcenter_config queue list agents {QUEUE}"))
        .map(|text| {
            text.lines()
                .filter(|l| l.starts_with("load") && l.contains("@default|"))
                .count()
        })
        .unwrap_or(0)
}

/// Waits until FreeSWITCH's CPU use has been below 5 % for a second (a
/// fresh switch settling after its start), at most 30 s.
fn wait_quiet(pid: u32, ticks: f64) -> bool {
    let mut samples: Vec<u64> = Vec::new();
    wait_for(Duration::from_secs(30), || {
        samples.push(CpuSample::read(pid)?.total);
        let n = samples.len();
        (n > 10 && ((samples[n - 1] - samples[n - 11]) as f64) < 0.05 * ticks).then_some(())
    })
    .is_some()
}

/// Sends `count` originates at `rate` a second from their own connection,
/// each at its scheduled instant. Returns (accepted, refused, max lag).
fn place_calls(
    port: u16,
    rate: f64,
    count: usize,
    prefix: &str,
    start: Instant,
) -> Result<(u64, u64, Duration), String> {
    let mut esl = EslClient::connect(
        &format!("127.0.0.1:{port}"),
        harness::ESL_PASSWORD,
        Duration::from_secs(30),
    )
    .map_err(|e| format!("event socket: {e}"))?;
    let (mut placed, mut refused, mut max_lag) = (0, 0, Duration::ZERO);
    for i in 0..count {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else {
            max_lag = max_lag.max(now - due);
        }
        let command = format!(
            "bgapi originate {{loopback_bowout=false,origination_caller_id_number={prefix}{i:06},\
             origination_caller_id_name=load}}loopback/q-load/default &park"
        );
        match esl.api(&command) {
            Ok(reply) if reply.starts_with("+OK") => placed += 1,
            Ok(_) => refused += 1,
            Err(e) => return Err(format!("originate {i}: {e}")),
        }
    }
    Ok((placed, refused, max_lag))
}

fn run_once(
    install: &Installation,
    module: &Path,
    opts: &Opts,
    config: &Config,
    python: Option<&Path>,
    run: usize,
    ticks: f64,
) -> Result<RunResult, String> {
    let options = Options {
        callcenter_xml: callcenter_xml(opts.agents, opts.talk_secs, opts.answer_delay_ms),
        ..Options::default()
    };
    let mut fs =
        FreeSwitch::start_with_config(install, module, &options, &cdr_sqlite_xml(&opts.legs))
            .map_err(|e| format!("FreeSWITCH: {e}"))?;
    fs.keep_dir = opts.keep;
    let db_dir = fs.dir.join("db");
    let mut esl = fs.esl().map_err(|e| format!("event socket: {e}"))?;
    if let Some(level) = &opts.loglevel {
        api(&mut esl, &format!("fsctl loglevel {level}"))?;
    }
    if !config.cc_cdr {
        let reply = api(&mut esl, "unload mod_cc_cdr")?;
        if !reply.contains("+OK") {
            return Err(format!("unload mod_cc_cdr: {reply}"));
        }
    }
    if config.cdr_sqlite {
        let reply = api(&mut esl, "load mod_cdr_sqlite")?;
        if !reply.contains("+OK") {
            return Err(format!("load mod_cdr_sqlite: {reply}"));
        }
    }
    let agents = agents_in_queue(&mut esl);
    if agents != opts.agents {
        return Err(format!(
            "{agents} agents in {QUEUE}, not {}; see {}",
            opts.agents,
            fs.dir.display()
        ));
    }
    let seed = match python.filter(|_| config.seed) {
        Some(python) => Some(SeedScript::start(
            python,
            &db_dir.join("my_cdr.db"),
            fs.esl_port,
            &fs.dir.join("log/seed.log"),
        )?),
        None => None,
    };
    let pid = fs.pid();
    if !wait_quiet(pid, ticks) {
        eprintln!("  (FreeSWITCH did not settle below 5 % CPU within 30 s; measuring anyway)");
    }

    let prefix = format!("9{:02}", run % 100);
    let sessions_before = sessions_since_startup(&mut esl).unwrap_or(0);
    let cpu_before = CpuSample::read(pid).ok_or("cannot read FreeSWITCH's /proc stat")?;
    let seed_cpu_before = seed.as_ref().and_then(SeedScript::cpu);
    let start = Instant::now();
    let placer = {
        let (port, rate, count, prefix) = (fs.esl_port, opts.rate, opts.calls(), prefix.clone());
        std::thread::spawn(move || place_calls(port, rate, count, &prefix, start))
    };
    let (placed, refused, max_lag) = placer
        .join()
        .map_err(|_| "the call placing thread panicked".to_owned())??;

    // Settled: every call ended (FreeSWITCH created the callers' sessions
    // and has no channel left) and every consumer has caught up.
    let expected_sessions = 2 * placed;
    let mut note = String::new();
    let mut last_sessions = (0, Instant::now());
    let settled = wait_for(
        Duration::from_secs_f64(opts.secs + 120.0 + opts.talk_secs as f64),
        || {
            let sessions = sessions_since_startup(&mut esl)?.saturating_sub(sessions_before);
            if sessions != last_sessions.0 {
                last_sessions = (sessions, Instant::now());
            }
            // Originates that never made a session (refused by the switch)
            // would keep the count short for ever: 10 s without a new one
            // is enough then.
            let all_made = sessions >= expected_sessions
                || last_sessions.1.elapsed() > Duration::from_secs(10);
            if !all_made || channel_count(&mut esl)? != 0 {
                note = format!("{sessions} sessions, channels up");
                return None;
            }
            let (answered, abandoned) = queue_counters(&mut esl)?;
            let visits = answered + abandoned;
            if config.cc_cdr {
                let status = api(&mut esl, "cc_cdr status").ok()?;
                let idle = status_value(&status, "open visits")? == 0
                    && status_value(&status, "rows pending")? == 0
                    && events_waiting(&status)? == 0;
                if !idle {
                    note = "mod_cc_cdr busy".into();
                    return None;
                }
            }
            if let Some(seed) = &seed {
                if seed.rows() + seed.errors() < visits {
                    note = format!(
                        "seed script: {} rows + {} errors of {visits}",
                        seed.rows(),
                        seed.errors()
                    );
                    return None;
                }
            }
            Some(())
        },
    )
    .is_some();
    let wall = start.elapsed();
    let cpu_after = CpuSample::read(pid).ok_or("cannot read FreeSWITCH's /proc stat")?;
    let seed_cpu_after = seed.as_ref().and_then(SeedScript::cpu);

    let sessions = sessions_since_startup(&mut esl)
        .unwrap_or(0)
        .saturating_sub(sessions_before);
    let counters = queue_counters(&mut esl);
    let mut result = RunResult {
        placed,
        refused,
        max_lag,
        sessions,
        visits: counters.map(|(a, b)| a + b),
        answered: counters.map(|(a, _)| a),
        fs_cpu: cpu_before.secs_until(&cpu_after, ticks),
        threads: cpu_before.by_thread_name(&cpu_after, ticks),
        wall,
        settled,
        settle_note: if settled { String::new() } else { note },
        ..RunResult::default()
    };
    if config.cc_cdr {
        let status = api(&mut esl, "cc_cdr status")?;
        result.cc_status_rows = status_value(&status, "rows written");
        result.cc_dropped = status_value(&status, "events dropped");
        result.cc_rows = count_rows(&fs.db_path, "SELECT count(*) FROM callcenter_cdr");
        result.cc_distinct = count_rows(
            &fs.db_path,
            "SELECT count(DISTINCT caller_id_number) FROM callcenter_cdr",
        );
        result.cc_closed_by = count_groups(
            &fs.db_path,
            "SELECT closed_by, count(*) FROM callcenter_cdr GROUP BY closed_by ORDER BY 2 DESC",
        );
    }
    if config.cdr_sqlite {
        result.sqlite_rows = Some(
            count_rows(&db_dir.join("cdr_sqlite.db"), "SELECT count(*) FROM cdr").unwrap_or(0),
        );
    }
    if let Some(seed) = &seed {
        result.seed_rows = Some(seed.rows());
        result.seed_errors = Some(seed.errors());
        result.seed_error_kinds = seed.error_kinds();
        result.seed_cpu = match (seed_cpu_before, seed_cpu_after) {
            (Some(a), Some(b)) => Some(a.secs_until(&b, ticks)),
            _ => None,
        };
    }
    drop(seed);
    if opts.keep {
        eprintln!("  kept {}", fs.dir.display());
    }
    Ok(result)
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn print_run(config: &Config, run: usize, runs: usize, r: &RunResult) {
    let mut line = format!(
        "run {run}/{runs} {}: {} calls placed ({} refused, latest originate {} ms late), \
         {} sessions, {} queue visits ({} answered); FreeSWITCH CPU {:.2} s over {:.1} s",
        config.name,
        r.placed,
        r.refused,
        r.max_lag.as_millis(),
        r.sessions,
        opt(r.visits),
        opt(r.answered),
        r.fs_cpu,
        r.wall.as_secs_f64()
    );
    if !r.settled {
        line.push_str(&format!(" (NOT SETTLED at the timeout: {})", r.settle_note));
    }
    println!("{line}");
    if config.cc_cdr {
        let closed: Vec<String> = r
            .cc_closed_by
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        println!(
            "    mod_cc_cdr: {} rows ({} callers), cc_cdr status: {} rows written, {} events dropped; closed_by {}",
            opt(r.cc_rows),
            opt(r.cc_distinct),
            opt(r.cc_status_rows),
            opt(r.cc_dropped),
            closed.join(" ")
        );
    }
    if config.cdr_sqlite {
        println!(
            "    mod_cdr_sqlite: {} rows ({:.2} per call placed)",
            opt(r.sqlite_rows),
            r.sqlite_rows.unwrap_or(0) as f64 / r.placed.max(1) as f64
        );
    }
    if config.seed {
        let kinds: Vec<String> = r
            .seed_error_kinds
            .iter()
            .map(|(k, n)| format!("{n} x {k}"))
            .collect();
        println!(
            "    seed script: {} rows, {} 'error: Exception Occured' lines ({}), its own CPU {} s",
            opt(r.seed_rows),
            opt(r.seed_errors),
            if kinds.is_empty() {
                "none".to_owned()
            } else {
                kinds.join(", ")
            },
            r.seed_cpu.map_or("-".into(), |s| format!("{s:.2}"))
        );
    }
    let threads: Vec<String> = r
        .threads
        .iter()
        .take(8)
        .map(|(n, s)| format!("{n} {s:.2}"))
        .collect();
    println!("    FreeSWITCH CPU by thread (s): {}", threads.join(", "));
}

/// The median of a field over runs, or `None` when no run has it.
fn med(results: &[RunResult], field: impl Fn(&RunResult) -> Option<f64>) -> Option<f64> {
    let values: Vec<f64> = results.iter().filter_map(field).collect();
    (!values.is_empty()).then(|| median(&values))
}

fn count_cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

pub fn run(args: &[String]) -> Result<(), String> {
    let opts = parse(args)?;
    let install = Installation::find()?;
    let module = harness::built_module()?;
    let python = if opts.configs.iter().any(|c| c.seed) {
        let base = opts.python.as_ref().map(|p| p.display().to_string());
        Some(script::ensure_python(base.as_deref())?)
    } else {
        None
    };
    let ticks = clock_ticks();
    println!(
        "calls: {} calls/s for {} s ({} calls) into {QUEUE}, {} agents (answer after {} ms, talk {} s, \
         no wrap-up); FreeSWITCH {} with the test config{}; {} run(s) of each configuration, \
         each in a FreeSWITCH of its own",
        opts.rate,
        opts.secs,
        opts.calls(),
        opts.agents,
        opts.answer_delay_ms,
        opts.talk_secs,
        install.binary.display(),
        opts.loglevel
            .as_ref()
            .map_or(" (log level debug)".into(), |l| format!(", log level {l}")),
        opts.repeat
    );

    let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); opts.configs.len()];
    for round in 0..opts.repeat {
        for (i, config) in opts.configs.iter().enumerate() {
            let run = round * opts.configs.len() + i;
            let r = run_once(
                &install,
                &module,
                &opts,
                config,
                python.as_deref(),
                run,
                ticks,
            )?;
            print_run(config, round + 1, opts.repeat, &r);
            results[i].push(r);
        }
    }

    let baseline = opts
        .configs
        .iter()
        .position(Config::is_baseline)
        .and_then(|i| med(&results[i], |r| Some(r.fs_cpu)));
    println!();
    println!(
        "{} ({}): rows and CPU per configuration; lost = queue visits (mod_callcenter's \
         calls_answered + calls_abandoned) without a row; FS CPU = FreeSWITCH's utime + stime \
         from the first originate until every call ended and every consumer caught up",
        if opts.repeat > 1 {
            "Medians"
        } else {
            "Results"
        },
        format_args!(
            "{} calls/s, {} s, {} agents, {} run(s) each",
            opts.rate, opts.secs, opts.agents, opts.repeat
        )
    );
    let mut rows = Vec::new();
    for (config, rs) in opts.configs.iter().zip(&results) {
        let cpu = med(rs, |r| Some(r.fs_cpu)).unwrap_or(f64::NAN);
        let placed = med(rs, |r| Some(r.placed as f64));
        let (delta, pct) = match baseline {
            Some(b) if !config.is_baseline() => (
                format!("{:+.2}", cpu - b),
                format!("{:+.1} %", 100.0 * (cpu - b) / b),
            ),
            _ => ("-".into(), "-".into()),
        };
        let per_call = med(rs, |r| Some(r.sqlite_rows? as f64 / r.placed.max(1) as f64));
        rows.push(vec![
            config.name.clone(),
            count_cell(placed),
            count_cell(med(rs, |r| r.visits.map(|v| v as f64))),
            count_cell(med(rs, |r| r.cc_rows.map(|v| v as f64))),
            count_cell(med(rs, |r| r.lost(r.cc_rows).map(|v| v as f64))),
            count_cell(med(rs, |r| r.sqlite_rows.map(|v| v as f64))),
            per_call.map_or("-".into(), |v| format!("{v:.2}")),
            count_cell(med(rs, |r| r.seed_rows.map(|v| v as f64))),
            count_cell(med(rs, |r| r.lost(r.seed_rows).map(|v| v as f64))),
            format!("{cpu:.2}"),
            delta,
            pct,
            format!(
                "{:.1}",
                med(rs, |r| Some(r.wall.as_secs_f64())).unwrap_or(0.0)
            ),
            format!("{}/{}", rs.iter().filter(|r| r.settled).count(), rs.len()),
        ]);
    }
    print_table(
        &[
            "config",
            "calls placed",
            "queue visits",
            "cc_cdr rows",
            "cc_cdr lost",
            "cdr_sqlite rows",
            "per call",
            "seed rows",
            "seed missing",
            "FS CPU s",
            "Δ CPU s",
            "Δ CPU %",
            "wall s",
            "settled",
        ],
        &rows,
    );
    Ok(())
}
