//! The database schema and its migrations.
//!
//! The schema version is SQLite's `PRAGMA user_version`, and PostgreSQL's
//! `cc_cdr_schema` table. Each migration moves
//! the database from version `n` to `n + 1`; they run in one transaction at
//! open, so a database is never left half migrated.

use super::dialect::Dialect;

/// Every `callcenter_cdr` column, in table order: the 15 columns of the seed
/// article's table first (same names, so that its users can switch), then the
/// ones this module adds.
pub const CDR_COLUMNS: &[&str] = &[
    "caller_id_number",
    "destination_number",
    "queue_name",
    "agent_name",
    "answered_number",
    "system_entered_stamp",
    "queue_entered_stamp",
    "ring_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "member_uuid",
    "caller_id_name",
    "context",
    "outcome",
    "cancel_reason",
    "wait_sec",
    "ring_sec",
    "agent_attempts",
    "agent_missed",
    "system_entered_epoch",
    "queue_entered_epoch",
    "ring_epoch",
    "answer_epoch",
    "end_epoch",
    "closed_by",
    "resumed",
    "transferred_to",
    "node",
    "node_instance",
    "recording_path",
    "queue_position",
    "exit_position",
    "exit_key",
    "hangup_by",
];

/// Migrations, oldest first. Never edit a released one: add a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first release.
    "CREATE TABLE callcenter_cdr (
        caller_id_number     TEXT,
        destination_number   TEXT,
        queue_name           TEXT,
        agent_name           TEXT,
        answered_number      TEXT,
        system_entered_stamp TEXT,
        queue_entered_stamp  TEXT,
        ring_stamp           TEXT,
        answer_stamp         TEXT,
        end_stamp            TEXT,
        duration             INTEGER,
        billsec              INTEGER,
        hangup_cause         TEXT,
        uuid                 TEXT,
        bleg_uuid            TEXT,
        member_uuid          TEXT NOT NULL,
        caller_id_name       TEXT,
        context              TEXT,
        outcome              TEXT,
        cancel_reason        TEXT,
        wait_sec             INTEGER,
        ring_sec             INTEGER,
        agent_attempts       INTEGER NOT NULL DEFAULT 0,
        agent_missed         INTEGER NOT NULL DEFAULT 0,
        system_entered_epoch INTEGER,
        queue_entered_epoch  INTEGER,
        ring_epoch           INTEGER,
        answer_epoch         INTEGER,
        end_epoch            INTEGER,
        closed_by            TEXT,
        resumed              INTEGER NOT NULL DEFAULT 0,
        transferred_to       TEXT
    );
    CREATE UNIQUE INDEX callcenter_cdr_visit ON callcenter_cdr (member_uuid, COALESCE(uuid, ''));
    CREATE INDEX callcenter_cdr_queue_entered ON callcenter_cdr (queue_entered_epoch);
    CREATE INDEX callcenter_cdr_queue_time ON callcenter_cdr (queue_name, queue_entered_epoch);
    CREATE INDEX callcenter_cdr_agent_time ON callcenter_cdr (agent_name, queue_entered_epoch);
    CREATE INDEX callcenter_cdr_uuid ON callcenter_cdr (uuid);",
    // 2: agent offers and agent activity.
    "CREATE TABLE agent_attempt (
        member_uuid   TEXT NOT NULL,
        uuid          TEXT,
        agent_name    TEXT NOT NULL,
        attempt_no    INTEGER NOT NULL,
        queue_name    TEXT,
        offered_epoch INTEGER,
        ended_epoch   INTEGER,
        ring_sec      INTEGER,
        hangup_cause  TEXT,
        result        TEXT
    );
    CREATE UNIQUE INDEX agent_attempt_key
        ON agent_attempt (member_uuid, COALESCE(uuid, ''), agent_name, attempt_no);
    CREATE INDEX agent_attempt_time ON agent_attempt (offered_epoch);
    CREATE INDEX agent_attempt_agent_time ON agent_attempt (agent_name, offered_epoch);
    CREATE INDEX agent_attempt_queue_time ON agent_attempt (queue_name, offered_epoch);
    CREATE TABLE agent_activity (
        agent_name  TEXT NOT NULL,
        kind        TEXT NOT NULL,
        value       TEXT NOT NULL,
        reason      TEXT,
        start_us    INTEGER NOT NULL,
        end_us      INTEGER,
        start_stamp TEXT NOT NULL,
        end_stamp   TEXT,
        PRIMARY KEY (agent_name, kind, start_us)
    );
    CREATE INDEX agent_activity_open ON agent_activity (agent_name, kind, end_us);
    CREATE INDEX agent_activity_start ON agent_activity (start_us);
    CREATE INDEX agent_activity_end ON agent_activity (end_us);",
    // 3: the node that wrote each row (several FreeSWITCH on one PostgreSQL).
    "ALTER TABLE callcenter_cdr ADD COLUMN node TEXT;
    ALTER TABLE callcenter_cdr ADD COLUMN node_instance TEXT;
    ALTER TABLE agent_attempt ADD COLUMN node TEXT;
    ALTER TABLE agent_attempt ADD COLUMN node_instance TEXT;
    ALTER TABLE agent_activity ADD COLUMN node TEXT;
    ALTER TABLE agent_activity ADD COLUMN node_instance TEXT;",
    // 4: rows of visits in progress (closed_by 'open'), closed at the next
    // load when the switch died; why an agent interval was ended by the
    // module rather than by a change (shutdown, crash).
    "ALTER TABLE agent_activity ADD COLUMN end_reason TEXT;
    CREATE INDEX callcenter_cdr_open ON callcenter_cdr (node) WHERE closed_by = 'open';
    CREATE INDEX agent_attempt_open ON agent_attempt (member_uuid) WHERE result IS NULL;",
    // 5: the recording of a queue call (mod_callcenter's `record-template`).
    // The admin's own columns (`<columns>`) are not migrations: each node
    // adds those it is configured with (`custom_columns_sql`).
    "ALTER TABLE callcenter_cdr ADD COLUMN recording_path TEXT;",
    // 6: what Asterisk's queue_log needs of a visit, and the lines
    // themselves. `id` keeps the order lines were written in, which
    // `time_us` (the fact's time) does not.
    "ALTER TABLE callcenter_cdr ADD COLUMN queue_position INTEGER;
    ALTER TABLE callcenter_cdr ADD COLUMN exit_position INTEGER;
    ALTER TABLE callcenter_cdr ADD COLUMN exit_key TEXT;
    ALTER TABLE callcenter_cdr ADD COLUMN hangup_by TEXT;
    CREATE TABLE queue_log (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        time      TEXT,
        time_us   INTEGER NOT NULL,
        callid    TEXT,
        queuename TEXT,
        agent     TEXT,
        event     TEXT,
        data1     TEXT,
        data2     TEXT,
        data3     TEXT,
        data4     TEXT,
        data5     TEXT,
        node      TEXT
    );
    CREATE INDEX queue_log_time ON queue_log (time_us);",
    // 7: the statistics' rollups (`stats::rollup`), made from the rows at
    // the first load of this schema; the index finds the visit whose
    // after-call work changed.
    "CREATE TABLE stat_queue_15m (
        quarter              BIGINT NOT NULL,
        node                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        offered              BIGINT,
        answered             BIGINT,
        abandoned            BIGINT,
        short_abandoned      BIGINT,
        timeout              BIGINT,
        no_agent_timeout     BIGINT,
        exit_with_key        BIGINT,
        break_out            BIGINT,
        interrupted          BIGINT,
        answered_within_sl   BIGINT,
        abandoned_within_sl  BIGINT,
        wait_answered_sum    BIGINT,
        wait_answered_n      BIGINT,
        wait_abandoned_sum   BIGINT,
        wait_abandoned_n     BIGINT,
        max_wait_sec         BIGINT,
        talk_sum             BIGINT,
        talk_n               BIGINT,
        handle_us_sum        BIGINT,
        handle_n             BIGINT,
        PRIMARY KEY (quarter, name, node)
    );
    CREATE TABLE stat_queue_wait_15m (
        quarter   BIGINT NOT NULL,
        node      TEXT NOT NULL,
        name      TEXT NOT NULL,
        wait_sec  BIGINT NOT NULL,
        answered  BIGINT NOT NULL,
        abandoned BIGINT NOT NULL,
        PRIMARY KEY (quarter, name, node, wait_sec)
    );
    CREATE TABLE stat_agent_15m (
        quarter              BIGINT NOT NULL,
        node                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        offered              BIGINT,
        answered             BIGINT,
        no_answer            BIGINT,
        rejected             BIGINT,
        busy                 BIGINT,
        talk_sec             BIGINT,
        ring_answered_sum    BIGINT,
        ring_answered_n      BIGINT,
        PRIMARY KEY (quarter, name, node)
    );
    CREATE TABLE stat_agent_time_15m (
        quarter      BIGINT NOT NULL,
        node         TEXT NOT NULL,
        name         TEXT NOT NULL,
        wrap_us      BIGINT NOT NULL,
        login_us     BIGINT NOT NULL,
        available_us BIGINT NOT NULL,
        break_us     BIGINT NOT NULL,
        in_call_us   BIGINT NOT NULL,
        idle_us      BIGINT NOT NULL,
        PRIMARY KEY (quarter, name, node)
    );
    CREATE TABLE stat_rollup (
        name  TEXT PRIMARY KEY,
        value BIGINT
    );
    CREATE INDEX callcenter_cdr_agent_end ON callcenter_cdr (agent_name, end_epoch);",
    // 8: one queue's or agent's rollups by name, not by reading every
    // quarter of the range.
    "CREATE INDEX stat_queue_15m_name ON stat_queue_15m (name, quarter);
    CREATE INDEX stat_queue_wait_15m_name ON stat_queue_wait_15m (name, quarter);
    CREATE INDEX stat_agent_15m_name ON stat_agent_15m (name, quarter);
    CREATE INDEX stat_agent_time_15m_name ON stat_agent_time_15m (name, quarter);",
    // 9: the rollups per UTC hour and per day of the configured zone
    // (`stats::levels`), made from the quarters by the writer's first
    // batch; `stat_rollup.zone` names the days' zone.
    "CREATE TABLE stat_queue_1h (
        hour_start           BIGINT NOT NULL,
        node                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        offered              BIGINT,
        answered             BIGINT,
        abandoned            BIGINT,
        short_abandoned      BIGINT,
        timeout              BIGINT,
        no_agent_timeout     BIGINT,
        exit_with_key        BIGINT,
        break_out            BIGINT,
        interrupted          BIGINT,
        answered_within_sl   BIGINT,
        abandoned_within_sl  BIGINT,
        wait_answered_sum    BIGINT,
        wait_answered_n      BIGINT,
        wait_abandoned_sum   BIGINT,
        wait_abandoned_n     BIGINT,
        max_wait_sec         BIGINT,
        talk_sum             BIGINT,
        talk_n               BIGINT,
        handle_us_sum        BIGINT,
        handle_n             BIGINT,
        PRIMARY KEY (hour_start, name, node)
    );
    CREATE INDEX stat_queue_1h_name ON stat_queue_1h (name, hour_start);
    CREATE TABLE stat_queue_wait_1h (
        hour_start           BIGINT NOT NULL,
        node                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        wait_sec             BIGINT NOT NULL,
        answered             BIGINT NOT NULL,
        abandoned            BIGINT NOT NULL,
        PRIMARY KEY (hour_start, name, node, wait_sec)
    );
    CREATE INDEX stat_queue_wait_1h_name ON stat_queue_wait_1h (name, hour_start);
    CREATE TABLE stat_agent_1h (
        hour_start           BIGINT NOT NULL,
        node                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        offered              BIGINT,
        answered             BIGINT,
        no_answer            BIGINT,
        rejected             BIGINT,
        busy                 BIGINT,
        talk_sec             BIGINT,
        ring_answered_sum    BIGINT,
        ring_answered_n      BIGINT,
        PRIMARY KEY (hour_start, name, node)
    );
    CREATE INDEX stat_agent_1h_name ON stat_agent_1h (name, hour_start);
    CREATE TABLE stat_agent_time_1h (
        hour_start           BIGINT NOT NULL,
        node                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        wrap_us              BIGINT NOT NULL,
        login_us             BIGINT NOT NULL,
        available_us         BIGINT NOT NULL,
        break_us             BIGINT NOT NULL,
        in_call_us           BIGINT NOT NULL,
        idle_us              BIGINT NOT NULL,
        PRIMARY KEY (hour_start, name, node)
    );
    CREATE INDEX stat_agent_time_1h_name ON stat_agent_time_1h (name, hour_start);
    CREATE TABLE stat_queue_1d (
        day_start            BIGINT NOT NULL,
        node                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        offered              BIGINT,
        answered             BIGINT,
        abandoned            BIGINT,
        short_abandoned      BIGINT,
        timeout              BIGINT,
        no_agent_timeout     BIGINT,
        exit_with_key        BIGINT,
        break_out            BIGINT,
        interrupted          BIGINT,
        answered_within_sl   BIGINT,
        abandoned_within_sl  BIGINT,
        wait_answered_sum    BIGINT,
        wait_answered_n      BIGINT,
        wait_abandoned_sum   BIGINT,
        wait_abandoned_n     BIGINT,
        max_wait_sec         BIGINT,
        talk_sum             BIGINT,
        talk_n               BIGINT,
        handle_us_sum        BIGINT,
        handle_n             BIGINT,
        PRIMARY KEY (day_start, name, node)
    );
    CREATE INDEX stat_queue_1d_name ON stat_queue_1d (name, day_start);
    CREATE TABLE stat_queue_wait_1d (
        day_start            BIGINT NOT NULL,
        node                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        wait_sec             BIGINT NOT NULL,
        answered             BIGINT NOT NULL,
        abandoned            BIGINT NOT NULL,
        PRIMARY KEY (day_start, name, node, wait_sec)
    );
    CREATE INDEX stat_queue_wait_1d_name ON stat_queue_wait_1d (name, day_start);
    CREATE TABLE stat_agent_1d (
        day_start            BIGINT NOT NULL,
        node                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        offered              BIGINT,
        answered             BIGINT,
        no_answer            BIGINT,
        rejected             BIGINT,
        busy                 BIGINT,
        talk_sec             BIGINT,
        ring_answered_sum    BIGINT,
        ring_answered_n      BIGINT,
        PRIMARY KEY (day_start, name, node)
    );
    CREATE INDEX stat_agent_1d_name ON stat_agent_1d (name, day_start);
    CREATE TABLE stat_agent_time_1d (
        day_start            BIGINT NOT NULL,
        node                 TEXT NOT NULL,
        name                 TEXT NOT NULL,
        wrap_us              BIGINT NOT NULL,
        login_us             BIGINT NOT NULL,
        available_us         BIGINT NOT NULL,
        break_us             BIGINT NOT NULL,
        in_call_us           BIGINT NOT NULL,
        idle_us              BIGINT NOT NULL,
        PRIMARY KEY (day_start, name, node)
    );
    CREATE INDEX stat_agent_time_1d_name ON stat_agent_time_1d (name, day_start);
    ALTER TABLE stat_rollup ADD COLUMN zone TEXT;",
];

