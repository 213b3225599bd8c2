//! Faults of the machine, outside FreeSWITCH: a database on a full disk.
//! Needs root to mount a small tmpfs; says "skipped" otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use mod_cc_cdr::config::Config;
use mod_cc_cdr::domain::capture::events_from_capture;
use mod_cc_cdr::store::sqlite::Synchronous;
use mod_cc_cdr::store::{Node, SqliteStore, Store};
use mod_cc_cdr::writer::spool::Spool;
use mod_cc_cdr::writer::{self, Counters};
use rusqlite::Connection;

const SIX_CALLS: &str = include_str!("fixtures/six_calls.events");

/// A small tmpfs, unmounted when dropped.
struct TinyDisk(PathBuf);

impl TinyDisk {
    fn mount(name: &str, size: &str) -> Option<TinyDisk> {
        let dir = std::env::temp_dir().join(format!("cc_cdr_{name}_{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(TinyDisk(dir))
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the filesystem of `dir` until a write fails.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 4096];
    while file.write_all(&block).and_then(|_| file.flush()).is_ok() {}
    let _ = file.sync_all();
    path
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_full_disk_keeps_every_row_in_the_spool_elsewhere_and_writes_it_later() {
    let Some(disk) = TinyDisk::mount("fulldisk", "2m") else {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: cannot mount a tmpfs (needs root): a_full_disk_keeps_every_row"
        );
        return;
    };
    let spool_dir = std::env::temp_dir().join(format!("cc_cdr_spool_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool_dir);
    std::fs::create_dir_all(&spool_dir).unwrap();
    let config = Config {
        flush_interval_ms: 20,
        spool_dir: Some(spool_dir.clone()),
        ..Config::defaults(&disk.0)
    };
    let store = Store::Sqlite(
        SqliteStore::open(&config.db_path, Synchronous::Normal, Node::default()).unwrap(),
    );
    let filler = fill(&disk.0);
    let counters = Arc::new(Counters::default());
    let (ingress, writer) = writer::spawn(&config, store, counters.clone()).unwrap();
    for event in events_from_capture(SIX_CALLS) {
        ingress.submit(event);
    }
    wait("rows in the spool", || {
        counters.spooled_ops.load(Relaxed) >= 6
    });
    let trouble = counters.trouble().expect("trouble reported").1;
    assert!(
        trouble.contains("full") || trouble.contains("I/O"),
        "{trouble}"
    );
    assert!(
        Spool::beside(&config.spool_base())
            .path()
            .starts_with(&spool_dir)
    );

    // Room again: the next retry writes everything, once.
    std::fs::remove_file(filler).unwrap();
    assert!(
        writer.replay(Duration::from_secs(60)),
        "the writer answers a replay"
    );
    wait("the spool replayed", || {
        counters.spooled_ops.load(Relaxed) == 0
    });
    drop(ingress);
    writer.join().unwrap();
    let conn = Connection::open(&config.db_path).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM callcenter_cdr WHERE closed_by = 'event'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 6);
    drop(conn);
    let _ = std::fs::remove_dir_all(&spool_dir);
}
