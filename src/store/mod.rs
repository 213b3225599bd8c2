//! Persistence: the schema, its migrations, and the SQLite writer.

pub mod schema;
pub mod sqlite;

pub use sqlite::{Store, StoreError};
