//! `cc_cdr_bench seed`: mod_cc_cdr and the seed article's ESL script side by
//! side, on the same stream of events.
//!
//! One FreeSWITCH (the project's harness) with mod_cc_cdr loaded and the
//! seed script (`benches/seed/seed_cdr.py`, unchanged, run by
//! `benches/seed/run_seed.py`) connected to its event socket. N copies of a
//! real `member-queue-end` (an answered call, captured from FreeSWITCH
//! 1.10.12) are fired inside the switch with `sendevent`, each with its own
//! caller, member and agent UUIDs, so that each is a distinct row for both.
//! Both consumers see every event; each one's database is polled until it
//! has every row or makes no progress for a while.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mod_cc_cdr::domain::capture::{parse_event, split_events};
use testkit::esl::EslClient;
use testkit::harness::{self, FreeSwitch, Installation, Options, wait_for};
use testkit::scenarios::CALLCENTER_XML;

use crate::common::{
    Args, CpuSample, clock_ticks, count_groups, count_rows, print_table, status_value,
};
use crate::seed_script::{self as script, SeedScript};

const USAGE: &str = "\
usage: cc_cdr_bench seed [--events N] [--connections C] [--fixture FILE] [--idle-secs S]
                         [--python PYTHON] [--keep]

  --events N        member-queue-end events to fire (default 20000)
  --connections C   event-socket connections sending them (default 2)
  --fixture FILE    capture holding the event: its first answered member-queue-end
                    (default tests/fixtures/six_calls.events)
  --idle-secs S     give up on a consumer after S s without a new row (default 30)
  --python PYTHON   the Python that makes target/seed-venv (default python3)
  --keep            keep FreeSWITCH's directory (logs, both databases)";

/// UUID prefixes of the injected events' caller, member and agent.
const CALLER: &str = "5eed0000";
const MEMBER: &str = "5eed0001";
const AGENT: &str = "5eed0002";

fn fresh_uuid(prefix: &str, i: usize) -> String {
    format!("{prefix}-0000-4000-8000-{i:012x}")
}

/// A captured answered `member-queue-end`, as headers to send again, with
/// the UUIDs to replace in them.
struct Template {
    headers: Vec<(String, Vec<u8>)>,
    caller: String,
    member: String,
    agent: String,
}

impl Template {
    fn from_capture(file: &Path) -> Result<Template, String> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        for event in split_events(&text) {
            let headers = parse_event(event);
            let get = |name: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            };
            let answered_end = get("CC-Action").as_deref() == Some("member-queue-end")
                && get("CC-Cause").as_deref() == Some("Terminated")
                && get("variable_billsec").is_some();
            if !answered_end {
                continue;
            }
            let (Some(caller), Some(member), Some(agent)) = (
                get("CC-Member-Session-UUID"),
                get("CC-Member-UUID"),
                get("CC-Agent-UUID"),
            ) else {
                continue;
            };
            let headers = headers
                .into_iter()
                // sendevent's first line names the event; values with a
                // newline cannot be sent (none in the captures).
                .filter(|(n, v)| n != "Event-Name" && !v.contains(&b'\n'))
                .collect();
            return Ok(Template {
                headers,
                caller,
                member,
                agent,
            });
        }
        Err(format!(
            "no answered member-queue-end with variable_billsec in {}",
            file.display()
        ))
    }

    /// Event `i`: the template with UUIDs of its own.
    fn event(&self, i: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        let swaps = [
            (&self.caller, fresh_uuid(CALLER, i)),
            (&self.member, fresh_uuid(MEMBER, i)),
            (&self.agent, fresh_uuid(AGENT, i)),
        ];
        self.headers
            .iter()
            .map(|(name, value)| {
                let value = match std::str::from_utf8(value) {
                    Ok(text) if swaps.iter().any(|(old, _)| text.contains(old.as_str())) => swaps
                        .iter()
                        .fold(text.to_owned(), |t, (old, new)| {
                            t.replace(old.as_str(), new)
                        })
                        .into_bytes(),
                    _ => value.clone(),
                };
                (name.as_bytes().to_vec(), value)
            })
            .collect()
    }
}

/// What a sending thread did: events accepted, refused, and when it finished.
type Sent = Result<(u64, u64, Instant), String>;

