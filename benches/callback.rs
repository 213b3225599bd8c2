//! The event callback's cost on FreeSWITCH's dispatch thread: real captured
//! events, laid out in memory as the switch lays them out, delivered to the
//! module's own `extern "C"` callback (guard, header walk, copy, hand-over).
//!
//!     cargo bench --bench callback
//!
//! Each delivery is timed on its own; the median and p99 are printed per kind
//! of event, with the cost of reading the clock (subtracted from nothing).
//! The events handed over are drained between rounds, outside the timing, as
//! the writer thread would. Run by `cargo test`, it does a small smoke run.

use std::time::Instant;

use mod_cc_cdr::BenchEvent;
use mod_cc_cdr::domain::capture::{parse_event, split_events};
use mod_cc_cdr::domain::event::WantedVars;
use mod_cc_cdr::writer::Ingress;

const CAPTURE: &str = include_str!("../tests/fixtures/mixed_run.events");
const ROUND: usize = 1_000;

struct Kind {
    label: &'static str,
    event: BenchEvent,
}

/// The capture's largest event whose name and `CC-Action` match.
fn pick(name: &str, action: Option<&str>, strip_cc: bool) -> BenchEvent {
    let headers = split_events(CAPTURE)
        .map(parse_event)
        .filter(|h| {
            let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_slice());
            get("Event-Name") == Some(name.as_bytes())
                && action.is_none_or(|a| get("CC-Action") == Some(a.as_bytes()))
        })
        .max_by_key(Vec::len)
        .expect("the capture has this event");
    // A channel mod_callcenter never touched: the same hangup without cc_*.
    let headers: Vec<_> = headers
        .into_iter()
        .filter(|(n, _)| !(strip_cc && n.starts_with("variable_cc_")))
        .collect();
    let pairs: Vec<(&[u8], &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_slice()))
        .collect();
    BenchEvent::new(name == "CUSTOM", &pairs)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 500 } else { 2 };
    let mut kinds = vec![
        Kind {
            label: "member-queue-end (answered)",
            event: pick("CUSTOM", Some("member-queue-end"), false),
        },
        Kind {
            label: "bridge-agent-end",
            event: pick("CUSTOM", Some("bridge-agent-end"), false),
        },
        Kind {
            label: "agent-state-change",
            event: pick("CUSTOM", Some("agent-state-change"), false),
        },
        Kind {
            label: "members-count (not used)",
            event: pick("CUSTOM", Some("members-count"), false),
        },
        Kind {
            label: "HANGUP_COMPLETE, queued call",
            event: pick("CHANNEL_HANGUP_COMPLETE", None, false),
        },
        Kind {
            label: "HANGUP_COMPLETE, other call",
            event: pick("CHANNEL_HANGUP_COMPLETE", None, true),
        },
    ];
    // No admin column, then ten (`<columns>`): seven variables the events
    // have, three they lack, as the README's example config might read.
    let ten_columns = WantedVars::named([
        "direction",
        "originate_timeout",
        "origination_caller_id_number",
        "hangup_cause_q850",
        "billsec",
        "channel_name",
        "digits_dialed",
        "account_code",
        "sip_h_X-Campaign",
        "language",
    ]);
    for (setup, wanted) in [
        ("no <columns>", WantedVars::None),
        ("10 <columns>", ten_columns),
    ] {
        println!("\n{setup}");
        run(&mut kinds, wanted, rounds);
    }
}

fn run(kinds: &mut [Kind], wanted: WantedVars, rounds: usize) {
    let (ingress, queue, overflow) = Ingress::detached(ROUND + 1, wanted);

    // The clock's own cost, for reading the figures below.
    let mut clock = Vec::with_capacity(ROUND * rounds);
    for _ in 0..ROUND * rounds {
        let t = Instant::now();
        clock.push(t.elapsed().as_nanos() as u64);
    }
    clock.sort_unstable();
    println!(
        "{} deliveries per kind; reading the clock costs {} ns (median)",
        ROUND * rounds,
        percentile(&clock, 0.5)
    );
    println!(
        "{:<30} {:>8} {:>11} {:>8} {:>8} {:>8}",
        "event", "headers", "handed over", "median", "p99", "mean"
    );
    for kind in kinds.iter_mut() {
        let mut times = Vec::with_capacity(ROUND * rounds);
        let mut handed_over = 0;
        for _ in 0..rounds {
            for _ in 0..ROUND {
                let t = Instant::now();
                kind.event.deliver(&ingress);
                times.push(t.elapsed().as_nanos() as u64);
            }
            handed_over += queue.try_iter().count();
            assert_eq!(overflow.try_iter().count(), 0, "the queue never fills");
        }
        times.sort_unstable();
        let mean = times.iter().sum::<u64>() as f64 / times.len() as f64;
        println!(
            "{:<30} {:>8} {:>11} {:>5} ns {:>5} ns {:>5.0} ns",
            kind.label,
            kind.event.header_count(),
            if handed_over > 0 { "yes" } else { "no" },
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            mean
        );
    }
}
