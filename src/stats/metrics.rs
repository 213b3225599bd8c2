//! The definition of every queue metric and every call-based agent metric,
//! as SQL. `sql` builds the query the fs_cli command and the report tool run;
//! `views` builds the database views from the same definitions, on SQLite
//! and PostgreSQL alike.
//!
//! Attribution: a queue visit counts in the interval where it entered the
//! queue; an offer to an agent counts in the interval where it was offered.
//! A visit counts once it has ended (its row is no longer `open`), an offer
//! once it has a result.

use super::{Request, Settings, Subject};
use crate::store::dialect::Dialect;

/// One metric: its column name, its SQL, and what it means (the README's
/// metric reference follows this list).
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub name: &'static str,
    /// An aggregate over the base rows, or, when `derived`, an expression
    /// over the other metrics. `SL` stands for the service-level formula.
    pub sql: &'static str,
    pub derived: bool,
    /// Whole numbers (counts, sums of seconds); else a rate or an average.
    pub integral: bool,
    pub shown: bool,
    pub unit: &'static str,
    pub meaning: &'static str,
}

const fn count(name: &'static str, sql: &'static str, meaning: &'static str) -> Metric {
    Metric {
        name,
        sql,
        derived: false,
        integral: true,
        shown: true,
        unit: "calls",
        meaning,
    }
}

/// Queue metrics, over `callcenter_cdr` rows `c` (and `w`, the agent's
/// wrap-up interval that starts when the call ended).
pub const QUEUE: &[Metric] = &[
    count(
        "offered",
        "count(*)",
        "Queue visits: every caller entering the queue.",
    ),
    count(
        "answered",
        "sum(CAST(c.outcome = 'answered' AS INTEGER))",
        "Visits an agent answered.",
    ),
    count(
        "abandoned",
        "sum(CAST(c.outcome = 'abandoned' AS INTEGER))",
        "Visits where the caller hung up before an agent answered.",
    ),
    count(
        "short_abandoned",
        "sum(CASE WHEN c.outcome = 'abandoned' AND c.wait_sec <= :short THEN 1 ELSE 0 END)",
        "Abandons with a wait of at most short-abandon-sec.",
    ),
    count(
        "timeout",
        "sum(CAST(c.outcome = 'timeout' AS INTEGER))",
        "Visits ended by the queue's max-wait-time.",
    ),
    count(
        "no_agent_timeout",
        "sum(CAST(c.outcome = 'no_agent_timeout' AS INTEGER))",
        "Visits ended by max-wait-time-with-no-agent.",
    ),
    count(
        "exit_with_key",
        "sum(CAST(c.outcome = 'exit_with_key' AS INTEGER))",
        "Visits the caller left with a cc_exit_keys key.",
    ),
    count(
        "break_out",
        "sum(CAST(c.outcome = 'break_out' AS INTEGER))",
        "Visits the caller left alive, e.g. transferred away.",
    ),
    count(
        "interrupted",
        "sum(CAST(c.outcome = 'interrupted' AS INTEGER))",
        "Visits the switch's stop (a crash, a shutdown) cut while the caller waited: \
         not answered, not abandoned; counted in offered like a timeout.",
    ),
    count(
        "answered_within_sl",
        "sum(CASE WHEN c.outcome = 'answered' AND c.wait_sec <= :sl THEN 1 ELSE 0 END)",
        "Answered visits with a wait of at most sl-sec (answered at exactly T counts).",
    ),
    Metric {
        shown: false,
        ..count(
            "abandoned_within_sl",
            "sum(CASE WHEN c.outcome = 'abandoned' AND c.wait_sec <= :sl THEN 1 ELSE 0 END)",
            "Abandons with a wait of at most sl-sec (used by some service-level formulas).",
        )
    },
    Metric {
        name: "service_level_pct",
        sql: "SL",
        derived: true,
        integral: false,
        shown: true,
        unit: "%",
        meaning: "Service level by the chosen sl-formula; the default is \
                  answered_within_sl / (offered − short_abandoned).",
    },
    Metric {
        name: "abandon_rate_pct",
        sql: "100.0 * (abandoned - short_abandoned) / NULLIF(offered - short_abandoned, 0)",
        derived: true,
        integral: false,
        shown: true,
        unit: "%",
        meaning: "(abandoned − short_abandoned) / (offered − short_abandoned).",
    },
    Metric {
        name: "asa_sec",
        sql: "avg(CASE WHEN c.outcome = 'answered' THEN c.wait_sec END)",
        derived: false,
        integral: false,
        shown: true,
        unit: "s",
        meaning: "Average speed of answer: mean wait (queue entry to answer) of answered visits.",
    },
    Metric {
        name: "avg_abandon_wait_sec",
        sql: "avg(CASE WHEN c.outcome = 'abandoned' THEN c.wait_sec END)",
        derived: false,
        integral: false,
        shown: true,
        unit: "s",
        meaning: "Mean wait of abandoned visits, short ones included.",
    },
    Metric {
        name: "max_wait_sec",
        sql: "max(c.wait_sec)",
        derived: false,
        integral: true,
        shown: true,
        unit: "s",
        meaning: "Longest wait of any visit (to answer, or to the end when unanswered).",
    },
    Metric {
        name: "avg_talk_sec",
        sql: "avg(CASE WHEN c.outcome = 'answered' THEN c.billsec END)",
        derived: false,
        integral: false,
        shown: true,
        unit: "s",
        meaning: "Mean talk time (billsec) of answered visits.",
    },
    Metric {
        name: "aht_sec",
        sql: "avg(CASE WHEN c.outcome = 'answered' \
              THEN c.billsec + COALESCE((w.end_us - w.start_us) / 1e6, 0) END)",
        derived: false,
        integral: false,
        shown: true,
        unit: "s",
        meaning: "Average handle time: mean of talk + the agent's wrap-up after the call, \
                  over answered visits.",
    },
];