/// Sends events `first, first + step, ...` below `count` on a connection of
/// its own.
fn send_events(
    port: u16,
    template: Arc<Template>,
    first: usize,
    step: usize,
    count: usize,
) -> Sent {
    let mut esl = EslClient::connect(
        &format!("127.0.0.1:{port}"),
        harness::ESL_PASSWORD,
        Duration::from_secs(30),
    )
    .map_err(|e| format!("event socket: {e}"))?;
    let (mut sent, mut refused) = (0, 0);
    for i in (first..count).step_by(step) {
        let event = template.event(i);
        let refs: Vec<(&[u8], &[u8])> = event
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
            .collect();
        let reply = esl
            .sendevent("CUSTOM", &refs)
            .map_err(|e| format!("sendevent {i}: {e}"))?;
        if reply.starts_with("+OK") {
            sent += 1;
        } else {
            refused += 1;
        }
    }
    Ok((sent, refused, Instant::now()))
}

/// Rows one consumer has written, polled: how many, and when the last one
/// came (since the first event was sent).
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    rows: u64,
    last_row: Duration,
    last_change: Option<Instant>,
}

impl Progress {
    fn update(&mut self, rows: u64, start: Instant) {
        if rows != self.rows {
            self.rows = rows;
            self.last_row = start.elapsed();
            self.last_change = Some(Instant::now());
        }
    }

    fn rate(&self) -> f64 {
        let secs = self.last_row.as_secs_f64();
        if secs > 0.0 {
            self.rows as f64 / secs
        } else {
            0.0
        }
    }
}

