//! Persistence: the schema, its migrations, and the SQLite writer.

pub mod codec;
pub mod schema;
pub mod spool;
pub mod sqlite;

pub use spool::Spool;
pub use sqlite::{Store, StoreError};
