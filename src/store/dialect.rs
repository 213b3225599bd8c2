//! The SQL that differs between SQLite and PostgreSQL, and only that.
//!
//! Everything else (schema, upserts, statistics, views) is written once, in
//! SQL both accept, with `?N` or `:name` parameters and these few functions
//! where the two disagree.

/// Which database a statement is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Local `YYYY-MM-DD HH:MM:SS` of a Unix time in seconds (an SQL
    /// expression). SQLite uses the process's local time; PostgreSQL the
    /// session's `TimeZone`, which the module sets to its own local zone.
    pub fn local_stamp(self, epoch_secs: &str) -> String {
        match self {
            Dialect::Sqlite => {
                format!("strftime('%Y-%m-%d %H:%M:%S', {epoch_secs}, 'unixepoch', 'localtime')")
            }
            Dialect::Postgres => {
                format!("to_char(to_timestamp({epoch_secs}), 'YYYY-MM-DD HH24:MI:SS')")
            }
        }
    }

    /// Local hour (`YYYY-MM-DD HH:00`) of a Unix time in seconds.
    pub fn local_hour(self, epoch_secs: &str) -> String {
        match self {
            Dialect::Sqlite => {
                format!("strftime('%Y-%m-%d %H:00', {epoch_secs}, 'unixepoch', 'localtime')")
            }
            Dialect::Postgres => {
                format!("to_char(to_timestamp({epoch_secs}), 'YYYY-MM-DD HH24:00')")
            }
        }
    }

    /// Local day (`YYYY-MM-DD`) of a Unix time in seconds.
    pub fn local_day(self, epoch_secs: &str) -> String {
        match self {
            Dialect::Sqlite => {
                format!("strftime('%Y-%m-%d', {epoch_secs}, 'unixepoch', 'localtime')")
            }
            Dialect::Postgres => format!("to_char(to_timestamp({epoch_secs}), 'YYYY-MM-DD')"),
        }
    }

    /// The present as whole Unix seconds.
    pub fn now_epoch(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST(strftime('%s', 'now') AS INTEGER)",
            Dialect::Postgres => "CAST(extract(epoch FROM now()) AS BIGINT)",
        }
    }

    /// The smaller / larger of two values (SQLite's scalar min and max).
    pub fn least(self) -> &'static str {
        match self {
            Dialect::Sqlite => "min",
            Dialect::Postgres => "LEAST",
        }
    }

    pub fn greatest(self) -> &'static str {
        match self {
            Dialect::Sqlite => "max",
            Dialect::Postgres => "GREATEST",
        }
    }

    /// `INDEXED BY index`: SQLite left to itself picks a worse index for
    /// the open agent interval; PostgreSQL's planner needs no hint.
    pub fn indexed_by(self, index: &str) -> String {
        match self {
            Dialect::Sqlite => format!(" INDEXED BY {index}"),
            Dialect::Postgres => String::new(),
        }
    }

    /// The statement with `?N` parameters as this database numbers them.
    pub fn params(self, sql: &str) -> String {
        match self {
            Dialect::Sqlite => sql.to_owned(),
            Dialect::Postgres => {
                let mut out = String::with_capacity(sql.len());
                let mut chars = sql.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '?' && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
                        out.push('$');
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    /// A migration written for SQLite, as PostgreSQL takes it: 64-bit
    /// integers (epochs in microseconds), a sequence for SQLite's
    /// AUTOINCREMENT key, and expressions in index keys in parentheses.
    pub fn ddl(self, sql: &str) -> String {
        match self {
            Dialect::Sqlite => sql.to_owned(),
            Dialect::Postgres => self.conflict_key(
                &sql.replace(
                    " INTEGER PRIMARY KEY AUTOINCREMENT",
                    " BIGSERIAL PRIMARY KEY",
                )
                .replace(" INTEGER", " BIGINT"),
            ),
        }
    }

    /// Index keys, as in the conflict target of an upsert on an expression
    /// index: PostgreSQL wants the expression in parentheses.
    pub fn conflict_key(self, columns: &str) -> String {
        match self {
            Dialect::Sqlite => columns.to_owned(),
            Dialect::Postgres => columns.replace("COALESCE(uuid, '')", "(COALESCE(uuid, ''))"),
        }
    }

    /// Which interval of `starts` (ascending Unix seconds) holds the value of
    /// `epoch`, from 0, for rows already filtered to the range. With a
    /// `map` (one entry a start), the start found is the start of a part
    /// of the range and the map gives its interval, or NULL for a part
    /// counted in none (`stats::filter`). SQLite calls the `cc_bucket`
    /// function the reader registers; PostgreSQL has `width_bucket` over an
    /// array of the starts, and the map as an array indexed by it.
    pub fn bucket_of(self, epoch: &str, starts: &[i64], map: &[Option<usize>]) -> String {
        match self {
            Dialect::Sqlite => format!("cc_bucket({epoch})"),
            Dialect::Postgres => {
                let list: Vec<String> = starts.iter().map(i64::to_string).collect();
                let found = format!(
                    "width_bucket({epoch}, CAST(ARRAY[{}] AS BIGINT[]))",
                    list.join(",")
                );
                if map.is_empty() {
                    return format!("({found} - 1)");
                }
                let slots: Vec<String> = map
                    .iter()
                    .map(|m| m.map_or_else(|| "NULL".to_owned(), |b| b.to_string()))
                    .collect();
                // width_bucket is 1 for the first start: arrays count from 1.
                format!("(CAST(ARRAY[{}] AS BIGINT[]))[{found}]", slots.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_follow_the_database() {
        let sql = "UPDATE t SET a = ?1 WHERE b = ?12 AND c = '?'";
        assert_eq!(Dialect::Sqlite.params(sql), sql);
        assert_eq!(
            Dialect::Postgres.params(sql),
            "UPDATE t SET a = $1 WHERE b = $12 AND c = '?'"
        );
    }

    #[test]
    fn ddl_widens_integers_and_parenthesises_index_expressions() {
        let sql = "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, \
                   a INTEGER NOT NULL, uuid TEXT);\n\
                   CREATE UNIQUE INDEX k ON t (a, COALESCE(uuid, ''));";
        let pg = Dialect::Postgres.ddl(sql);
        assert!(pg.contains("id BIGSERIAL PRIMARY KEY,"));
        assert!(pg.contains("a BIGINT NOT NULL"));
        assert!(pg.contains("ON t (a, (COALESCE(uuid, '')))"));
        assert_eq!(Dialect::Sqlite.ddl(sql), sql);
    }

    #[test]
    fn buckets_use_the_starts() {
        assert_eq!(
            Dialect::Postgres.bucket_of("c.e", &[10, 20], &[]),
            "(width_bucket(c.e, CAST(ARRAY[10,20] AS BIGINT[])) - 1)"
        );
        assert_eq!(
            Dialect::Sqlite.bucket_of("c.e", &[10], &[]),
            "cc_bucket(c.e)"
        );
    }
}