/// Call-based agent metrics, over `agent_attempt` rows `a` (and `c`, the
/// visit's row when this offer was the one answered).
pub const AGENT: &[Metric] = &[
    count(
        "offered",
        "count(*)",
        "Offers of a caller to the agent (rings).",
    ),
    count(
        "answered",
        "sum(CAST(a.result = 'answered' AS INTEGER))",
        "Offers the agent answered.",
    ),
    count(
        "no_answer",
        "sum(CAST(a.result = 'no_answer' AS INTEGER))",
        "Offers that rang out unanswered.",
    ),
    count(
        "rejected",
        "sum(CAST(a.result = 'rejected' AS INTEGER))",
        "Offers the agent rejected.",
    ),
    count(
        "busy",
        "sum(CAST(a.result = 'busy' AS INTEGER))",
        "Offers that found the agent busy.",
    ),
    Metric {
        name: "answer_rate_pct",
        sql: "100.0 * answered / NULLIF(offered, 0)",
        derived: true,
        integral: false,
        shown: true,
        unit: "%",
        meaning: "answered / offered.",
    },
    Metric {
        name: "talk_sec",
        sql: "COALESCE(sum(c.billsec), 0)",
        derived: false,
        integral: true,
        shown: true,
        unit: "s",
        meaning: "Talk time (billsec) of the calls the agent answered.",
    },
    Metric {
        name: "avg_talk_sec",
        sql: "1.0 * talk_sec / NULLIF(answered, 0)",
        derived: true,
        integral: false,
        shown: true,
        unit: "s",
        meaning: "talk_sec / answered.",
    },
    Metric {
        name: "avg_ring_sec",
        sql: "avg(CASE WHEN a.result = 'answered' THEN a.ring_sec END)",
        derived: false,
        integral: false,
        shown: true,
        unit: "s",
        meaning: "Mean time the agent's phone rang before the agent answered.",
    },
];

/// Whether a request names one queue or agent (`:name`) and one node
/// (`:node`). The condition is written only for those given, so that the
/// database can read one name's rows through its index: `:name IS NULL OR
/// name = :name` would have it read every name's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Given {
    pub name: bool,
    pub node: bool,
}

impl Given {
    /// What `request` names.
    pub fn of(request: &Request) -> Given {
        Given {
            name: request.name.is_some(),
            node: request.node.is_some(),
        }
    }

    /// The condition on the columns `name` and `node`; `1 = 1` for none.
    pub fn condition(self, name: &str, node: &str) -> String {
        let mut parts = Vec::new();
        if self.name {
            parts.push(format!("{name} = :name"));
        }
        if self.node {
            parts.push(format!("{node} = :node"));
        }
        if parts.is_empty() {
            "1 = 1".to_owned()
        } else {
            parts.join(" AND ")
        }
    }
}

