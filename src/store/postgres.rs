//! The PostgreSQL store: one database shared by every node.
//!
//! tokio-postgres runs on a single-threaded runtime owned by the writer
//! thread (the event threads never touch the network). A batch is one
//! transaction whose statements are pipelined: sent together and answered
//! together, one round trip per batch rather than per row, except where a
//! step must read (an agent's open interval). The connection is made on
//! first use and made again after it is lost; until then writes fail, and
//! the writer keeps rows in its spool.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::str::FromStr;
use std::time::Duration;

use bytes::BytesMut;
use rusqlite::types::Value;
use tokio::runtime::Runtime;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Config, Statement};

use super::StoreError;
use super::dialect::Dialect;
use super::pg_tls;
use super::reader::RowSink;
use super::schema::{MIGRATIONS, add_column_sql, current_version};
use super::statements::{AgentCache, Exec, Node, Statements, agents_changed, columns_written};
use crate::domain::rows::ActivityKind;
use crate::domain::rows::StoreOp;
use crate::logging::{Level, log};
use crate::tz::TimeZone;

/// Key of the advisory lock that serialises schema changes across nodes.
const MIGRATION_LOCK: i64 = 0x6363_5f63_6472; // "cc_cdr"
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows per FETCH of `PgConn::cursor_rows`: what an export holds at once.
const CURSOR_ROWS: usize = 1000;

