//! Benchmarks of whole programs: the first three need a real FreeSWITCH
//! (from `FREESWITCH_PREFIX`, default `/usr/local/freeswitch`). Each prints
//! what it measured; BENCHMARKS.md says how the published figures were
//! made. The in-process benchmarks (event callback, writer, statistics) are
//! `cargo bench` targets instead.
//!
//!   cc_cdr_bench calls  [options]   real calls through mod_callcenter
//!   cc_cdr_bench burst  [options]   captured events fired inside the switch
//!   cc_cdr_bench seed   [options]   the seed article's ESL script, side by side
//!   cc_cdr_bench export [options]   cc_cdr_report rows and abandoned over a large SQLite

mod burst;
mod calls;
mod common;
mod export;
mod seed;
mod seed_script;

const USAGE: &str = "usage: cc_cdr_bench calls|burst|seed|export [options]   (cc_cdr_bench <kind> --help for the options)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("calls") => calls::run(&args[1..]),
        Some("burst") => burst::run(&args[1..]),
        Some("seed") => seed::run(&args[1..]),
        Some("export") => export::run(&args[1..]),
        _ => Err(USAGE.to_owned()),
    };
    if let Err(e) = result {
        eprintln!("cc_cdr_bench: {e}");
        std::process::exit(1);
    }
}
