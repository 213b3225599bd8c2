//! Debian's headless Chromium, to load the module's web pages as a browser
//! does: the DOM after the scripts ran, a screenshot, and what the page
//! wrote to its console.
//!
//! Chromium 156 with `--enable-logging=stderr --v=0` prints every console
//! message, an uncaught exception and a Content-Security-Policy violation
//! alike as
//!
//! ```text
//! [6011:6011:1202/112354.043202:INFO:CONSOLE:2] "an error line", source: http://127.0.0.1:8931/t.js (2)
//! [6011:6011:1202/112354.080788:INFO:CONSOLE:4] "Uncaught TypeError: Cannot read properties of null (reading 'foo')", source: http://127.0.0.1:8931/t.js (4)
//! ```
//!
//! always at INFO: the level (`console.log` or `console.error`) is not in
//! the line. So a page under test should write nothing to its console, and
//! a test asserts that [`Page::console`] is empty. A failed fetch (a 404)
//! prints nothing.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// A Chromium binary that can be run headless.
pub struct Chromium {
    path: PathBuf,
    /// How long one run may take before it is killed.
    pub timeout: Duration,
}

/// One message from the page's console (or an uncaught exception, or a
/// CSP violation), as Chromium logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleMessage {
    pub text: String,
    /// The script or page that wrote it, and its line.
    pub source: String,
    pub line: u32,
}

/// What a run left: the DOM (for `dump_dom`; empty for a screenshot) and
/// the console messages.
#[derive(Debug, Clone)]
pub struct Page {
    pub dom: String,
    pub console: Vec<ConsoleMessage>,
    /// Chromium's whole standard error, for a failing test's message.
    pub stderr: String,
}

impl Page {
    /// The console messages as lines, for an assertion's message.
    pub fn console_text(&self) -> String {
        self.console
            .iter()
            .map(|m| format!("{} ({}:{})", m.text, m.source, m.line))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Chromium {
    /// `$CHROMIUM`, else `/usr/bin/chromium`; `None` when neither is an
    /// executable file (the caller prints one `skipped: ...` line).
    pub fn find() -> Option<Chromium> {
        let path = std::env::var_os("CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        is_executable(&path).then_some(Chromium {
            path,
            timeout: Duration::from_secs(60),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The DOM of `url` once its scripts have run for `budget_ms` of
    /// virtual time (timers run ahead; network waits are real).
    pub fn dump_dom(&self, url: &str, budget_ms: u32) -> std::io::Result<Page> {
        self.run(&["--dump-dom".to_owned(), url.to_owned()], budget_ms)
    }

    /// A PNG of `url` in a `width` x `height` window after `budget_ms` of
    /// virtual time, written to `png`.
    pub fn screenshot(
        &self,
        url: &str,
        png: &Path,
        width: u32,
        height: u32,
        budget_ms: u32,
    ) -> std::io::Result<Page> {
        let _ = std::fs::remove_file(png);
        let page = self.run(
            &[
                format!("--screenshot={}", png.display()),
                format!("--window-size={width},{height}"),
                "--hide-scrollbars".to_owned(),
                url.to_owned(),
            ],
            budget_ms,
        )?;
        if !png.is_file() {
            return Err(std::io::Error::other(format!(
                "chromium wrote no screenshot to {}:\n{}",
                png.display(),
                page.stderr
            )));
        }
        Ok(page)
    }

    fn run(&self, args: &[String], budget_ms: u32) -> std::io::Result<Page> {
        // A fresh profile each run: nothing cached or remembered between tests.
        let profile = TempDir::new(&format!("chromium_{}", unique()));
        let mut command = Command::new(&self.path);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--virtual-time-budget={budget_ms}"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group, so a timeout kills the renderers too.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn()?;
        let stdout = reader(child.stdout.take());
        let stderr = reader(child.stderr.take());
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                kill_group(&mut child);
                let stderr = stderr.join().unwrap_or_default();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("chromium ran past {:?}:\n{stderr}", self.timeout),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Renderers may outlive the browser process by a moment.
        kill_group(&mut child);
        let dom = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "chromium exited with {status}:\n{stderr}"
            )));
        }
        Ok(Page {
            dom,
            console: parse_console(&stderr),
            stderr,
        })
    }
}