/// The DSN without its password, for logs and `cc_cdr status`: in the
/// URL's user info or query, or as a `password` key (quoted or not).
pub fn redact(dsn: &str) -> String {
    if let Some(rest) = dsn
        .strip_prefix("postgresql://")
        .or_else(|| dsn.strip_prefix("postgres://"))
    {
        let scheme = &dsn[..dsn.len() - rest.len()];
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let rest = match rest.split_once('@') {
            Some((auth, host)) => match auth.split_once(':') {
                Some((user, _)) => format!("{user}:***@{host}"),
                None => format!("{auth}@{host}"),
            },
            None => rest.to_owned(),
        };
        let query = query.map(|q| {
            q.split('&')
                .map(|pair| match pair.split_once('=') {
                    Some(("password", _)) => "password=***".to_owned(),
                    _ => pair.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        return match query {
            Some(q) => format!("{scheme}{rest}?{q}"),
            None => format!("{scheme}{rest}"),
        };
    }
    pg_tls::redact_key_values(dsn)
}

/// Checks a DSN's syntax (URL or key=value) and its TLS keywords, without
/// connecting.
pub fn check_dsn(dsn: &str) -> Result<(), String> {
    let (rest, _) = pg_tls::split(dsn)?;
    Config::from_str(&rest)
        .map(|_| ())
        .map_err(|e| format!("not a PostgreSQL connection string: {e}"))
}

/// An error and its causes, as one line (a TLS failure's reason is in its
/// source, OpenSSL's error).
fn with_causes(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

fn pg_error(e: tokio_postgres::Error) -> StoreError {
    // The server's message (and detail) says more than the Display of the
    // error's kind alone.
    let text = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    };
    StoreError::Postgres(text)
}

/// A rusqlite value as a PostgreSQL parameter of the statement's type.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                _ => n.to_string().to_sql(ty, out),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Value::Text(s) => s.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn column_value(row: &tokio_postgres::Row, i: usize) -> Result<Value, StoreError> {
    /// Column `i` as `T`, NULL as `Value::Null`, else through `value`.
    fn get<'a, T: FromSql<'a>>(
        row: &'a tokio_postgres::Row,
        i: usize,
        value: impl FnOnce(T) -> Value,
    ) -> Result<Value, StoreError> {
        Ok(row
            .try_get::<_, Option<T>>(i)
            .map_err(pg_error)?
            .map_or(Value::Null, value))
    }
    match *row.columns()[i].type_() {
        Type::INT8 => get(row, i, Value::Integer),
        Type::INT4 => get(row, i, |n: i32| Value::Integer(n.into())),
        Type::INT2 => get(row, i, |n: i16| Value::Integer(n.into())),
        Type::BOOL => get(row, i, |b: bool| Value::Integer(b.into())),
        Type::FLOAT8 => get(row, i, Value::Real),
        Type::FLOAT4 => get(row, i, |f: f32| Value::Real(f.into())),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            get(row, i, Value::Text)
        }
        ref other => Err(StoreError::Postgres(format!(
            "column {} has type {other}, which this module does not read (cast it)",
            row.columns()[i].name()
        ))),
    }
}

/// One connection, with its runtime and its prepared statements.
pub struct PgConn {
    runtime: Runtime,
    client: Client,
    prepared: HashMap<String, Statement>,
}

impl PgConn {
    /// Connects (at most `CONNECT_TIMEOUT`), in the session time zone
    /// `time_zone` when given (the module's local zone, for the `*_stamp`
    /// columns and the views).
    pub fn connect(dsn: &str, time_zone: Option<&str>) -> Result<PgConn, StoreError> {
        let (rest, tls) = pg_tls::split(dsn).map_err(StoreError::Postgres)?;
        let mut config = Config::from_str(&rest)
            .map_err(|e| StoreError::Postgres(format!("bad connection string: {e}")))?;
        config.ssl_mode(tls.client_mode());
        let connector = tls.connector().map_err(StoreError::Postgres)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("mod_cc_cdr");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| StoreError::Postgres(format!("cannot start a runtime: {e}")))?;
        let (client, connection) = runtime.block_on(config.connect(connector)).map_err(|e| {
            let why = with_causes(&e);
            StoreError::Postgres(if why.contains("TLS") || why.contains("SSL") {
                format!(
                    "cannot connect over TLS (cc_cdr.conf param 'db-dsn', {}): {why}",
                    tls.describe()
                )
            } else {
                format!("cannot connect: {why}")
            })
        })?;
        // Runs whenever the writer waits on the client (block_on).
        runtime.spawn(connection);
        let mut conn = PgConn {
            runtime,
            client,
            prepared: HashMap::new(),
        };
        if let Some(zone) = time_zone {
            // A zone the server does not know leaves the server's default.
            let quoted = zone.replace('\'', "''");
            if let Err(e) = conn.batch(&format!("SET TIME ZONE '{quoted}'")) {
                log(
                    Level::Warning,
                    &format!(
                        "PostgreSQL does not know the time zone '{zone}' ({e}): local times \
                         (the *_stamp columns) are in the server's time zone"
                    ),
                );
            }
        }
        Ok(conn)
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Runs statements without parameters (DDL, BEGIN, COMMIT).
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let client = &self.client;
        self.runtime
            .block_on(client.batch_execute(sql))
            .map_err(pg_error)
    }

    fn prepare(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(stmt) = self.prepared.get(sql) {
            return Ok(stmt.clone());
        }
        let client = &self.client;
        let stmt = self
            .runtime
            .block_on(client.prepare(sql))
            .map_err(pg_error)?;
        self.prepared.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    /// Rows of `sql` (with `$N` parameters).
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, StoreError> {
        let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            bound.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.query_with(sql, &refs)
    }

    /// Rows of `sql`, with parameters of any type PostgreSQL takes (arrays).
    fn query_with(
        &mut self,
        sql: &str,
        refs: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Vec<Value>>, StoreError> {
        let stmt = self.prepare(sql)?;
        let client = &self.client;
        let rows = self
            .runtime
            .block_on(client.query(&stmt, refs))
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| (0..row.len()).map(|i| column_value(row, i)).collect())
            .collect()
    }

    /// Rows of `sql` (with `$N` parameters) through a server-side cursor in
    /// a read-only transaction, `CURSOR_ROWS` per FETCH, so that no more
    /// than those are held at once, into `sink`.
    pub fn cursor_rows(
        &mut self,
        sql: &str,
        params: &[Value],
        sink: &mut dyn RowSink,
    ) -> Result<(), String> {
        self.batch("BEGIN READ ONLY").map_err(|e| e.to_string())?;
        let result = self.fetch_all(sql, params, sink);
        if self.is_closed() {
            return result;
        }
        // COMMIT closes the cursor; a failed transaction only rolls back.
        let end = self.batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
        result.and(end.map_err(|e| e.to_string()))
    }

    fn fetch_all(
        &mut self,
        sql: &str,
        params: &[Value],
        sink: &mut dyn RowSink,
    ) -> Result<(), String> {
        let pg = |e: tokio_postgres::Error| pg_error(e).to_string();
        let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            bound.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let client = &self.client;
        let declare = format!("DECLARE cc_cdr_rows NO SCROLL CURSOR FOR {sql}");
        self.runtime
            .block_on(client.execute(declare.as_str(), &refs))
            .map_err(pg)?;
        // Prepared, a FETCH describes its columns even when no row comes.
        let fetch = self
            .runtime
            .block_on(client.prepare(&format!("FETCH {CURSOR_ROWS} FROM cc_cdr_rows")))
            .map_err(pg)?;
        let names: Vec<String> = fetch
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        sink.columns(&names)?;
        let mut values = Vec::with_capacity(names.len());
        loop {
            let rows = self
                .runtime
                .block_on(client.query(&fetch, &[]))
                .map_err(pg)?;
            for row in &rows {
                values.clear();
                for i in 0..row.len() {
                    values.push(column_value(row, i).map_err(|e| e.to_string())?);
                }
                sink.row(&values)?;
            }
            if rows.len() < CURSOR_ROWS {
                return Ok(());
            }
        }
    }

    /// Runs statements in order, pipelined: all are sent before any answer
    /// is awaited. The first failure fails the lot.
    fn execute_pipelined(&mut self, queued: &[(String, Vec<Value>)]) -> Result<(), StoreError> {
        let statements: Vec<Statement> = queued
            .iter()
            .map(|(sql, _)| self.prepare(sql))
            .collect::<Result<_, _>>()?;
        let bound: Vec<Vec<Param<'_>>> = queued
            .iter()
            .map(|(_, params)| params.iter().map(Param).collect())
            .collect();
        let refs: Vec<Vec<&(dyn ToSql + Sync)>> = bound
            .iter()
            .map(|params| params.iter().map(|p| p as &(dyn ToSql + Sync)).collect())
            .collect();
        let client = &self.client;
        let futures = statements
            .iter()
            .zip(&refs)
            .map(|(stmt, params)| client.execute(stmt, params));
        self.runtime
            .block_on(futures_util::future::try_join_all(futures))
            .map(|_| ())
            .map_err(pg_error)
    }
}

/// A batch's statements: queued, and sent when something must be read or
/// at the end.
struct PgExec<'a> {
    conn: &'a mut PgConn,
    queued: Vec<(String, Vec<Value>)>,
}

impl PgExec<'_> {
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.queued.is_empty() {
            return Ok(());
        }
        let queued = std::mem::take(&mut self.queued);
        self.conn.execute_pipelined(&queued)
    }
}

