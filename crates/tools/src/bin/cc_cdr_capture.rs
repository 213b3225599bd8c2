//! Records the events mod_cc_cdr works from (`CUSTOM callcenter::info` and
//! `CHANNEL_HANGUP_COMPLETE`) off a running FreeSWITCH's event socket, in the
//! format of `tests/fixtures/*.events`.
//!
//! cc_cdr_capture [--esl 127.0.0.1:8021] [--password ClueCon] [--seconds N] FILE

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use testkit::capture::record;
use testkit::esl::EslClient;

const USAGE: &str = "usage: cc_cdr_capture [--esl HOST:PORT] [--password PW] [--seconds N] FILE";

fn main() -> ExitCode {
    let mut esl = "127.0.0.1:8021".to_owned();
    let mut password = "ClueCon".to_owned();
    let mut seconds: Option<u64> = None;
    let mut file = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next();
        match arg.as_str() {
            "--esl" => esl = value().unwrap_or_default(),
            "--password" => password = value().unwrap_or_default(),
            "--seconds" => match value().and_then(|v| v.parse().ok()) {
                Some(n) => seconds = Some(n),
                None => {
                    eprintln!("--seconds needs a whole number\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if file.is_none() && !arg.starts_with('-') => file = Some(arg),
            _ => {
                eprintln!("unexpected argument '{arg}'\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(file) = file else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut client = match EslClient::connect(&esl, &password, Duration::from_secs(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect to FreeSWITCH at {esl}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = match File::create(&file) {
        Ok(f) => BufWriter::new(f),
        Err(e) => {
            eprintln!("cannot create {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    eprintln!("capturing to {file}; stop with Ctrl-C or --seconds");
    match record(&mut client, &mut out, || {
        deadline.is_some_and(|d| Instant::now() >= d)
    }) {
        Ok(n) => {
            eprintln!("{n} events captured");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("capture stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