/// How rows fall into intervals.
pub enum Bucketing<'a> {
    /// The rows of `[:from, :to)` into the intervals that start at `starts`
    /// (`Dialect::bucket_of`; the reader's `set_buckets` has them), of the
    /// queue or agent `:name` and the node `:node` (each NULL for all).
    /// fs_cli and the report tool.
    /// With a `map`, `starts` are those of the parts of the range, and
    /// `map` their intervals (`stats::filter`).
    Range {
        dialect: Dialect,
        starts: &'a [i64],
        map: &'a [Option<usize>],
        given: Given,
    },
    /// All rows, by an SQL expression of `EPOCH`; the thresholds are
    /// literals. The views.
    Expression(&'a str),
}

/// The query of a metric set: columns `bucket`, `name`, then every metric
/// in list order. With `Bucketing::Range`, it takes `:from`, `:to`,
/// `:name`, `:node`, `:sl` and `:short`.
///
/// The same text runs on SQLite and PostgreSQL: conditions are counted as
/// `sum(CAST(condition AS INTEGER))` (SQLite's sum of a comparison), and
/// every metric is cast to BIGINT (whole numbers) or DOUBLE PRECISION, so
/// that PostgreSQL returns no NUMERIC.
pub fn query(subject: Subject, settings: &Settings, bucketing: Bucketing<'_>) -> String {
    let set = metrics_of(subject);
    let (epoch, name, node, ended, from) = if subject == Subject::Queue {
        (
            "c.queue_entered_epoch",
            "c.queue_name",
            "c.node",
            "COALESCE(c.closed_by, '') <> 'open'",
            "callcenter_cdr c LEFT JOIN agent_activity w ON w.agent_name = c.agent_name \
             AND w.kind = 'wrap_up' AND w.start_us = c.end_epoch * 1000000",
        )
    } else {
        (
            "a.offered_epoch",
            "a.agent_name",
            "a.node",
            "a.result IS NOT NULL",
            "agent_attempt a LEFT JOIN callcenter_cdr c ON c.member_uuid = a.member_uuid \
             AND c.agent_name || '' = a.agent_name AND a.result = 'answered'",
        )
    };
    let (bucket, filter) = match bucketing {
        Bucketing::Range {
            dialect,
            starts,
            map,
            given,
        } => (
            dialect.bucket_of(epoch, starts, map),
            format!(
                "WHERE {ended} AND {epoch} >= :from AND {epoch} < :to AND {}",
                given.condition(name, node)
            ),
        ),
        Bucketing::Expression(expr) => (expr.replace("EPOCH", epoch), format!("WHERE {ended}")),
    };
    let inner: Vec<String> = set
        .iter()
        .filter(|m| !m.derived)
        .map(|m| format!("{} AS {}", m.sql, m.name))
        .collect();
    let outer: Vec<String> = set
        .iter()
        .map(|m| outer_column(m, settings, m.name))
        .collect();
    let sql = format!(
        "SELECT bucket, name, {} FROM (SELECT {bucket} AS bucket, {name} AS name, {} \
         FROM {from} {filter} GROUP BY 1, 2) AS counted \
         WHERE bucket IS NOT NULL AND name IS NOT NULL ORDER BY name, bucket",
        outer.join(", "),
        inner.join(", "),
    );
    match bucketing {
        Bucketing::Range { .. } => sql,
        // Each queue's own thresholds, as literals (`targets::literal`).
        Bucketing::Expression(_) => sql
            .replace(
                ":sl",
                &super::targets::literal(settings, "c.queue_name", true),
            )
            .replace(
                ":short",
                &super::targets::literal(settings, "c.queue_name", false),
            ),
    }
}

/// A metric of a query's outer select, as `AS` its name: a derived one
/// from the others (the service level by the formula of `settings`), a
/// counted one as `counted` (its inner column, or what stands for it), cast
/// to BIGINT or DOUBLE PRECISION so that both databases return the same.
pub fn outer_column(m: &Metric, settings: &Settings, counted: &str) -> String {
    let value = match (m.derived, m.sql) {
        (true, "SL") => settings.sl_formula.sql(),
        (true, sql) => sql,
        (false, _) => counted,
    };
    let ty = if m.integral {
        "BIGINT"
    } else {
        "DOUBLE PRECISION"
    };
    format!("CAST({value} AS {ty}) AS {}", m.name)
}

/// The metrics of a subject, in column order.
pub fn metrics_of(subject: Subject) -> &'static [Metric] {
    match subject {
        Subject::Queue => QUEUE,
        Subject::Agent => AGENT,
        // Not metrics over intervals: `waits` has its own query.
        Subject::Waits => &[],
    }
}