impl Exec for PgExec<'_> {
    type Error = StoreError;

    fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<Option<usize>, StoreError> {
        self.queued.push((sql.to_owned(), params));
        Ok(None)
    }

    fn query_row(
        &mut self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Option<Vec<Value>>, StoreError> {
        self.flush()?;
        Ok(self.conn.query(sql, &params)?.into_iter().next())
    }

    fn query_rows(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, StoreError> {
        self.flush()?;
        self.conn.query(sql, &params)
    }
}

/// The writer's PostgreSQL store.
pub struct PgStore {
    dsn: String,
    time_zone: Option<String>,
    conn: Option<PgConn>,
    statements: Statements,
    node: Node,
    /// Dropped and created again at every connection (the thresholds may
    /// have changed with a reload).
    views_sql: String,
    /// The admin columns this node is configured with: added at each
    /// connection if missing (another node's are left alone).
    columns: Vec<String>,
    /// The admin columns known to be in the table, on this connection.
    known_columns: HashSet<String>,
}

impl PgStore {
    /// The node whose rows this store writes.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// A store that connects on first use: a node whose database is down at
    /// start keeps its rows in the spool, as when it goes down later.
    pub fn new(dsn: &str, node: Node, views_sql: String, time_zone: Option<String>) -> PgStore {
        PgStore {
            dsn: dsn.to_owned(),
            time_zone,
            conn: None,
            statements: Statements::new(Dialect::Postgres),
            node,
            views_sql,
            columns: Vec::new(),
            known_columns: HashSet::new(),
        }
    }

    /// The admin columns to add to `callcenter_cdr` at each connection.
    pub fn with_columns(mut self, columns: Vec<String>) -> PgStore {
        self.columns = columns;
        self
    }

    /// Connects now (and migrates) if not connected.
    pub fn connect(&mut self) -> Result<&mut PgConn, StoreError> {
        let fresh = !self.is_connected();
        let conn = connected(
            &mut self.conn,
            &self.dsn,
            self.time_zone.as_deref(),
            &self.views_sql,
        )?;
        if fresh {
            self.known_columns.clear();
            let names: Vec<&str> = self.columns.iter().map(String::as_str).collect();
            add_columns(conn, &names, &mut self.known_columns)?;
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    /// The database, without its password.
    pub fn target(&self) -> String {
        redact(&self.dsn)
    }

    pub fn is_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// Writes a batch in one transaction. Returns the rows upserted.
    pub fn write(&mut self, ops: &[StoreOp]) -> Result<usize, StoreError> {
        self.connect()?;
        let conn = self.conn.as_mut().expect("connected above");
        // Spooled rows may name a column of an earlier configuration.
        let unknown: Vec<&str> = columns_written(ops)
            .into_iter()
            .filter(|n| !self.known_columns.contains(*n))
            .collect();
        if !unknown.is_empty() {
            add_columns(conn, &unknown, &mut self.known_columns)?;
        }
        let result = write_batch(conn, &self.statements, &self.node, ops);
        if result.is_err() {
            self.statements.rollups.unchecked();
            if conn.is_closed() {
                // Made again at the next try.
                self.conn = None;
            } else {
                let _ = conn.batch("ROLLBACK");
            }
        }
        result
    }

    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        let conn = self.connect()?;
        schema_version(conn)
    }

    /// Keeps the statistics' rollups with these thresholds, or not at all
    /// (see `Statements::set_rollups`).
    pub fn set_rollups(&mut self, enabled: bool, sl_sec: i64, short_sec: i64, zone: &TimeZone) {
        self.statements
            .set_rollups(enabled, sl_sec, short_sec, zone);
    }

    /// Makes every rollup anew from the rows (this node's and the others'),
    /// in one transaction.
    pub fn rebuild_rollups(
        &mut self,
        sl_sec: i64,
        short_sec: i64,
        zone: &TimeZone,
    ) -> Result<(), StoreError> {
        self.statements.rollups.unchecked();
        let conn = self.connect()?;
        conn.batch("BEGIN")?;
        let rollups =
            crate::store::rollups::Rollups::new(Dialect::Postgres, sl_sec, short_sec, zone.clone());
        let mut exec = PgExec {
            conn,
            queued: Vec::new(),
        };
        let result = rollups.rebuild(&mut exec).and_then(|()| exec.flush());
        let conn = exec.conn;
        match result {
            Ok(()) => conn.batch("COMMIT"),
            Err(e) => {
                let _ = conn.batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// The connection, made (and the schema migrated) if there is none or it
/// was lost.
fn connected<'a>(
    slot: &'a mut Option<PgConn>,
    dsn: &str,
    time_zone: Option<&str>,
    views_sql: &str,
) -> Result<&'a mut PgConn, StoreError> {
    if slot.as_ref().is_some_and(PgConn::is_closed) {
        *slot = None;
    }
    if slot.is_none() {
        let mut conn = PgConn::connect(dsn, time_zone)?;
        migrate(&mut conn, views_sql)?;
        *slot = Some(conn);
    }
    Ok(slot.as_mut().expect("connected above"))
}

fn write_batch(
    conn: &mut PgConn,
    statements: &Statements,
    node: &Node,
    ops: &[StoreOp],
) -> Result<usize, StoreError> {
    conn.batch("BEGIN")?;
    let mut agents = agents_of_batch(conn, statements, ops)?;
    let mut exec = PgExec {
        conn,
        queued: Vec::new(),
    };
    let rows = statements.apply(&mut exec, node, Some(&mut agents), ops)?;
    exec.flush()?;
    exec.conn.batch("COMMIT")?;
    Ok(rows)
}

/// What the batch's agent changes need to know, read at its start in one
/// query instead of one per change. The agents' open intervals are locked
/// (`FOR UPDATE`, in name order so that two nodes cannot deadlock on them)
/// until the batch commits: another node changing the same agent waits,
/// then sees this batch's result.
fn agents_of_batch(
    conn: &mut PgConn,
    statements: &Statements,
    ops: &[StoreOp],
) -> Result<AgentCache, StoreError> {
    let mut cache = AgentCache::default();
    let agents = agents_changed(ops);
    if agents.is_empty() {
        return Ok(cache);
    }
    for agent in &agents {
        for kind in [ActivityKind::Status, ActivityKind::State] {
            cache.set_open(agent, kind, None);
        }
        cache.set_wrap_up_end(agent, 0);
    }
    let open = conn.query_with(
        "SELECT agent_name, kind, value, start_us FROM agent_activity \
         WHERE agent_name = ANY($1) AND kind IN ('status', 'state') AND end_us IS NULL \
         ORDER BY agent_name, kind, start_us FOR UPDATE",
        &[&agents as &(dyn ToSql + Sync)],
    )?;
    // Ascending: the latest open interval of each is the one kept. Two open
    // at once happen only when two nodes opened one for the same agent at
    // the same moment, neither seeing the other's: the older is closed
    // where the newer starts.
    let mut previous: Option<(String, String, i64)> = None;
    for row in open {
        if let [
            Value::Text(agent),
            Value::Text(kind),
            Value::Text(value),
            Value::Integer(start),
        ] = &row[..]
        {
            if let Some((p_agent, p_kind, p_start)) = &previous {
                if p_agent == agent && p_kind == kind {
                    let (sql, params) = statements.close_interval(agent, kind, *p_start, *start);
                    conn.query(sql, &params)?;
                }
            }
            if let Some(kind) = ActivityKind::parse(kind) {
                cache.set_open(agent, kind, Some((value.clone(), *start)));
            }
            previous = Some((agent.clone(), kind.clone(), *start));
        }
    }
    // One max() per agent: each is a single step down the agent_activity_open
    // index, where a GROUP BY over all the agents would read their whole
    // history of wrap-ups at every batch.
    let wrap_ups = conn.query_with(
        "SELECT a.name, (SELECT max(end_us) FROM agent_activity \
           WHERE agent_name = a.name AND kind = 'wrap_up') \
         FROM unnest(CAST($1 AS TEXT[])) AS a(name)",
        &[&agents as &(dyn ToSql + Sync)],
    )?;
    for row in wrap_ups {
        if let [Value::Text(agent), Value::Integer(end)] = &row[..] {
            cache.set_wrap_up_end(agent, *end);
        }
    }
    Ok(cache)
}

fn schema_version(conn: &mut PgConn) -> Result<i64, StoreError> {
    let rows = conn.query("SELECT max(version) FROM cc_cdr_schema", &[])?;
    Ok(match rows.first().map(|r| &r[0]) {
        Some(Value::Integer(v)) => *v,
        _ => 0,
    })
}

/// Brings the schema up to date, in one transaction under an advisory lock
/// (nodes starting together take turns), then recreates the views in
/// another: views a user built on ours can block that, which is logged, and
/// must not stop rows being written.
fn migrate(conn: &mut PgConn, views_sql: &str) -> Result<(), StoreError> {
    locked(conn, |conn| {
        conn.batch("CREATE TABLE IF NOT EXISTS cc_cdr_schema (version BIGINT NOT NULL)")?;
        let found = schema_version(conn)?;
        let supported = current_version();
        if found > supported {
            return Err(StoreError::NewerSchema { found, supported });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            conn.batch(&Dialect::Postgres.ddl(sql))?;
            conn.batch(&format!(
                "DELETE FROM cc_cdr_schema; INSERT INTO cc_cdr_schema VALUES ({})",
                index + 1
            ))?;
        }
        Ok(())
    })?;
    if !views_sql.is_empty() {
        if let Err(e) = locked(conn, |conn| conn.batch(views_sql)) {
            if conn.is_closed() {
                return Err(e);
            }
            log(
                Level::Warning,
                &format!("cannot recreate the statistics views in PostgreSQL: {e}"),
            );
        }
    }
    Ok(())
}

/// Adds the admin columns (text) that `callcenter_cdr` lacks, under the
/// migration lock (nodes with different lists each add their own), logs
/// each one added, and notes every column the table has in `known`.
fn add_columns(
    conn: &mut PgConn,
    names: &[&str],
    known: &mut HashSet<String>,
) -> Result<(), StoreError> {
    if names.is_empty() {
        return Ok(());
    }
    let mut added = Vec::new();
    locked(conn, |conn| {
        let present = conn.query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_name = 'callcenter_cdr' AND table_schema = current_schema()",
            &[],
        )?;
        for row in present {
            if let Some(Value::Text(name)) = row.into_iter().next() {
                known.insert(name);
            }
        }
        for name in names {
            if !known.contains(*name) {
                conn.batch(&add_column_sql(name, Dialect::Postgres)?)?;
                known.insert((*name).to_owned());
                added.push(*name);
            }
        }
        Ok(())
    })?;
    for name in added {
        log(
            Level::Notice,
            &format!("added column {name} to callcenter_cdr"),
        );
    }
    Ok(())
}

/// Runs `work` in a transaction holding the module's advisory lock.
fn locked(
    conn: &mut PgConn,
    work: impl FnOnce(&mut PgConn) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    conn.batch(&format!(
        "BEGIN; SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"
    ))?;
    let result = work(conn).and_then(|()| conn.batch("COMMIT"));
    if result.is_err() && !conn.is_closed() {
        let _ = conn.batch("ROLLBACK");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgresql://cc:secret@db:5432/calls"),
            "postgresql://cc:***@db:5432/calls"
        );
        assert_eq!(redact("postgres://cc@db/calls"), "postgres://cc@db/calls");
        assert_eq!(
            redact("host=db password=secret dbname=calls"),
            "host=db password=*** dbname=calls"
        );
        assert_eq!(
            redact("host=db password='se cret' dbname=calls"),
            "host=db password=*** dbname=calls"
        );
        assert_eq!(
            redact("postgresql://cc@db/calls?sslmode=require&password=s3%20cret"),
            "postgresql://cc@db/calls?sslmode=require&password=***"
        );
        assert_eq!(
            redact("host=db password='unterminated"),
            "host=db password=***"
        );
    }

    #[test]
    fn parameters_take_the_statement_s_types() {
        let mut out = BytesMut::new();
        let n = Value::Integer(1_795_392_000_123_456);
        assert!(matches!(
            Param(&n).to_sql(&Type::INT8, &mut out),
            Ok(IsNull::No)
        ));
        assert_eq!(out.len(), 8);
        // A microsecond time does not fit an int4: an error, not a wrapped value.
        assert!(Param(&n).to_sql(&Type::INT4, &mut out).is_err());
        assert!(matches!(
            Param(&Value::Null).to_sql(&Type::TEXT, &mut out),
            Ok(IsNull::Yes)
        ));
    }
}
