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

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
                        cc_cdr_web  mod_cc_cdr with its web server (http-listen) and a wallboard
                                    open (GET /api/live and /metrics every 1 s), plus a 50 ms
                                    poller of /api/live that measures the live view's lag
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
    /// mod_cc_cdr's web server on, a wallboard open, the live view's lag measured.
    web: bool,
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
            web: false,
        };
        if text != "none" {
            for part in text.split('+') {
                match part {
                    "cc_cdr" => config.cc_cdr = true,
                    "cc_cdr_web" => {
                        config.cc_cdr = true;
                        config.web = true;
                    }
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
    /// With `cc_cdr_web`: what the pollers saw.
    web: Option<WebResult>,
}

impl RunResult {
    /// Rows the call should have given that a consumer did not write.
    fn lost(&self, rows: Option<u64>) -> Option<u64> {
        Some(self.visits?.saturating_sub(rows?))
    }
}

/// What the web pollers of a `cc_cdr_web` run saw.
#[derive(Clone, Debug, Default)]
struct WebResult {
    /// Wallboard: GET /api/live and /metrics every second.
    wallboard_ok: u64,
    wallboard_failed: u64,
    wallboard_bytes: u64,
    /// The 50 ms lag poller's GETs of /api/live and how long each took.
    polls: u64,
    polls_failed: u64,
    poll_ms: Vec<f64>,
    /// Per call, in ms: originate sent → first poll showing its caller in a
    /// queue's `callers`; → first poll showing it `talking`.
    seen_ms: Vec<f64>,
    talking_ms: Vec<f64>,
    /// Per call, in ms: the poll where the caller is gone minus (the first
    /// poll showing it talking + talk-secs): roughly how late the live view
    /// drops an ended call (its detection lag of `talking` cancels out only
    /// if the two lags are alike).
    gone_late_ms: Vec<f64>,
    /// Calls placed that no poll showed.
    never_seen: u64,
    calls: u64,
    talk_secs: u32,
}

/// One caller's times as the lag poller saw them.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    first: Option<Instant>,
    talking: Option<Instant>,
    gone: Option<Instant>,
}

/// The web side of a `cc_cdr_web` run: the pollers' threads.
struct WebPollers {
    stop: Arc<AtomicBool>,
    wallboard: std::thread::JoinHandle<(u64, u64, u64)>,
    lag: std::thread::JoinHandle<(u64, u64, Vec<f64>, Vec<Seen>)>,
}

/// A free port on 127.0.0.1 for the web server.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("a free port: {e}"))
}

/// GET `path` over one HTTP/1.1 connection (`Connection: close`): the body
/// of a 200 answer.
fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.split(' ').nth(1) == Some("200")).then(|| body.to_owned())
}

/// The end of the JSON array or object opening at `open` in `text` (the
/// index of its closing bracket).
fn json_close(text: &[u8], open: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in text.iter().enumerate().skip(open) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A string field of a flat JSON object.
fn json_str<'a>(object: &'a str, field: &str) -> Option<&'a str> {
    let key = format!("\"{field}\":\"");
    let start = object.find(&key)? + key.len();
    let len = object[start..].find('"')?;
    Some(&object[start..start + len])
}

/// `(caller_id_number, state)` of every caller in every queue's `callers`
/// of an /api/live answer.
fn live_callers(json: &str) -> Vec<(&str, &str)> {
    let bytes = json.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = json[from..].find("\"callers\":[") {
        let open = from + at + "\"callers\":".len();
        let Some(close) = json_close(bytes, open) else {
            break;
        };
        let mut i = open + 1;
        while i < close {
            if bytes[i] == b'{' {
                let Some(end) = json_close(bytes, i) else {
                    break;
                };
                let object = &json[i..=end];
                if let (Some(number), Some(state)) = (
                    json_str(object, "caller_id_number"),
                    json_str(object, "state"),
                ) {
                    found.push((number, state));
                }
                i = end;
            }
            i += 1;
        }
        from = close;
    }
    found
}

