//! The day of the statistics benches (benches/stats.rs,
//! benches/stats_history.rs): `calls` queue visits through 20 queues and
//! 300 agents, with their offers and the agents' activity, as the store
//! operations the writer would write.

use mod_cc_cdr::domain::rows::StoreOp;
use mod_cc_cdr::domain::rows::{ActivityKind, AgentChange};
use mod_cc_cdr::domain::rows::{AttemptRow, CdrRow};

pub const QUEUES: usize = 20;
pub const AGENTS: usize = 300;

/// A small deterministic generator (no rand crate).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn change(agent: &str, kind: ActivityKind, value: &str, at: i64) -> StoreOp {
    StoreOp::AgentChange(AgentChange {
        agent: agent.to_owned(),
        kind,
        value: value.to_owned(),
        reason: None,
        at_us: at * 1_000_000,
    })
}

/// One day of `calls` calls from `day` (a UTC midnight), as the store
/// operations of the writer's batches, in the order they are written.
pub fn batches(day: i64, calls: usize) -> Vec<Vec<StoreOp>> {
    let mut rng = Lcg(42);
    let agents: Vec<String> = (0..AGENTS)
        .map(|a| format!("agent{a:03}@default"))
        .collect();
    // The agents' day, written as its moments come (as the writer sees
    // it): a change written after later ones would make the rollups
    // compute the quarters in between again.
    let mut schedule = Vec::new();
    let mut batches = Vec::new();
    for agent in &agents {
        schedule.push(change(
            agent,
            ActivityKind::Status,
            "Available",
            day + 7 * 3600,
        ));
        schedule.push(change(
            agent,
            ActivityKind::State,
            "Waiting",
            day + 7 * 3600,
        ));
        schedule.push(change(
            agent,
            ActivityKind::Status,
            "On Break",
            day + 12 * 3600,
        ));
        schedule.push(change(
            agent,
            ActivityKind::Status,
            "Available",
            day + 12 * 3600 + 1800,
        ));
        schedule.push(change(
            agent,
            ActivityKind::Status,
            "Logged Out",
            day + 20 * 3600,
        ));
    }
    schedule.sort_by_key(|op| match op {
        StoreOp::AgentChange(c) => c.at_us,
        _ => 0,
    });
    let mut schedule = schedule.into_iter().peekable();
    let mut ops = Vec::new();
    for i in 0..calls {
        let entered = day + (i as i64 * 86_400) / calls as i64;
        while let Some(StoreOp::AgentChange(c)) = schedule.peek() {
            if c.at_us > entered * 1_000_000 {
                break;
            }
            ops.extend(schedule.next());
        }
        let queue = format!("q{:02}@default", i % QUEUES);
        let member = format!("member-{i:08}");
        let roll = rng.next(100);
        let wait = rng.next(90) as i64;
        let outcome = match roll {
            0..=79 => "answered",
            80..=91 => "abandoned",
            92..=95 => "timeout",
            96..=97 => "no_agent_timeout",
            98 => "exit_with_key",
            _ => "break_out",
        };
        let answered = outcome == "answered";
        let agent = &agents[rng.next(AGENTS as u64) as usize];
        let talk = 30 + rng.next(300) as i64;
        let end = entered + wait + if answered { talk } else { 0 };
        if answered && rng.next(4) == 0 {
            let other = &agents[rng.next(AGENTS as u64) as usize];
            ops.push(StoreOp::Attempt(Box::new(AttemptRow {
                member_uuid: member.clone(),
                uuid: Some(format!("caller-{i:08}")),
                agent_name: other.clone(),
                attempt_no: 1,
                queue_name: Some(queue.clone()),
                offered_epoch: Some(entered),
                ended_epoch: Some(entered + 15),
                ring_sec: Some(15),
                hangup_cause: Some("NO_ANSWER".into()),
                result: Some("no_answer"),
            })));
        }
        if answered {
            let ring_start = entered + wait - 3;
            ops.push(StoreOp::Attempt(Box::new(AttemptRow {
                member_uuid: member.clone(),
                uuid: Some(format!("caller-{i:08}")),
                agent_name: agent.clone(),
                attempt_no: 1,
                queue_name: Some(queue.clone()),
                offered_epoch: Some(ring_start),
                ended_epoch: Some(entered + wait),
                ring_sec: Some(3),
                hangup_cause: None,
                result: Some("answered"),
            })));
            ops.push(change(agent, ActivityKind::State, "Receiving", ring_start));
            ops.push(change(
                agent,
                ActivityKind::State,
                "In a queue call",
                entered + wait,
            ));
            ops.push(change(agent, ActivityKind::State, "Waiting", end));
            ops.push(StoreOp::WrapUp {
                agent: agent.clone(),
                start_us: end * 1_000_000,
                secs: 10,
            });
        }
        ops.push(StoreOp::Upsert(Box::new(CdrRow {
            member_uuid: member,
            uuid: Some(format!("caller-{i:08}")),
            queue_name: Some(queue),
            agent_name: answered.then(|| agent.clone()),
            caller_id_number: Some(format!("555{:07}", i % 10_000_000)),
            queue_entered_epoch: Some(entered),
            system_entered_epoch: Some(entered - 5),
            answer_epoch: answered.then_some(entered + wait),
            end_epoch: Some(end),
            duration: Some(end - entered + 5),
            billsec: Some(if answered { talk } else { 0 }),
            wait_sec: Some(wait),
            outcome: Some(outcome),
            agent_attempts: 1,
            closed_by: Some("event"),
            ..CdrRow::default()
        })));
        if ops.len() >= 5000 {
            batches.push(std::mem::take(&mut ops));
        }
    }
    ops.extend(schedule);
    batches.push(ops);
    batches
}