/// `agent_attempt` columns, in table order.
pub const ATTEMPT_COLUMNS: &[&str] = &[
    "member_uuid",
    "uuid",
    "agent_name",
    "attempt_no",
    "queue_name",
    "offered_epoch",
    "ended_epoch",
    "ring_sec",
    "hangup_cause",
    "result",
    "node",
    "node_instance",
];

/// `agent_activity` columns, in table order.
pub const ACTIVITY_COLUMNS: &[&str] = &[
    "agent_name",
    "kind",
    "value",
    "reason",
    "start_us",
    "end_us",
    "start_stamp",
    "end_stamp",
    "node",
    "node_instance",
    "end_reason",
];

/// `queue_log` columns, in table order.
pub const QUEUE_LOG_COLUMNS: &[&str] = &[
    "id",
    "time",
    "time_us",
    "callid",
    "queuename",
    "agent",
    "event",
    "data1",
    "data2",
    "data3",
    "data4",
    "data5",
    "node",
];

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// The DDL that adds the admin column `name` (text) to `callcenter_cdr`;
/// refused for a name that is not a plain identifier or is built in
/// (checked at configuration already: this guards the SQL against a spool
/// file written by hand). PostgreSQL's adds it only if missing: a node of
/// an older release may add one without the migration lock.
pub fn add_column_sql(name: &str, d: Dialect) -> Result<String, super::StoreError> {
    if let Some(why) = crate::domain::columns::name_problem(name, CDR_COLUMNS) {
        return Err(super::StoreError::BadColumn(why));
    }
    let if_missing = match d {
        Dialect::Sqlite => "",
        Dialect::Postgres => "IF NOT EXISTS ",
    };
    Ok(format!(
        "ALTER TABLE callcenter_cdr ADD COLUMN {if_missing}{name} TEXT"
    ))
}