struct Opts {
    events: usize,
    connections: usize,
    fixture: PathBuf,
    idle: Duration,
    python: Option<String>,
    keep: bool,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let a = Args::parse(
        args,
        &[
            "events",
            "connections",
            "fixture",
            "idle-secs",
            "python",
            "keep",
            "help",
        ],
    )?;
    if a.has("help") {
        return Err(USAGE.to_owned());
    }
    let opts = Opts {
        events: a.number("events", 20_000)?,
        connections: a.number("connections", 2)?,
        fixture: a.text("fixture")?.map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/six_calls.events"),
            PathBuf::from,
        ),
        idle: Duration::from_secs(a.number("idle-secs", 30)?),
        python: a.text("python")?.map(str::to_owned),
        keep: a.has("keep"),
    };
    if opts.events == 0 || opts.connections == 0 {
        return Err("--events and --connections must be above 0".into());
    }
    Ok(opts)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let opts = parse(args)?;
    let install = Installation::find()?;
    let module = harness::built_module()?;
    let python = script::ensure_python(opts.python.as_deref())?;
    let template = Arc::new(Template::from_capture(&opts.fixture)?);
    let ticks = clock_ticks();

    let options = Options {
        callcenter_xml: CALLCENTER_XML.to_owned(),
        ..Options::default()
    };
    let mut fs =
        FreeSwitch::start(&install, &module, &options).map_err(|e| format!("FreeSWITCH: {e}"))?;
    fs.keep_dir = opts.keep;
    let seed = SeedScript::start(
        &python,
        &fs.dir.join("db/my_cdr.db"),
        fs.esl_port,
        &fs.dir.join("log/seed.log"),
    )?;
    let cc_count =
        format!("SELECT count(*) FROM callcenter_cdr WHERE member_uuid LIKE '{MEMBER}-%'");
    println!(
        "seed: {} answered member-queue-end events (from {}, {} headers each, UUIDs made unique) \
         fired with sendevent over {} connection(s) into one FreeSWITCH ({}) with mod_cc_cdr \
         loaded and the seed script ({}, Python ESL {}) subscribed to CUSTOM callcenter::info",
        opts.events,
        opts.fixture.display(),
        template.headers.len() + 1,
        opts.connections,
        install.binary.display(),
        script::seed_dir().join("seed_cdr.py").display(),
        script::ESL_PACKAGE,
    );

    let pid = fs.pid();
    let cpu_before = CpuSample::read(pid).ok_or("cannot read FreeSWITCH's /proc stat")?;
    let seed_cpu_before = seed.cpu();
    let start = Instant::now();
    let senders: Vec<JoinHandle<Sent>> = (0..opts.connections)
        .map(|k| {
            let (port, template, step, count) =
                (fs.esl_port, template.clone(), opts.connections, opts.events);
            std::thread::spawn(move || send_events(port, template, k, step, count))
        })
        .collect();

    // The seed's rows, and its rows and error lines: events it has taken.
    let (mut cc, mut sd, mut sd_seen) = (
        Progress::default(),
        Progress::default(),
        Progress::default(),
    );
    let mut seed = seed;
    let mut sending_done: Option<Instant> = None;
    let target = opts.events as u64;
    wait_for(Duration::from_secs(24 * 3600), || {
        cc.update(count_rows(&fs.db_path, &cc_count).unwrap_or(0), start);
        let seed_rows = seed.rows();
        sd.update(seed_rows, start);
        sd_seen.update(seed_rows + seed.errors(), start);
        if sending_done.is_none() && senders.iter().all(JoinHandle::is_finished) {
            sending_done = Some(Instant::now());
        }
        let since_sent = sending_done?;
        let idle = |p: &Progress| {
            p.last_change
                .unwrap_or(since_sent)
                .max(since_sent)
                .elapsed()
                > opts.idle
        };
        let cc_done = cc.rows >= target || idle(&cc);
        let seed_done = sd_seen.rows >= target || idle(&sd_seen) || !seed.is_running();
        (cc_done && seed_done).then_some(())
    });
    let cpu_after = CpuSample::read(pid).ok_or("cannot read FreeSWITCH's /proc stat")?;
    let seed_cpu_after = seed.cpu();

    let (mut sent, mut refused, mut send_end) = (0, 0, start);
    for sender in senders {
        let (s, r, end) = sender
            .join()
            .map_err(|_| "a sending thread panicked".to_owned())??;
        sent += s;
        refused += r;
        send_end = send_end.max(end);
    }
    let send_secs = (send_end - start).as_secs_f64();
    let seed_rows = seed.rows();
    let seed_errors = seed.errors();
    let seed_alive = seed.is_running();
    let status = fs.api("cc_cdr status").unwrap_or_default();
    let closed_by = count_groups(
        &fs.db_path,
        &format!(
            "SELECT closed_by || '/' || coalesce(outcome, 'NULL'), count(*) FROM callcenter_cdr \
             WHERE member_uuid LIKE '{MEMBER}-%' GROUP BY 1 ORDER BY 2 DESC"
        ),
    );

    println!(
        "injection: {sent} events accepted ({refused} refused) in {send_secs:.2} s = {:.0} events/s",
        sent as f64 / send_secs.max(1e-9)
    );
    let consumers = [
        ("mod_cc_cdr", cc.rows, cc.last_row, cc.rate()),
        ("seed script", seed_rows, sd.last_row, sd.rate()),
    ];
    let rows: Vec<Vec<String>> = consumers
        .iter()
        .map(|(name, rows, last, rate)| {
            vec![
                name.to_string(),
                sent.to_string(),
                rows.to_string(),
                sent.saturating_sub(*rows).to_string(),
                format!("{:.2}", last.as_secs_f64()),
                format!("{rate:.0}"),
            ]
        })
        .collect();
    print_table(
        &[
            "consumer",
            "events sent",
            "rows",
            "rows lost",
            "last row after s",
            "rows/s",
        ],
        &rows,
    );
    let after_sent = |last: Duration| last.as_secs_f64() - send_secs;
    println!(
        "after the last event was accepted: mod_cc_cdr's last row {:+.2} s, the seed script's {:+.2} s \
         (a consumer whose last row comes with the last event is bounded by the injection rate, not by itself)",
        after_sent(cc.last_row),
        after_sent(sd.last_row)
    );
    let (cc_rate, seed_rate) = (consumers[0].3, consumers[1].3);
    println!(
        "mod_cc_cdr/seed rows/s: {}",
        if seed_rate > 0.0 {
            format!("{:.1}x", cc_rate / seed_rate)
        } else {
            "- (the seed script wrote no row)".into()
        }
    );
    let closed: Vec<String> = closed_by.iter().map(|(k, n)| format!("{k}={n}")).collect();
    println!(
        "mod_cc_cdr: closed_by/outcome {}; cc_cdr status: {} rows written, {} events dropped",
        closed.join(" "),
        status_value(&status, "rows written").map_or("-".into(), |v| v.to_string()),
        status_value(&status, "events dropped").map_or("-".into(), |v| v.to_string()),
    );
    let kinds: Vec<String> = seed
        .error_kinds()
        .iter()
        .map(|(k, n)| format!("{n} x {k}"))
        .collect();
    println!(
        "seed script: {seed_rows} rows, {seed_errors} 'error: Exception Occured' lines{}; {}",
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        },
        if seed_alive {
            "still running"
        } else {
            "EXITED"
        }
    );
    let seed_cpu = match (seed_cpu_before, seed_cpu_after) {
        (Some(a), Some(b)) => format!("{:.2} s", a.secs_until(&b, ticks)),
        _ => "-".into(),
    };
    println!(
        "CPU from the first event to the end of polling ({:.1} s): FreeSWITCH {:.2} s, the seed script's Python {seed_cpu}",
        start.elapsed().as_secs_f64(),
        cpu_before.secs_until(&cpu_after, ticks),
    );
    let threads: Vec<String> = cpu_before
        .by_thread_name(&cpu_after, ticks)
        .iter()
        .take(8)
        .map(|(n, s)| format!("{n} {s:.2}"))
        .collect();
    println!("FreeSWITCH CPU by thread (s): {}", threads.join(", "));
    if opts.keep {
        println!("kept {}", fs.dir.display());
    }
    drop(seed);
    Ok(())
}
