//! Persistence: the schema, its migrations, and the writer's store, in
//! SQLite (embedded, the default) or PostgreSQL (shared by several nodes).

pub mod dialect;
pub mod pg_tls;
pub mod postgres;
pub mod queue_log_rows;
pub mod reader;
pub mod rollups;
pub mod schema;
pub mod sqlite;
pub mod statements;

use std::fmt;
use std::path::PathBuf;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use statements::Node;

use crate::domain::rows::StoreOp;
use crate::tz::TimeZone;

/// Where the rows go: `db-path` or `db-dsn`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl fmt::Display for Database {
    /// The file, or the DSN without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(dsn) => write!(f, "{}", postgres::redact(dsn)),
        }
    }
}

/// Why the store could not be opened or written.
#[derive(Debug)]
pub enum StoreError {
    Open {
        path: PathBuf,
        reason: String,
    },
    NewerSchema {
        found: i64,
        supported: i64,
    },
    Sql(rusqlite::Error),
    Postgres(String),
    /// An admin column that cannot be one.
    BadColumn(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Open { path, reason } => {
                write!(f, "cannot open database {}: {reason}", path.display())
            }
            StoreError::NewerSchema { found, supported } => write!(
                f,
                "database schema version {found} is newer than this module supports ({supported})"
            ),
            StoreError::Sql(e) => write!(f, "SQLite: {e}"),
            StoreError::Postgres(e) => write!(f, "PostgreSQL: {e}"),
            StoreError::BadColumn(why) => write!(f, "column refused: {why}"),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e)
    }
}

/// The writer's store, on either backend.
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Makes the connection now where there is one to make (PostgreSQL),
    /// and says so.
    pub fn connect(&mut self) -> Result<Option<String>, StoreError> {
        match self {
            Store::Sqlite(_) => Ok(None),
            Store::Postgres(store) => {
                let already = store.is_connected();
                store.connect()?;
                Ok((!already).then(|| format!("connected to {}", store.target())))
            }
        }
    }

    /// Writes a batch in one transaction. Returns the rows upserted.
    /// The node whose rows this store writes.
    pub fn node(&self) -> &Node {
        match self {
            Store::Sqlite(store) => store.node(),
            Store::Postgres(store) => store.node(),
        }
    }

    /// Keeps the statistics' rollups with these thresholds, or not at all.
    pub fn set_rollups(&mut self, enabled: bool, sl_sec: i64, short_sec: i64, zone: &TimeZone) {
        match self {
            Store::Sqlite(store) => store.set_rollups(enabled, sl_sec, short_sec, zone),
            Store::Postgres(store) => store.set_rollups(enabled, sl_sec, short_sec, zone),
        }
    }

    /// Makes every rollup anew from the rows.
    pub fn rebuild_rollups(
        &mut self,
        sl_sec: i64,
        short_sec: i64,
        zone: &TimeZone,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.rebuild_rollups(sl_sec, short_sec, zone),
            Store::Postgres(store) => store.rebuild_rollups(sl_sec, short_sec, zone),
        }
    }

    pub fn write(&mut self, ops: &[StoreOp]) -> Result<usize, StoreError> {
        match self {
            Store::Sqlite(store) => store.write(ops),
            Store::Postgres(store) => store.write(ops),
        }
    }
}
