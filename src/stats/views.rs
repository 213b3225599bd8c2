//! Views for BI tools (Grafana, Metabase): the same metric definitions as
//! the fs_cli command and the report tool, bucketed by SQLite in the local
//! time of the process that reads them, with the thresholds of the module's
//! configuration. The module recreates them at every load.

use super::metrics::{Bucketing, query};
use super::{Settings, Subject};

/// Hourly and daily buckets, as SQL over an epoch column.
const HOURLY: &str = "strftime('%Y-%m-%d %H:00', EPOCH, 'unixepoch', 'localtime')";
const DAILY: &str = "strftime('%Y-%m-%d', EPOCH, 'unixepoch', 'localtime')";

/// `(view name, SQL)` of every view.
pub fn definitions(settings: &Settings) -> Vec<(String, String)> {
    let mut views = Vec::new();
    for (subject, prefix) in [
        (Subject::Queue, "cc_queue"),
        (Subject::Agent, "cc_agent_calls"),
    ] {
        for (bucket, period) in [(HOURLY, "hour"), (DAILY, "day")] {
            let sql = query(subject, settings, Bucketing::Expression(bucket)).replacen(
                "SELECT bucket, name,",
                &format!("SELECT bucket AS {period}, name AS {},", name_of(subject)),
                1,
            );
            let suffix = if period == "hour" { "hourly" } else { "daily" };
            views.push((format!("{prefix}_{suffix}"), sql));
        }
    }
    // Agent time by status, state and wrap-up: each interval is cut at hour
    // boundaries (open ones end now), then summed per local hour or day.
    let pieces = "WITH RECURSIVE piece(agent_name, kind, value, s, e) AS ( \
        SELECT agent_name, kind, value, start_us, \
               COALESCE(end_us, CAST(strftime('%s', 'now') AS INTEGER) * 1000000) \
        FROM agent_activity \
        UNION ALL \
        SELECT agent_name, kind, value, (s / 3600000000 + 1) * 3600000000, e FROM piece \
        WHERE (s / 3600000000 + 1) * 3600000000 < e) ";
    for (name, bucket) in [
        (
            "cc_agent_time_hourly",
            "strftime('%Y-%m-%d %H:00', s / 1000000, 'unixepoch', 'localtime') AS hour",
        ),
        (
            "cc_agent_time_daily",
            "strftime('%Y-%m-%d', s / 1000000, 'unixepoch', 'localtime') AS day",
        ),
    ] {
        views.push((
            name.to_owned(),
            format!(
                "{pieces}SELECT {bucket}, agent_name AS agent, kind, value, \
                 sum(min(e, (s / 3600000000 + 1) * 3600000000) - s) / 1000000 AS seconds \
                 FROM piece GROUP BY 1, 2, 3, 4"
            ),
        ));
    }
    views
}

fn name_of(subject: Subject) -> &'static str {
    match subject {
        Subject::Queue => "queue",
        Subject::Agent => "agent",
    }
}

/// SQL that drops and recreates every view.
pub fn recreate_sql(settings: &Settings) -> String {
    definitions(settings)
        .into_iter()
        .map(|(name, sql)| format!("DROP VIEW IF EXISTS {name}; CREATE VIEW {name} AS {sql};\n"))
        .collect()
}