impl WebPollers {
    /// Starts the wallboard (GET /api/live and /metrics every second) and
    /// the 50 ms lag poller, which maps callers to calls by their caller id
    /// number (`prefix` and the call's index in 6 digits).
    fn start(addr: SocketAddr, prefix: String, calls: usize) -> WebPollers {
        let stop = Arc::new(AtomicBool::new(false));
        let wallboard = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut failed, mut bytes) = (0, 0, 0);
                let start = Instant::now();
                let mut tick = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    for path in ["/api/live", "/metrics"] {
                        match http_get(addr, path) {
                            Some(body) => {
                                ok += 1;
                                bytes += body.len() as u64;
                            }
                            None => failed += 1,
                        }
                    }
                    tick += 1;
                    let due = start + Duration::from_secs(tick.into());
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
                (ok, failed, bytes)
            })
        };
        let lag = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = vec![Seen::default(); calls];
                let (mut polls, mut failed, mut poll_ms) = (0, 0, Vec::new());
                let mut present = vec![false; calls];
                let start = Instant::now();
                let mut tick = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let answer = http_get(addr, "/api/live");
                    let at = Instant::now();
                    polls += 1;
                    poll_ms.push((at - sent).as_secs_f64() * 1000.0);
                    match answer {
                        Some(body) => {
                            let mut now_present = vec![false; calls];
                            for (number, state) in live_callers(&body) {
                                let Some(i) = number
                                    .strip_prefix(prefix.as_str())
                                    .and_then(|n| n.parse::<usize>().ok())
                                    .filter(|&i| i < calls)
                                else {
                                    continue;
                                };
                                now_present[i] = true;
                                let s = &mut seen[i];
                                s.first.get_or_insert(at);
                                if state == "talking" {
                                    s.talking.get_or_insert(at);
                                }
                            }
                            for (i, s) in seen.iter_mut().enumerate() {
                                if present[i] && !now_present[i] && s.gone.is_none() {
                                    s.gone = Some(at);
                                }
                            }
                            present = now_present;
                        }
                        None => failed += 1,
                    }
                    tick += 1;
                    let due = start + Duration::from_millis(50 * u64::from(tick));
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
                (polls, failed, poll_ms, seen)
            })
        };
        WebPollers {
            stop,
            wallboard,
            lag,
        }
    }

    /// Stops the pollers; their figures against the originates' send times.
    fn finish(self, sent: &[Option<Instant>], talk_secs: u32) -> WebResult {
        self.stop.store(true, Ordering::Relaxed);
        let (wallboard_ok, wallboard_failed, wallboard_bytes) =
            self.wallboard.join().unwrap_or_default();
        let (polls, polls_failed, poll_ms, seen) = self.lag.join().unwrap_or_default();
        let mut result = WebResult {
            wallboard_ok,
            wallboard_failed,
            wallboard_bytes,
            polls,
            polls_failed,
            poll_ms,
            talk_secs,
            ..WebResult::default()
        };
        let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1000.0;
        for (s, sent) in seen.iter().zip(sent) {
            let Some(sent) = *sent else { continue };
            result.calls += 1;
            let Some(first) = s.first else {
                result.never_seen += 1;
                continue;
            };
            result.seen_ms.push(ms(sent, first));
            if let Some(talking) = s.talking {
                result.talking_ms.push(ms(sent, talking));
                if let Some(gone) = s.gone {
                    let end = talking + Duration::from_secs(talk_secs.into());
                    let late = if gone >= end {
                        ms(end, gone)
                    } else {
                        -ms(gone, end)
                    };
                    result.gone_late_ms.push(late);
                }
            }
        }
        result
    }
}

fn max_of(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, f64::max)
}

