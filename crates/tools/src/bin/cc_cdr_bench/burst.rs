//! `cc_cdr_bench burst`: captured events fired inside a real FreeSWITCH at
//! 10,000 and more events per second, beyond what calls can make.
//!
//! The module is built with the bench-only `cc_cdr_bench_fire` API
//! (`--features bench`, in target/bench, never installed),
//! which fires copies of `tests/fixtures/six_calls.events` through
//! `switch_event_fire`: each copy is the 60 events of six calls (answered,
//! abandoned, failed over, timed out...) with its own UUIDs and times, and
//! makes 6 `callcenter_cdr` rows. Each rate runs in a fresh FreeSWITCH.
//! It reports how fast the events went in, how soon every row was written,
//! rows lost, the module's queue counters, FreeSWITCH's CPU time, and
//! (`--memory`) FreeSWITCH's resident memory along the way.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mod_cc_cdr::domain::capture::split_events;
use testkit::harness::{FreeSwitch, Installation, Options};

use crate::common::{self, Args, CpuSample};

const HELP: &str = "cc_cdr_bench burst [--rates R...] [--events N] [--memory] [--module PATH]
  --rates R...   events per second to fire at, 0 for as fast as the switch
                 takes them (default: 10000 20000 0)
  --events N     events per rate (default 300000), rounded to whole copies of
                 the 60-event capture
  --memory       sample FreeSWITCH's resident memory, and the visits the
                 module holds, every 5 s
  --settle S     with --memory, go on sampling S seconds after the last row
                 (default 0), to see what is given back once finished visits
                 have been forgotten
  --ends-only    fire only the capture's member-queue-end events (one row
                 each, as the seed script sees calls)
  --module PATH  a mod_cc_cdr built with --features bench (default:
                 build one into target/bench)";

const CAPTURE: &str = "tests/fixtures/six_calls.events";
const EVENTS_PER_COPY: u64 = 60;
const ROWS_PER_COPY: u64 = 6;

