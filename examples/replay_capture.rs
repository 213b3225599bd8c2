//! Prints the rows the module makes of a capture file:
//! cargo run --example replay_capture -- tests/fixtures/cases/05_resume.events
use mod_cc_cdr::domain::capture::events_from_capture;
use mod_cc_cdr::domain::rows::StoreOp;
use mod_cc_cdr::domain::visit::{Assembler, AssemblerSettings};

fn main() {
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).expect("read capture");
        let mut assembler = Assembler::new(AssemblerSettings::default());
        for event in events_from_capture(&text) {
            assembler.apply(&event, 0);
        }
        println!("== {path}");
        for op in assembler.close_all(100_000) {
            match op {
                StoreOp::Upsert(r) => println!(
                    "  cdr {} q={:?} cid={:?} agent={:?} outcome={:?} cancel={:?} wait={:?} bill={:?} att={} miss={} hc={:?} closed={:?} uuid={:?}",
                    &r.member_uuid[..8],
                    r.queue_name,
                    r.caller_id_number,
                    r.agent_name,
                    r.outcome,
                    r.cancel_reason,
                    r.wait_sec,
                    r.billsec,
                    r.agent_attempts,
                    r.agent_missed,
                    r.hangup_cause,
                    r.closed_by,
                    r.uuid.as_deref().map(|u| &u[..8])
                ),
                StoreOp::Attempt(a) => println!(
                    "  attempt {} {} #{} result={:?} ring={:?} cause={:?}",
                    &a.member_uuid[..8],
                    a.agent_name,
                    a.attempt_no,
                    a.result,
                    a.ring_sec,
                    a.hangup_cause
                ),
                _ => {}
            }
        }
    }
}
