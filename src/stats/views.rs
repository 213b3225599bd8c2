//! Views for BI tools (Grafana, Metabase): the same metric definitions as
//! the fs_cli command and the report tool, bucketed by the database in the
//! local time of the session that reads them (SQLite: the process's zone;
//! PostgreSQL: the session's `TimeZone`), with the thresholds of the
//! module's configuration. The module recreates them at every load (SQLite)
//! or connection (PostgreSQL). They cover every node.

use super::metrics::{Bucketing, query};
use super::{Settings, Subject};
use crate::store::dialect::Dialect;

/// `(view name, SQL)` of every view, in `dialect`. The names and columns
/// are the same on both databases.
pub fn definitions(settings: &Settings, dialect: Dialect) -> Vec<(String, String)> {
    let mut views = Vec::new();
    let hourly = dialect.local_hour("EPOCH");
    let daily = dialect.local_day("EPOCH");
    for (subject, prefix) in [
        (Subject::Queue, "cc_queue"),
        (Subject::Agent, "cc_agent_calls"),
    ] {
        for (bucket, period) in [(&hourly, "hour"), (&daily, "day")] {
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
    let pieces = format!(
        "WITH RECURSIVE piece(agent_name, kind, value, s, e) AS ( \
         SELECT agent_name, kind, value, start_us, COALESCE(end_us, {} * 1000000) \
         FROM agent_activity \
         UNION ALL \
         SELECT agent_name, kind, value, (s / 3600000000 + 1) * 3600000000, e FROM piece \
         WHERE (s / 3600000000 + 1) * 3600000000 < e) ",
        dialect.now_epoch()
    );
    for (name, bucket) in [
        (
            "cc_agent_time_hourly",
            format!("{} AS hour", dialect.local_hour("s / 1000000")),
        ),
        (
            "cc_agent_time_daily",
            format!("{} AS day", dialect.local_day("s / 1000000")),
        ),
    ] {
        views.push((
            name.to_owned(),
            format!(
                "{pieces}SELECT {bucket}, agent_name AS agent, kind, value, \
                 CAST(sum({}(e, (s / 3600000000 + 1) * 3600000000) - s) AS BIGINT) / 1000000 \
                 AS seconds FROM piece GROUP BY 1, 2, 3, 4",
                dialect.least()
            ),
        ));
    }
    views
}

fn name_of(subject: Subject) -> &'static str {
    match subject {
        Subject::Agent => "agent",
        Subject::Queue | Subject::Waits => "queue",
    }
}

/// SQL that drops and recreates every view, in `dialect`.
pub fn recreate_sql(settings: &Settings, dialect: Dialect) -> String {
    definitions(settings, dialect)
        .into_iter()
        .map(|(name, sql)| format!("DROP VIEW IF EXISTS {name}; CREATE VIEW {name} AS {sql};\n"))
        .collect()
}
