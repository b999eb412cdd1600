//! Calls `target` continuously from boot, through every restart the driver asks jefe for,
//! until jefe reports `target`'s incarnation [`INCARNATIONS`]; then reports
//! `TEST restart_under_load_1000` and posts `hammer-done` to the driver.
//!
//! Checked on every call: it ends (a hang would stop this task and the driver's wait for
//! `hammer-done` fails the run); a success echoes this call's sequence number; and the
//! incarnation that answered (its tag, its start time) is never one that had already been
//! replaced: tags never go back, a dead code is never followed by the old tag, and one
//! name never gets answers from two incarnations.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use console_api::ConsoleClient;
use idol_runtime::zerocopy::FromZeros;
use jefe_api::{JefeClient, TaskInfo};
use jefe_test_api::{from_bytes, server};
use userlib::{
    Incarnation, TextBuf, peer_gone, sys_post, sys_recv_notification, sys_refresh_incarnation,
    sys_send, task_slot,
};

task_slot!(TARGET, target);
task_slot!(JEFE, jefe);
task_slot!(CONSOLE, console);
task_slot!(DRIVER, driver);

/// The driver's `hammer-done` notification (app.toml `notifications = ["timer", "hammer-done"]`).
const DRIVER_HAMMER_DONE: u32 = 1 << 1;
/// Boot plus 1000 restarts.
const INCARNATIONS: u32 = 1001;

#[derive(Default)]
struct Tally {
    calls: u32,
    replies: u32,
    dead_codes: u32,
    other_codes: u32,
    wrong_seq: u32,
    wrong_incarnation: u32,
}

fn target_incarnation(jefe: &JefeClient) -> u32 {
    let mut info = [TaskInfo::new_zeroed()];
    match jefe.list_tasks(TARGET.index() as u16, &mut info) {
        Ok(1) => info[0].incarnation,
        _ => 0,
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let jefe = JefeClient::new(JEFE);
    let mut id = TARGET;
    let mut tally = Tally::default();
    // (incarnation, tag) of the last answer.
    let mut last: Option<(Incarnation, u32)> = None;
    let mut seq = 0u32;
    loop {
        seq = seq.wrapping_add(1);
        let mut reply = [0u8; 8];
        let (code, len) = sys_send(id, server::PING, &seq.to_ne_bytes(), &mut reply, &[]);
        tally.calls += 1;
        if code == 0 {
            tally.replies += 1;
            let [echo, tag] = from_bytes::<2>(&reply[..len.min(8)]);
            if echo != seq || len != 8 {
                tally.wrong_seq += 1;
            }
            if let Some((last_id, last_tag)) = last {
                // Tags are start times, so they only grow. An older tag is a stale
                // incarnation answering; the same tag after a dead code moved the name on
                // is an incarnation answering after the kernel said it had ended; and a new
                // tag through the same name is a new incarnation answering a name it never
                // had (SEND compares the full 32-bit generation, so even a name this client
                // slept on through 64 restarts is refused).
                if tag < last_tag || (id == last_id) != (tag == last_tag) {
                    tally.wrong_incarnation += 1;
                }
            }
            let same_tag = last.is_some_and(|(_, last_tag)| last_tag == tag);
            last = Some((id, tag));
            // A new incarnation answered: is it the last one?
            if !same_tag && target_incarnation(&jefe) >= INCARNATIONS {
                break;
            }
            continue;
        }
        let Some((_, current)) = peer_gone(id, code, len) else {
            tally.other_codes += 1;
            continue;
        };
        tally.dead_codes += 1;
        id = current;
    }
    let mut line = TextBuf::<200>::new();
    let clean = tally.wrong_seq == 0 && tally.wrong_incarnation == 0 && tally.other_codes == 0;
    let _ = writeln!(
        line,
        "TEST restart_under_load_1000 {} ({} calls: {} replies, {} dead codes, {} wrong sequence, {} wrong incarnation, {} other codes)",
        if clean { "ok" } else { "FAIL" },
        tally.calls,
        tally.replies,
        tally.dead_codes,
        tally.wrong_seq,
        tally.wrong_incarnation,
        tally.other_codes
    );
    let _ = ConsoleClient::new(CONSOLE).write(line.as_bytes());
    let _ = sys_post(sys_refresh_incarnation(DRIVER), DRIVER_HAMMER_DONE);
    loop {
        sys_recv_notification(1 << 31);
    }
}
