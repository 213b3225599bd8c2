//! `/metrics`: the board in Prometheus' text format (version 0.0.4).
//! Base units (seconds), `_total` for counters, ratios in 0..1, labels of
//! low cardinality: the agent label only with `metrics-per-agent`.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::callcenter::Tiers;
use super::render::agents_of;
use super::{Activity, Agent, Board, Histogram, LiveSettings};
use crate::domain::rows::Outcome;

/// A number of the module itself: name, type, help, value.
pub type Health = (&'static str, &'static str, &'static str, u64);

/// A label value, escaped as the format says.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let mut cumulative = 0;
        let bucket = format!("{name}_bucket");
        for (i, count) in h.counts.iter().enumerate() {
            cumulative += count;
            let le = h
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, cumulative);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.sample(&format!("{name}_count"), labels, cumulative);
    }
}

/// The whole scrape.
pub fn render(
    board: &Board,
    tiers: &Tiers,
    settings: &LiveSettings,
    now_us: i64,
    health: &[Health],
) -> String {
    let view = super::render::view(board, tiers, settings, now_us, None);
    let mut out = Out(String::with_capacity(64 * 1024));

    out.family(
        "cc_queue_calls_waiting",
        "gauge",
        "Callers in the queue not yet answered (ringing agents included).",
    );
    for q in &view.queues {
        out.sample("cc_queue_calls_waiting", &[("queue", &q.queue)], q.waiting);
    }
    out.family(
        "cc_queue_oldest_wait_seconds",
        "gauge",
        "How long the caller waiting longest has waited; 0 when none waits.",
    );
    for q in &view.queues {
        let wait = q.longest_wait_sec.unwrap_or(0);
        out.sample("cc_queue_oldest_wait_seconds", &[("queue", &q.queue)], wait);
    }
    out.family(
        "cc_queue_calls_talking",
        "gauge",
        "Callers of the queue talking with an agent.",
    );
    for q in &view.queues {
        out.sample("cc_queue_calls_talking", &[("queue", &q.queue)], q.talking);
    }

    out.family(
        "cc_queue_calls_total",
        "counter",
        "Queue visits ended since the module loaded, by outcome.",
    );
    for q in &view.queues {
        for outcome in Outcome::ALL {
            let n = board
                .totals
                .calls
                .get(&(q.queue.clone(), outcome.as_str()))
                .copied()
                .unwrap_or(0);
            out.sample(
                "cc_queue_calls_total",
                &[("queue", &q.queue), ("outcome", outcome.as_str())],
                n,
            );
        }
    }
    out.family(
        "cc_queue_wait_seconds",
        "histogram",
        "Waits (queue entry to answer, or to hang-up) of answered and abandoned visits \
         ended since the module loaded.",
    );
    for ((queue, outcome), h) in &board.totals.waits {
        out.histogram(
            "cc_queue_wait_seconds",
            &[("queue", queue), ("outcome", outcome)],
            h,
        );
    }
    out.family(
        "cc_queue_talk_seconds",
        "histogram",
        "Talk time (billsec) of answered visits ended since the module loaded.",
    );
    for (queue, h) in &board.totals.talk {
        out.histogram("cc_queue_talk_seconds", &[("queue", queue)], h);
    }

    out.family(
        "cc_agents",
        "gauge",
        "Agents of the queue (its tiers) by mod_callcenter status and state.",
    );
    let no_agent = Agent::default();
    for q in &view.queues {
        let mut by: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for name in agents_of(&q.queue, board, tiers) {
            let agent = board.agents.get(name).unwrap_or(&no_agent);
            let status = agent.status.as_deref().unwrap_or("Logged Out");
            let state = agent.state.as_deref().unwrap_or("");
            *by.entry((status, state)).or_default() += 1;
        }
        for ((status, state), n) in by {
            out.sample(
                "cc_agents",
                &[("queue", &q.queue), ("status", status), ("state", state)],
                n,
            );
        }
    }
    out.family(
        "cc_queue_agents",
        "gauge",
        "Agents of the queue by what they are doing, as the wallboard counts them.",
    );
    for q in &view.queues {
        let a = &q.agents;
        for (activity, n) in [
            ("logged_in", a.logged_in),
            ("available", a.available),
            ("ringing", a.ringing),
            ("on_call", a.on_call),
            ("wrap_up", a.wrap_up),
            ("on_break", a.on_break),
        ] {
            out.sample(
                "cc_queue_agents",
                &[("queue", &q.queue), ("activity", activity)],
                n,
            );
        }
    }
    out.family(
        "cc_agent_offers_total",
        "counter",
        "Offers of callers to agents that ended since the module loaded, by result.",
    );
    for ((queue, result), n) in &board.totals.offers {
        out.sample(
            "cc_agent_offers_total",
            &[("queue", queue), ("result", result)],
            n,
        );
    }

    out.family(
        "cc_queue_today_calls",
        "gauge",
        "Today so far (since local midnight in the statistics time zone): visits offered, \
         answered, abandoned, as cc_cdr stats counts them.",
    );
    for q in &view.queues {
        let t = &q.today;
        for (what, n) in [
            ("offered", t.offered),
            ("answered", t.answered),
            ("abandoned", t.abandoned),
            ("answered_within_sl", t.answered_within_sl),
        ] {
            out.sample(
                "cc_queue_today_calls",
                &[("queue", &q.queue), ("count", what)],
                n,
            );
        }
    }
    out.family(
        "cc_queue_today_service_level_ratio",
        "gauge",
        "Today's service level (sl-formula, the queue's sl-sec) as a ratio; absent when \
         undefined.",
    );
    for q in &view.queues {
        if let Some(pct) = q.today.service_level_pct {
            out.sample(
                "cc_queue_today_service_level_ratio",
                &[("queue", &q.queue)],
                pct / 100.0,
            );
        }
    }
    out.family(
        "cc_queue_service_level_target_seconds",
        "gauge",
        "T of the queue's service level: its own sl-sec (<queues>), else the global one.",
    );
    for q in &view.queues {
        out.sample(
            "cc_queue_service_level_target_seconds",
            &[("queue", &q.queue)],
            q.today.sl_sec,
        );
    }
    out.family(
        "cc_queue_today_asa_seconds",
        "gauge",
        "Today's average speed of answer; absent before the first answer.",
    );
    for q in &view.queues {
        if let Some(asa) = q.today.asa_sec {
            out.sample("cc_queue_today_asa_seconds", &[("queue", &q.queue)], asa);
        }
    }

    if settings.per_agent_metrics {
        out.family(
            "cc_agent_activity",
            "gauge",
            "1 for what the agent is doing now (metrics-per-agent).",
        );
        for a in &view.agents {
            for activity in Activity::ALL {
                let on = u8::from(a.activity == activity.as_str());
                out.sample(
                    "cc_agent_activity",
                    &[("agent", &a.agent), ("activity", activity.as_str())],
                    on,
                );
            }
        }
        out.family(
            "cc_agent_offers_by_agent_total",
            "counter",
            "Offers to the agent that ended since the module loaded, by result \
             (metrics-per-agent).",
        );
        for ((agent, result), n) in &board.totals.agent_offers {
            out.sample(
                "cc_agent_offers_by_agent_total",
                &[("agent", agent), ("result", result)],
                n,
            );
        }
        out.family(
            "cc_agent_talk_seconds_total",
            "counter",
            "Talk time of the agent's answered calls ended since the module loaded \
             (metrics-per-agent).",
        );
        for (agent, secs) in &board.totals.agent_talk {
            out.sample("cc_agent_talk_seconds_total", &[("agent", agent)], secs);
        }
    }

    for (name, kind, help, value) in health {
        out.family(name, kind, help);
        out.sample(name, &[], value);
    }
    out.0
}

/// Every metric family `render` can write: the README's metric list
/// follows it (tests/docs.rs).
pub const FAMILIES: &[&str] = &[
    "cc_queue_calls_waiting",
    "cc_queue_oldest_wait_seconds",
    "cc_queue_calls_talking",
    "cc_queue_calls_total",
    "cc_queue_wait_seconds",
    "cc_queue_talk_seconds",
    "cc_agents",
    "cc_queue_agents",
    "cc_agent_offers_total",
    "cc_queue_today_calls",
    "cc_queue_today_service_level_ratio",
    "cc_queue_service_level_target_seconds",
    "cc_queue_today_asa_seconds",
    "cc_agent_activity",
    "cc_agent_offers_by_agent_total",
    "cc_agent_talk_seconds_total",
];
