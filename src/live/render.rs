//! The board as readers show it, at a given present: the same view for
//! `cc_cdr live json` and `/api/live` (`View`, serialized), and an aligned
//! table for fs_cli.

use serde::Serialize;

use super::callcenter::Tiers;
use super::{Activity, Agent, Board, Caller, LiveSettings};
use crate::tz;

#[derive(Serialize, Debug)]
pub struct View {
    pub node: String,
    pub at: String,
    pub at_epoch: i64,
    pub time_zone: String,
    pub today_from: String,
    pub sl_sec: i64,
    pub short_abandon_sec: i64,
    pub sl_formula: &'static str,
    /// Today's counts include the rows written before this load.
    pub seeded: bool,
    pub thresholds: ThresholdsView,
    pub queues: Vec<QueueView>,
    pub agents: Vec<AgentView>,
    pub abandoned_today: Vec<AbandonedView>,
}

#[derive(Serialize, Debug)]
pub struct ThresholdsView {
    pub sl_warn_pct: i64,
    pub sl_alert_pct: i64,
    pub wait_warn_sec: i64,
    pub wait_alert_sec: i64,
}

#[derive(Serialize, Debug)]
pub struct QueueView {
    pub queue: String,
    pub waiting: usize,
    pub longest_wait_sec: Option<i64>,
    pub talking: usize,
    pub agents: AgentCounts,
    pub today: TodayView,
    pub callers: Vec<CallerView>,
}

#[derive(Serialize, Debug, Default, PartialEq, Eq)]
pub struct AgentCounts {
    pub logged_in: usize,
    pub available: usize,
    pub ringing: usize,
    pub on_call: usize,
    pub wrap_up: usize,
    pub on_break: usize,
}

#[derive(Serialize, Debug)]
pub struct TodayView {
    /// The queue's targets: its own (`<queues>`), else the global ones.
    pub sl_sec: i64,
    pub short_abandon_sec: i64,
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    pub short_abandoned: i64,
    pub answered_within_sl: i64,
    pub service_level_pct: Option<f64>,
    pub asa_sec: Option<f64>,
    pub abandon_rate_pct: Option<f64>,
    pub max_wait_sec: Option<i64>,
}

#[derive(Serialize, Debug)]
pub struct CallerView {
    pub uuid: Option<String>,
    pub caller_id_number: Option<String>,
    pub caller_id_name: Option<String>,
    pub state: &'static str,
    pub wait_sec: i64,
    pub since_epoch: i64,
    pub agent: Option<String>,
}

#[derive(Serialize, Debug)]
pub struct AgentView {
    pub agent: String,
    pub status: Option<String>,
    pub state: Option<String>,
    pub activity: &'static str,
    pub since_epoch: Option<i64>,
    pub in_state_sec: Option<i64>,
    pub break_reason: Option<&'static str>,
    pub queues: Vec<String>,
    pub talking_to: Option<TalkingTo>,
    pub today: AgentTodayView,
}

#[derive(Serialize, Debug)]
pub struct TalkingTo {
    pub caller_id_number: Option<String>,
    pub caller_id_name: Option<String>,
    pub queue: String,
    pub since_epoch: Option<i64>,
}

#[derive(Serialize, Debug, Default)]
pub struct AgentTodayView {
    pub answered: i64,
    pub missed: i64,
    pub talk_sec: i64,
}

#[derive(Serialize, Debug)]
pub struct AbandonedView {
    pub queue: String,
    pub caller_id_number: Option<String>,
    pub caller_id_name: Option<String>,
    pub at: String,
    pub wait_sec: Option<i64>,
    pub uuid: Option<String>,
}

/// Rates with two decimals, as the statistics' JSON has them.
fn two_decimals(v: Option<f64>) -> Option<f64> {
    v.filter(|f| f.is_finite())
        .map(|f| (f * 100.0).round() / 100.0)
}

/// The agents of `queue`: its tiers, or, where mod_callcenter's tiers are
/// not known, the agents it offered calls to.
pub(super) fn agents_of<'a>(
    queue: &'a str,
    board: &'a Board,
    tiers: &'a Tiers,
) -> Box<dyn Iterator<Item = &'a str> + 'a> {
    match tiers.by_queue.get(queue) {
        Some(agents) => Box::new(agents.iter().map(String::as_str)),
        None => Box::new(
            board
                .agents
                .iter()
                .filter(move |(_, a)| a.offered_in.contains(queue))
                .map(|(name, _)| name.as_str()),
        ),
    }
}

