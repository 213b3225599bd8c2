//! Test and benchmark rigs for mod_cc_cdr, outside the product crate: a
//! throwaway FreeSWITCH (`harness`) and PostgreSQL (`pg_server`), an event
//! socket client (`esl`), sample call-center traffic (`scenarios`), event
//! recording (`capture`), copies of captured events with their own UUIDs and
//! times (`synth`) and temporary directories (`temp_dir`).
//!
//! It knows nothing of the module's types, so the product's own unit tests
//! can use it as a dev-dependency without a second copy of the product.

pub mod capture;
pub mod esl;
pub mod harness;
pub mod pg_server;
pub mod scenarios;
pub mod synth;
mod temp_dir;

pub use temp_dir::TempDir;