/// `median / max ms (n)` of some lags.
fn lag_cell(values: &[f64]) -> String {
    if values.is_empty() {
        return "-".into();
    }
    format!(
        "{:.0} / {:.0} ms (n={})",
        median(values),
        max_of(values),
        values.len()
    )
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
    sent: Arc<Mutex<Vec<Option<Instant>>>>,
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
        let at = Instant::now();
        match esl.api(&command) {
            Ok(reply) if reply.starts_with("+OK") => {
                placed += 1;
                if let Some(slot) = sent.lock().expect("not poisoned").get_mut(i) {
                    *slot = Some(at);
                }
            }
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
    let web_addr = if config.web {
        Some(SocketAddr::from(([127, 0, 0, 1], free_port()?)))
    } else {
        None
    };
    let options = Options {
        callcenter_xml: callcenter_xml(opts.agents, opts.talk_secs, opts.answer_delay_ms),
        cc_cdr_params: web_addr
            .map(|a| vec![("http-listen".to_owned(), a.to_string())])
            .unwrap_or_default(),
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
    if let Some(addr) = web_addr {
        wait_for(Duration::from_secs(30), || {
            http_get(addr, "/api/live").map(|_| ())
        })
        .ok_or_else(|| format!("no answer from the web server at {addr}"))?;
    }
    let pid = fs.pid();
    if !wait_quiet(pid, ticks) {
        eprintln!("  (FreeSWITCH did not settle below 5 % CPU within 30 s; measuring anyway)");
    }

    let prefix = format!("9{:02}", run % 100);
    let sessions_before = sessions_since_startup(&mut esl).unwrap_or(0);
    let cpu_before = CpuSample::read(pid).ok_or("cannot read FreeSWITCH's /proc stat")?;
    let seed_cpu_before = seed.as_ref().and_then(SeedScript::cpu);
    let sent = Arc::new(Mutex::new(vec![None; opts.calls()]));
    let pollers = web_addr.map(|addr| WebPollers::start(addr, prefix.clone(), opts.calls()));
    let start = Instant::now();
    let placer = {
        let (port, rate, count, prefix) = (fs.esl_port, opts.rate, opts.calls(), prefix.clone());
        let sent = sent.clone();
        std::thread::spawn(move || place_calls(port, rate, count, &prefix, start, sent))
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
    let web = pollers.map(|p| p.finish(&sent.lock().expect("not poisoned"), opts.talk_secs));
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
        web,
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
    if let Some(w) = &r.web {
        println!(
            "    wallboard: {} GETs ok, {} failed, {:.1} MB; lag poller: {} GETs of /api/live \
             ({} failed), each {:.1} ms median, {:.0} ms max",
            w.wallboard_ok,
            w.wallboard_failed,
            w.wallboard_bytes as f64 / 1e6,
            w.polls,
            w.polls_failed,
            if w.poll_ms.is_empty() {
                f64::NAN
            } else {
                median(&w.poll_ms)
            },
            max_of(&w.poll_ms)
        );
        println!(
            "    live view lag (median / max): originate sent -> caller in /api/live {}; \
             -> talking {}; gone after talking + {} s {}; {} of {} calls never seen",
            lag_cell(&w.seen_ms),
            lag_cell(&w.talking_ms),
            w.talk_secs,
            lag_cell(&w.gone_late_ms),
            w.never_seen,
            w.calls
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
    for (config, rs) in opts.configs.iter().zip(&results) {
        let webs: Vec<&WebResult> = rs.iter().filter_map(|r| r.web.as_ref()).collect();
        if webs.is_empty() {
            continue;
        }
        let all = |f: fn(&WebResult) -> &Vec<f64>| -> Vec<f64> {
            webs.iter().flat_map(|w| f(w).iter().copied()).collect()
        };
        println!(
            "{}: live view lag over all {} run(s) (median / max, n = calls): originate sent -> \
             caller in /api/live {}; -> talking {}; gone after talking + {} s {}; \
             never seen {} of {}",
            config.name,
            webs.len(),
            lag_cell(&all(|w| &w.seen_ms)),
            lag_cell(&all(|w| &w.talking_ms)),
            opts.talk_secs,
            lag_cell(&all(|w| &w.gone_late_ms)),
            webs.iter().map(|w| w.never_seen).sum::<u64>(),
            webs.iter().map(|w| w.calls).sum::<u64>()
        );
    }
    Ok(())
}