/// Builds the view at `now_us`, of one queue or all.
pub fn view(
    board: &Board,
    tiers: &Tiers,
    settings: &LiveSettings,
    now_us: i64,
    only_queue: Option<&str>,
) -> View {
    let stats = &settings.stats;
    let now = now_us.div_euclid(1_000_000);
    let local = |t: i64| tz::format(stats.tz.to_local(t));
    let mut queue_names: Vec<&str> = board
        .queues
        .iter()
        .chain(tiers.by_queue.keys())
        .chain(board.queues_today.keys())
        .map(String::as_str)
        .filter(|q| only_queue.is_none_or(|only| only == *q))
        .collect();
    queue_names.sort_unstable();
    queue_names.dedup();
    if let Some(only) = only_queue {
        if queue_names.is_empty() {
            queue_names.push(only);
        }
    }
    let no_agent = Agent::default();
    let agent_of = |name: &str| board.agents.get(name).unwrap_or(&no_agent);
    let talking: std::collections::HashMap<&str, &Caller> = board
        .callers
        .values()
        .filter_map(|c| Some((c.agent.as_deref()?, c)))
        .collect();
    let talking_with = |agent: &str| talking.get(agent).copied();

    let queues = queue_names
        .iter()
        .map(|&queue| {
            let mut callers: Vec<&Caller> = board
                .callers
                .values()
                .filter(|c| c.queue == queue)
                .collect();
            callers.sort_by_key(|c| (c.entered, c.member_uuid.clone()));
            let waiting: Vec<&&Caller> = callers.iter().filter(|c| c.agent.is_none()).collect();
            let mut counts = AgentCounts::default();
            for name in agents_of(queue, board, tiers) {
                match agent_of(name).activity(now_us).0 {
                    Activity::LoggedOut => continue,
                    Activity::Available => counts.available += 1,
                    Activity::Ringing => counts.ringing += 1,
                    Activity::OnCall => counts.on_call += 1,
                    Activity::WrapUp => counts.wrap_up += 1,
                    Activity::OnBreak => counts.on_break += 1,
                    Activity::Idle => {}
                }
                counts.logged_in += 1;
            }
            let today = board.queues_today.get(queue).copied().unwrap_or_default();
            let c = &today.counts;
            let (sl_sec, short_abandon_sec) = stats.targets_of(queue);
            QueueView {
                queue: queue.to_owned(),
                waiting: waiting.len(),
                longest_wait_sec: waiting.iter().map(|c| (now - c.entered).max(0)).max(),
                talking: callers.len() - waiting.len(),
                agents: counts,
                today: TodayView {
                    sl_sec,
                    short_abandon_sec,
                    offered: c.offered,
                    answered: c.answered,
                    abandoned: c.abandoned,
                    short_abandoned: c.short_abandoned,
                    answered_within_sl: c.answered_within_sl,
                    service_level_pct: two_decimals(stats.sl_formula.percent(c)),
                    asa_sec: two_decimals(today.asa_sec()),
                    abandon_rate_pct: two_decimals(c.abandon_rate_pct()),
                    max_wait_sec: today.max_wait,
                },
                callers: callers
                    .iter()
                    .map(|c| CallerView {
                        uuid: c.uuid.clone(),
                        caller_id_number: c.number.clone(),
                        caller_id_name: c.name.clone(),
                        state: c.state(),
                        wait_sec: (c.answered.unwrap_or(now) - c.entered).max(0),
                        since_epoch: c.entered,
                        agent: c.agent.clone(),
                    })
                    .collect(),
            }
        })
        .collect();

    let mut agent_names: Vec<&str> = board
        .agents
        .keys()
        .chain(tiers.by_agent.keys())
        .chain(board.agents_today.keys())
        .map(String::as_str)
        .filter(|name| only_queue.is_none_or(|q| agents_of(q, board, tiers).any(|a| a == *name)))
        .collect();
    agent_names.sort_unstable();
    agent_names.dedup();
    let agents = agent_names
        .into_iter()
        .map(|name| {
            let agent = agent_of(name);
            let known = agent.status.is_some() || agent.state.is_some();
            let (activity, since_us) = agent.activity(now_us);
            let since = (known && since_us > 0).then(|| since_us.div_euclid(1_000_000));
            let queues = match tiers.by_agent.get(name) {
                Some(queues) => queues.iter().cloned().collect(),
                None => agent.offered_in.iter().cloned().collect(),
            };
            let today = board.agents_today.get(name).copied().unwrap_or_default();
            AgentView {
                agent: name.to_owned(),
                status: agent.status.clone(),
                state: agent.state.clone(),
                activity: activity.as_str(),
                since_epoch: since,
                in_state_sec: since.map(|s| (now - s).max(0)),
                break_reason: agent.break_reason.filter(|_| activity == Activity::OnBreak),
                queues,
                talking_to: talking_with(name).map(|c| TalkingTo {
                    caller_id_number: c.number.clone(),
                    caller_id_name: c.name.clone(),
                    queue: c.queue.clone(),
                    since_epoch: c.answered,
                }),
                today: AgentTodayView {
                    answered: today.answered,
                    missed: today.missed,
                    talk_sec: today.talk_sec,
                },
            }
        })
        .collect();

    let abandoned_today = board
        .abandoned
        .iter()
        .rev()
        .filter(|a| only_queue.is_none_or(|q| q == a.queue))
        .map(|a| AbandonedView {
            queue: a.queue.clone(),
            caller_id_number: a.number.clone(),
            caller_id_name: a.name.clone(),
            at: local(a.at),
            wait_sec: a.wait,
            uuid: a.uuid.clone(),
        })
        .collect();

    let t = settings.thresholds;
    View {
        node: settings.node.clone(),
        at: local(now),
        at_epoch: now,
        time_zone: stats.tz.name().to_owned(),
        today_from: local(board.day_start)[..16].to_owned(),
        sl_sec: stats.sl_sec,
        short_abandon_sec: stats.short_abandon_sec,
        sl_formula: stats.sl_formula.as_str(),
        seeded: board.seeded,
        thresholds: ThresholdsView {
            sl_warn_pct: t.sl_warn_pct,
            sl_alert_pct: t.sl_alert_pct,
            wait_warn_sec: t.wait_warn_sec,
            wait_alert_sec: t.wait_alert_sec,
        },
        queues,
        agents,
        abandoned_today,
    }
}