/// The console messages in Chromium's standard error: lines like
/// `[pid:tid:date/time:INFO:CONSOLE:4] "text", source: URL (4)`.
pub fn parse_console(stderr: &str) -> Vec<ConsoleMessage> {
    let mut out = Vec::new();
    let mut lines = stderr.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(start) = line.find(":CONSOLE") else {
            continue;
        };
        let Some(close) = line[start..].find("] ") else {
            continue;
        };
        let mut rest = line[start + close + 2..].to_owned();
        // A message with line breaks goes on over the next lines, up to
        // the `", source: ` tail.
        while !rest.contains("\", source: ") {
            match lines.peek() {
                Some(next) if !next.starts_with('[') => {
                    rest.push('\n');
                    rest.push_str(next);
                    lines.next();
                }
                _ => break,
            }
        }
        let (text, source, line_no) = match rest.rfind("\", source: ") {
            Some(at) => {
                let text = rest[..at].strip_prefix('"').unwrap_or(&rest[..at]);
                let tail = &rest[at + "\", source: ".len()..];
                let (source, line_no) = match tail.rfind(" (") {
                    Some(p) => (
                        &tail[..p],
                        tail[p + 2..].trim_end_matches(')').parse().unwrap_or(0),
                    ),
                    None => (tail, 0),
                };
                (text.to_owned(), source.to_owned(), line_no)
            }
            None => (rest.clone(), String::new(), 0),
        };
        out.push(ConsoleMessage {
            text,
            source,
            line: line_no,
        });
    }
    out
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn kill_group(child: &mut Child) {
    // The group's id is the child's pid (process_group(0)).
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_are_parsed_as_chromium_156_prints_them() {
        let stderr = "\
/usr/bin/chromium: 9: [: 25275990016: unexpected operator
[6011:6040:1202/112353.240260:ERROR:dbus/bus.cc:405] Failed to connect to the bus
[6011:6011:1202/112354.043202:INFO:CONSOLE:2] \"an error line\", source: http://127.0.0.1:8931/t.js (2)
[6011:6011:1202/112354.080788:INFO:CONSOLE:4] \"Uncaught TypeError: Cannot read properties of null (reading 'foo')\", source: http://127.0.0.1:8931/t.js (4)
[6011:6011:1202/112354.1:INFO:CONSOLE:7] \"two
lines\", source: http://h/p.js (7)
";
        let got = parse_console(stderr);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].text, "an error line");
        assert_eq!(got[0].source, "http://127.0.0.1:8931/t.js");
        assert_eq!(got[0].line, 2);
        assert!(got[1].text.starts_with("Uncaught TypeError"));
        assert_eq!(got[1].line, 4);
        assert_eq!(got[2].text, "two\nlines");
        assert_eq!(got[2].line, 7);
    }

    #[test]
    fn no_console_lines_in_plain_logs() {
        assert!(parse_console("[1:1:1/1:ERROR:dbus/bus.cc:405] no bus\n").is_empty());
    }

    /// The module's pages (`src/http/assets`) served on the routes the
    /// module serves them at, with its CSP, and `/api/live` and
    /// `/api/stats` answered from `fixtures/web` (or `/api/live` failing).
    mod site {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};

        const CSP: &str =
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'";

        fn file(dir: &str, name: &str) -> Vec<u8> {
            let path = format!("{}/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
            std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        }

        fn answer(path: &str, live_fails: bool) -> (u16, &'static str, Vec<u8>) {
            let assets = "../../src/http/assets";
            let (route, query) = path.split_once('?').unwrap_or((path, ""));
            let param = |k: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=")[..]))
                    .unwrap_or("")
                    .to_owned()
            };
            let html = "text/html; charset=utf-8";
            let js = "text/javascript; charset=utf-8";
            let json = "application/json";
            match route {
                "/" => (200, html, file(assets, "index.html")),
                "/history" => (200, html, file(assets, "history.html")),
                "/assets/style.css" => (200, "text/css; charset=utf-8", file(assets, "style.css")),
                "/assets/wallboard.js" => (200, js, file(assets, "wallboard.js")),
                "/assets/history.js" => (200, js, file(assets, "history.js")),
                "/api/live" if live_fails => (503, "text/plain", b"down".to_vec()),
                "/api/live" => (200, json, file("fixtures/web", "live.json")),
                "/api/stats" => {
                    let name = match (&param("subject")[..], &param("interval")[..]) {
                        ("queue", "total") => "stats-queue-total.json",
                        ("queue", _) => "stats-queue-1h.json",
                        ("waits", _) => "stats-waits.json",
                        ("agent", _) => "stats-agent-total.json",
                        _ => return (400, "text/plain", b"bad subject".to_vec()),
                    };
                    (200, json, file("fixtures/web", name))
                }
                _ => (404, "text/plain", b"not found".to_vec()),
            }
        }

        fn serve(mut stream: TcpStream, live_fails: bool) {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head);
            let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
            let (status, kind, body) = answer(&path, live_fails);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                 Content-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\n\
                 Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }

        /// Serves until the test process ends; returns `http://127.0.0.1:PORT`.
        pub fn start(live_fails: bool) -> String {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    std::thread::spawn(move || serve(stream, live_fails));
                }
            });
            base
        }
    }

    fn chromium() -> Option<Chromium> {
        let found = Chromium::find();
        if found.is_none() {
            println!("skipped: no Chromium (set CHROMIUM or install Debian's chromium)");
        }
        found
    }

    fn assert_quiet(page: &Page) {
        assert!(
            page.console.is_empty(),
            "console messages:\n{}",
            page.console_text()
        );
    }

    /// The part of the DOM from the element with `id` to the next chart
    /// panel (or the end).
    fn section<'a>(dom: &'a str, id: &str) -> &'a str {
        let start = dom
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id} in the DOM"));
        let rest = &dom[start..];
        let end = rest[1..]
            .find("class=\"chart-panel")
            .map_or(rest.len(), |e| e + 1);
        &rest[..end]
    }

    #[test]
    fn the_wallboard_shows_the_live_queues_agents_and_abandoned_callers_as_text() {
        let Some(chromium) = chromium() else { return };
        let base = site::start(false);
        let page = chromium.dump_dom(&format!("{base}/"), 3000).unwrap();
        assert_quiet(&page);
        let dom = &page.dom;
        let tile = dom
            .find("data-queue=\"support@default\"")
            .map(|at| &dom[at..])
            .expect("the support tile");
        assert!(
            tile.contains("<span class=\"value waiting\">3</span>"),
            "{tile}"
        );
        assert!(tile.contains("class=\"value longest-wait"), "{tile}");
        assert!(dom.contains(
            "<tr class=\"agent\" data-agent=\"1004@default\" data-activity=\"on_break\">"
        ));
        assert!(dom.contains("<td class=\"break-reason\" data-label=\"Break\">lunch</td>"));
        assert!(section(dom, "abandoned").contains("5554002"));
        assert!(dom.contains("data-state=\"ok\""), "the status line is ok");
        // The hostile caller, queue and agent names are text, never markup.
        assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!dom.contains("<img src=\"x\""), "{dom}");
        assert!(!dom.contains("<img src=x"), "an element made of a name");
    }

    #[test]
    fn the_wallboard_says_when_the_connection_is_lost() {
        let Some(chromium) = chromium() else { return };
        let base = site::start(true);
        let page = chromium.dump_dom(&format!("{base}/"), 2500).unwrap();
        assert_quiet(&page);
        assert!(page.dom.contains("data-state=\"lost\""), "{}", page.dom);
        assert!(
            page.dom.contains("connection lost (HTTP 503)"),
            "{}",
            page.dom
        );
    }

    #[test]
    fn the_history_page_draws_a_mark_in_every_chart() {
        let Some(chromium) = chromium() else { return };
        let base = site::start(false);
        let page = chromium.dump_dom(&format!("{base}/history"), 4000).unwrap();
        assert_quiet(&page);
        for id in [
            "chart-calls",
            "chart-sl",
            "chart-asa",
            "chart-waits",
            "chart-occupancy",
        ] {
            let chart = section(&page.dom, id);
            assert!(chart.contains("<svg"), "#{id} has no svg: {chart}");
            assert!(chart.contains("class=\"mark"), "#{id} has no mark: {chart}");
        }
        // The queue picker is filled from the data, names as text.
        assert!(
            page.dom
                .contains("<option value=\"support@default\">support@default</option>")
        );
        assert!(page.dom.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!page.dom.contains("<img src=x"));
    }

    /// Screenshots to look at: into `$CC_CDR_SHOTS` when set (kept), else
    /// a temporary directory.
    #[test]
    fn the_pages_can_be_photographed_at_tv_desktop_and_phone_sizes() {
        let Some(chromium) = chromium() else { return };
        let base = site::start(false);
        let temp = TempDir::new("shots");
        let dir =
            std::env::var_os("CC_CDR_SHOTS").map_or_else(|| temp.path().to_owned(), PathBuf::from);
        std::fs::create_dir_all(&dir).unwrap();
        for (path, name, w, h) in [
            ("/", "wallboard-1600x900.png", 1600, 900),
            ("/", "wallboard-phone-400x800.png", 400, 800),
            ("/history", "history-1280x900.png", 1280, 900),
        ] {
            let png = dir.join(name);
            let page = chromium
                .screenshot(&format!("{base}{path}"), &png, w, h, 3000)
                .unwrap();
            assert_quiet(&page);
            let bytes = std::fs::read(&png).unwrap();
            assert!(bytes.starts_with(b"\x89PNG"), "{name} is no PNG");
        }
    }
}
