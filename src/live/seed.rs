//! Today's rows already in the database, read once at load on a thread of
//! its own (never the writer's: a slow or unreachable database must not
//! hold up the events), and handed to the writer through `Live`.

use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Live, LiveSettings};
use crate::domain::rows::{AttemptRow, CdrRow};
use crate::logging::{Level, log};
use crate::store::Database;
use crate::store::reader;

/// How long after a failed read the next try comes.
pub const RETRY: Duration = Duration::from_secs(30);

/// The ended visits and the offers with a result of today (the day of
/// `now_us` in the statistics time zone) that this node wrote.
pub fn read_today(
    database: &Database,
    settings: &LiveSettings,
    now_us: i64,
) -> Result<(Vec<CdrRow>, Vec<AttemptRow>), String> {
    let tz = &settings.stats.tz;
    let day = tz.to_local(now_us.div_euclid(1_000_000)).date();
    let mut reader = reader::open(database, tz.zone_name())?;
    let (mut visits, mut offers) = (Vec::new(), Vec::new());
    crate::stats::today::rows_of_range(
        reader.as_mut(),
        Some(&settings.node),
        tz.day_start(day),
        tz.day_end(day),
        &mut |row| visits.push(row),
        &mut |offer| offers.push(offer),
    )?;
    Ok((visits, offers))
}

/// The reading thread; `stop` ends it.
pub struct Seeder {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Seeder {
    pub fn start(database: Database, live: Live) -> std::io::Result<Seeder> {
        let (stop, stopped) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cc_cdr live seed".into())
            .spawn(move || {
                loop {
                    let started = Instant::now();
                    match read_today(&database, &live.settings, crate::writer::alive::now_us()) {
                        Ok((visits, offers)) => {
                            log(
                                Level::Notice,
                                &format!(
                                    "live view: read today's {} visits and {} offers of node {} \
                                     in {} ms",
                                    visits.len(),
                                    offers.len(),
                                    live.settings.node,
                                    started.elapsed().as_millis()
                                ),
                            );
                            live.set_seed(visits, offers);
                            return;
                        }
                        Err(e) => log(
                            Level::Warning,
                            &format!(
                                "live view: cannot read today's rows ({e}); today's counts hold \
                                 this load's calls only until a read succeeds, tried again in \
                                 {} s",
                                RETRY.as_secs()
                            ),
                        ),
                    }
                    match stopped.recv_timeout(RETRY) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })?;
        Ok(Seeder { stop, thread })
    }

    /// Ends the thread and waits for it (at most one read in flight).
    pub fn stop(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            log(Level::Crit, "the live view's reading thread panicked");
        }
    }
}