pub fn json(view: &View) -> String {
    let mut text = serde_json::to_string(view).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    text.push('\n');
    text
}

fn opt<T: ToString>(v: Option<T>) -> Option<String> {
    v.map(|v| v.to_string())
}

fn num(v: Option<f64>) -> Option<String> {
    v.map(|f| format!("{f:.1}"))
}

fn mmss(secs: i64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// The view as fs_cli shows it: queues, agents, callers.
pub fn table(view: &View) -> String {
    let own: Vec<String> = view
        .queues
        .iter()
        .filter(|q| {
            (q.today.sl_sec, q.today.short_abandon_sec) != (view.sl_sec, view.short_abandon_sec)
        })
        .map(|q| {
            format!(
                "{} {}/{} s",
                q.queue, q.today.sl_sec, q.today.short_abandon_sec
            )
        })
        .collect();
    let mut out = format!(
        "live view of node {} at {} ({}); today since {}; service level: {} within {} s{}\n\n",
        view.node,
        view.at,
        view.time_zone,
        view.today_from,
        view.sl_formula,
        view.sl_sec,
        crate::stats::targets::header_note(&own.join(", "))
    );
    let queue_rows: Vec<Vec<Option<String>>> = view
        .queues
        .iter()
        .map(|q| {
            let a = &q.agents;
            let t = &q.today;
            vec![
                Some(q.queue.clone()),
                Some(q.waiting.to_string()),
                q.longest_wait_sec.map(mmss),
                Some(q.talking.to_string()),
                Some(a.available.to_string()),
                Some(a.ringing.to_string()),
                Some(a.on_call.to_string()),
                Some(a.wrap_up.to_string()),
                Some(a.on_break.to_string()),
                Some(a.logged_in.to_string()),
                Some(t.offered.to_string()),
                Some(t.answered.to_string()),
                Some(t.abandoned.to_string()),
                num(t.service_level_pct),
                num(t.abandon_rate_pct),
                num(t.asa_sec),
                opt(t.max_wait_sec),
            ]
        })
        .collect();
    out.push_str(&crate::table::format(
        &[
            "queue",
            "waiting",
            "longest",
            "talking",
            "available",
            "ringing",
            "on_call",
            "wrap_up",
            "on_break",
            "logged_in",
            "offered",
            "answered",
            "abandoned",
            "sl_pct",
            "abandon_pct",
            "asa_sec",
            "max_wait",
        ],
        &queue_rows,
    ));
    let agent_rows: Vec<Vec<Option<String>>> = view
        .agents
        .iter()
        .map(|a| {
            vec![
                Some(a.agent.clone()),
                Some(a.activity.to_owned()),
                a.in_state_sec.map(mmss),
                a.status.clone(),
                a.state.clone(),
                a.talking_to
                    .as_ref()
                    .and_then(|t| t.caller_id_number.clone().or(t.caller_id_name.clone())),
                Some(a.today.answered.to_string()),
                Some(a.today.missed.to_string()),
                Some(a.today.talk_sec.to_string()),
                a.break_reason.map(str::to_owned),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&crate::table::format(
        &[
            "agent",
            "activity",
            "in_state",
            "status",
            "state",
            "talking_to",
            "answered",
            "missed",
            "talk_sec",
            "break_reason",
        ],
        &agent_rows,
    ));
    let caller_rows: Vec<Vec<Option<String>>> = view
        .queues
        .iter()
        .flat_map(|q| {
            q.callers.iter().map(|c| {
                vec![
                    Some(q.queue.clone()),
                    c.caller_id_number.clone(),
                    c.caller_id_name.clone(),
                    Some(c.state.to_owned()),
                    Some(mmss(c.wait_sec)),
                    c.agent.clone(),
                ]
            })
        })
        .collect();
    if !caller_rows.is_empty() {
        out.push('\n');
        out.push_str(&crate::table::format(
            &[
                "queue",
                "caller_number",
                "caller_name",
                "state",
                "wait",
                "agent",
            ],
            &caller_rows,
        ));
    }
    out
}