fn build_module() -> Result<PathBuf, String> {
    eprintln!("building mod_cc_cdr with --features bench into target/bench ...");
    let status = Command::new("cargo")
        .args(["build", "--release", "--lib", "--features", "bench"])
        .args(["--target-dir", "target/bench"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build --features bench failed".into());
    }
    Ok(PathBuf::from("target/bench/release/libmod_cc_cdr.so"))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Outcome {
    rate: u64,
    fired: u64,
    fire_secs: f64,
    rows_expected: u64,
    rows: u64,
    all_rows_secs: f64,
    spooled: u64,
    dropped: u64,
    cpu_secs: f64,
    writer_cpu_secs: f64,
    top_threads: Vec<(String, f64)>,
    rss: Vec<MemorySample>,
}

/// One sample of `--memory`.
struct MemorySample {
    rss_kib: u64,
    /// Visits and caller hangups the module holds (`cc_cdr status`).
    held: Option<(u64, u64)>,
}

fn held_visits(esl: &mut testkit::esl::EslClient) -> Option<(u64, u64)> {
    let status = esl.api("cc_cdr status").ok()?;
    let line = status.lines().find(|l| l.starts_with("in memory:"))?;
    let mut numbers = line
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok());
    Some((numbers.next()?, numbers.next()?))
}

fn one_rate(
    install: &Installation,
    module: &Path,
    capture: &Path,
    rate: u64,
    copies: u64,
    memory: bool,
    settle: Duration,
) -> Result<Outcome, String> {
    let fs = FreeSwitch::start(install, module, &Options::default())
        .map_err(|e| format!("FreeSWITCH did not start: {e}"))?;
    let ticks = common::clock_ticks();
    let pid = fs.pid();
    let rows_expected = copies * ROWS_PER_COPY;
    let count = || common::count_rows(&fs.db_path, "SELECT count(*) FROM callcenter_cdr");

    // Resident memory, sampled beside the firing.
    let sampling = Arc::new(AtomicBool::new(memory));
    let sampler = {
        let sampling = sampling.clone();
        let mut esl = fs.esl().ok();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                if let Some(rss_kib) = rss_kib(pid) {
                    let held = esl.as_mut().and_then(held_visits);
                    samples.push(MemorySample { rss_kib, held });
                }
                std::thread::sleep(Duration::from_secs(5));
            }
            samples
        })
    };

    let cpu_before = CpuSample::read(pid).ok_or("cannot read FreeSWITCH's CPU time")?;
    let started = Instant::now();
    let mut esl = fs.esl().map_err(|e| e.to_string())?;
    esl.set_timeout(Duration::from_secs(3600))
        .map_err(|e| e.to_string())?;
    let command = if rate == 0 {
        format!("cc_cdr_bench_fire {} {copies}", capture.display())
    } else {
        format!("cc_cdr_bench_fire {} {copies} {rate}", capture.display())
    };
    let answer = esl.api(&command).map_err(|e| e.to_string())?;
    let fire_secs = started.elapsed().as_secs_f64();
    if !answer.starts_with("+OK") {
        return Err(format!("cc_cdr_bench_fire: {}", answer.trim()));
    }
    let fired: u64 = answer
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);

    // Every row in, or no progress for 30 s.
    let mut last = (0, Instant::now());
    loop {
        let rows = count().unwrap_or(0);
        if rows >= rows_expected {
            break;
        }
        if rows != last.0 {
            last = (rows, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let all_rows_secs = started.elapsed().as_secs_f64();
    let cpu_after = CpuSample::read(pid).ok_or("cannot read FreeSWITCH's CPU time")?;
    if memory {
        std::thread::sleep(settle);
    }
    sampling.store(false, Ordering::Relaxed);
    let rss = sampler.join().unwrap_or_default();
    let status = fs.api("cc_cdr status").map_err(|e| e.to_string())?;
    let threads = cpu_before.by_thread_name(&cpu_after, ticks);
    let writer_cpu_secs = threads
        .iter()
        .filter(|(name, _)| name.starts_with("cc_cdr"))
        .map(|(_, secs)| secs)
        .sum();
    let top_threads = threads.into_iter().take(4).collect();
    Ok(Outcome {
        rate,
        fired,
        fire_secs,
        rows_expected,
        rows: count().unwrap_or(0),
        all_rows_secs,
        spooled: common::status_value(&status, "events spooled").unwrap_or(0),
        dropped: common::status_value(&status, "events dropped").unwrap_or(0),
        cpu_secs: cpu_before.secs_until(&cpu_after, ticks),
        writer_cpu_secs,
        top_threads,
        rss,
    })
}

pub fn run(args: &[String]) -> Result<(), String> {
    let args = Args::parse(
        args,
        &[
            "rates",
            "events",
            "memory",
            "settle",
            "module",
            "ends-only",
            "help",
        ],
    )?;
    if args.has("help") {
        println!("{HELP}");
        return Ok(());
    }
    let install = match Installation::find() {
        Ok(install) => install,
        Err(why) => {
            println!("skipped: no FreeSWITCH ({why})");
            return Ok(());
        }
    };
    let rates: Vec<u64> = match args.list("rates") {
        Some(list) => list
            .iter()
            .map(|r| {
                r.parse()
                    .map_err(|_| format!("--rates: '{r}' is not a number"))
            })
            .collect::<Result<_, _>>()?,
        None => vec![10_000, 20_000, 0],
    };
    let events: u64 = args.number("events", 300_000)?;
    let module = match args.text("module")? {
        Some(path) => PathBuf::from(path),
        None => build_module()?,
    };
    let module =
        std::fs::canonicalize(&module).map_err(|e| format!("{}: {e}", module.display()))?;
    let mut capture = std::fs::canonicalize(CAPTURE)
        .map_err(|e| format!("{CAPTURE} (run from the project's top folder): {e}"))?;
    let events_per_copy = if args.has("ends-only") {
        // The same capture, but only its six member-queue-end events.
        let text = std::fs::read_to_string(&capture).map_err(|e| e.to_string())?;
        let ends: Vec<&str> = split_events(&text)
            .filter(|e| e.lines().any(|l| l == "CC-Action: member-queue-end"))
            .collect();
        let path = std::env::temp_dir().join(format!("cc_cdr_ends_{}.events", std::process::id()));
        std::fs::write(&path, ends.join("\n\n") + "\n\n").map_err(|e| e.to_string())?;
        capture = path;
        ends.len() as u64
    } else {
        EVENTS_PER_COPY
    };
    let copies = events.div_ceil(events_per_copy).max(1);
    println!(
        "{} events per rate ({copies} copies of the six calls' events, {} rows expected), fired inside FreeSWITCH",
        copies * events_per_copy,
        copies * ROWS_PER_COPY
    );
    let mut table = Vec::new();
    for rate in rates {
        let o = one_rate(
            &install,
            &module,
            &capture,
            rate,
            copies,
            args.has("memory"),
            Duration::from_secs(args.number("settle", 0)?),
        )?;
        table.push(vec![
            if o.rate == 0 {
                "as fast as taken".into()
            } else {
                o.rate.to_string()
            },
            o.fired.to_string(),
            format!("{:.0}", o.fired as f64 / o.fire_secs),
            format!("{}/{}", o.rows, o.rows_expected),
            (o.rows_expected.saturating_sub(o.rows)).to_string(),
            format!("{:.2}", o.all_rows_secs),
            format!("{:.0}", o.rows as f64 / o.all_rows_secs),
            o.spooled.to_string(),
            o.dropped.to_string(),
            format!("{:.2}", o.cpu_secs),
            format!("{:.2}", o.writer_cpu_secs),
        ]);
        println!(
            "at {} ev/s, FreeSWITCH's busiest threads (CPU s): {}",
            o.rate,
            o.top_threads
                .iter()
                .map(|(name, secs)| format!("{name} {secs:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !o.rss.is_empty() {
            let mib = |kib: u64| kib as f64 / 1024.0;
            println!(
                "resident memory at {} ev/s, every 5 s (MiB): {}",
                o.rate,
                o.rss
                    .iter()
                    .map(|m| format!("{:.1}", mib(m.rss_kib)))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            println!(
                "visits/caller hangups held by the module, every 5 s: {}",
                o.rss
                    .iter()
                    .map(|m| m.held.map_or("?".into(), |(v, h)| format!("{v}/{h}")))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let peak = o.rss.iter().map(|m| m.rss_kib).max().unwrap_or(0);
            println!(
                "  first {:.1} MiB, peak {:.1} MiB, last {:.1} MiB",
                mib(o.rss.first().map_or(0, |m| m.rss_kib)),
                mib(peak),
                mib(o.rss.last().map_or(0, |m| m.rss_kib))
            );
        }
    }
    common::print_table(
        &[
            "rate (ev/s)",
            "fired",
            "fired ev/s",
            "rows",
            "lost",
            "all rows in (s)",
            "rows/s",
            "spooled",
            "dropped",
            "FS CPU (s)",
            "cc_cdr threads CPU (s)",
        ],
        &table,
    );
    Ok(())
}
