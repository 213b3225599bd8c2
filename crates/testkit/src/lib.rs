//! Test and benchmark rigs for mod_cc_cdr, outside the product crate: a
//! throwaway FreeSWITCH (`harness`) and PostgreSQL (`pg_server`), an event
//! socket client (`esl`), sample call-center traffic (`scenarios`), event
//! recording (`capture`), copies of captured events with their own UUIDs and
//! times (`synth`), temporary directories (`temp_dir`), headless Chromium
//! for the web pages (`browser`), and
//! `on_both_backends!`.
//!
//! It knows nothing of the module's types, so the product's own unit tests
//! can use it as a dev-dependency without a second copy of the product.

pub mod browser;
pub mod capture;
pub mod esl;
pub mod harness;
pub mod pg_server;
pub mod scenarios;
pub mod synth;
mod temp_dir;

pub use temp_dir::TempDir;

/// Runs each named test, a `fn(Backend)` of the calling module, once per
/// database: as `sqlite::NAME` with `Backend::Sqlite` and as
/// `postgres::NAME` with `Backend::Postgres` (an enum of the caller's).
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $test() {
                super::$test(super::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $test() {
                super::$test(super::Backend::Postgres)
            })*
        }
    };
}
