//! The server over real sockets on 127.0.0.1, with a fake site. Tests wait
//! for what they expect with generous limits and assert no timings.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;

/// A site whose answers are fixed, and which keeps the words of the stats
/// asked of it.
#[derive(Default)]
struct FakeSite {
    asked: Mutex<Vec<Vec<String>>>,
}

impl Site for FakeSite {
    fn live_json(&self) -> String {
        "{\"node\":\"fs1\"}".into()
    }

    fn metrics(&self) -> String {
        "cc_queue_calls_waiting{queue=\"q\"} 2\n".into()
    }

    fn stats(&self, words: &[String]) -> Result<String, String> {
        self.asked.lock().unwrap().push(words.to_vec());
        if words.first().is_some_and(|w| w == "bad") {
            return Err("-ERR expected queue, agent or waits, not 'bad'\n".into());
        }
        Ok("{\"meta\":{},\"rows\":[]}".into())
    }
}

/// Long enough for any slow machine: what a test waits for at most.
const PATIENCE: Duration = Duration::from_secs(30);

struct Rig {
    server: Option<HttpServer>,
    site: Arc<FakeSite>,
    addr: SocketAddr,
}

impl Rig {
    fn start(adjust: impl FnOnce(&mut HttpConfig)) -> Rig {
        let mut config = HttpConfig::new("127.0.0.1:0".parse().unwrap());
        adjust(&mut config);
        let site = Arc::new(FakeSite::default());
        let server = HttpServer::start(config, site.clone()).unwrap();
        let addr = server.local_addr();
        Rig {
            server: Some(server),
            site,
            addr,
        }
    }

    fn get(&self, target: &str) -> Answer {
        self.send(&format!(
            "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        ))
    }

    fn send(&self, raw: &str) -> Answer {
        let mut stream = connect(self.addr);
        stream.write_all(raw.as_bytes()).unwrap();
        read_answer(&mut stream).unwrap_or_else(|| panic!("no answer to {raw:?}"))
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Everything the server sends until it closes, as an answer; `None` when
/// it closed (or reset) without one.
fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the server neither answered nor closed within {PATIENCE:?}")
            }
            Err(_) => break, // reset
        }
    }
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(Answer {
        status,
        headers,
        body: bytes[end + 4..].to_vec(),
    })
}

/// Whether the server closed `stream` (EOF or reset), reading whatever
/// it sent first; panics if it is still open after `PATIENCE`.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Waits until `ok` holds, trying again every 50 ms, for `PATIENCE`.
fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < PATIENCE, "never: {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn pages_and_assets_are_served_with_their_types_and_a_strict_policy() {
    let rig = Rig::start(|_| {});
    let types = [
        ("/", "text/html"),
        ("/history", "text/html"),
        ("/assets/style.css", "text/css"),
        ("/assets/wallboard.js", "text/javascript"),
        ("/assets/history.js", "text/javascript"),
    ];
    assert_eq!(ASSETS.len(), types.len());
    for (path, content_type) in types {
        let answer = rig.get(path);
        assert_eq!(answer.status, 200, "{path}");
        let asset = ASSETS.iter().find(|a| a.path == path).unwrap();
        assert_eq!(answer.body, asset.body, "{path}");
        let got = answer.header("content-type").unwrap();
        assert!(got.starts_with(content_type), "{path}: {got}");
        assert_eq!(answer.header("content-security-policy"), Some(CSP));
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(answer.header("cache-control"), Some("no-cache"));
    }
    let head = rig.send("HEAD /history HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD has no body");
    let length = ASSETS[1].body.len().to_string();
    assert_eq!(head.header("content-length"), Some(length.as_str()));
    assert_eq!(rig.get("/nothing").status, 404);
    assert_eq!(rig.get("/assets/").status, 404);
}

#[test]
fn live_and_metrics_pass_the_sites_text_through() {
    let rig = Rig::start(|_| {});
    let live = rig.get("/api/live");
    assert_eq!(live.status, 200);
    assert_eq!(live.header("content-type"), Some("application/json"));
    assert_eq!(live.text(), rig.site.live_json());
    let metrics = rig.get("/metrics?x=1");
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(metrics.text(), rig.site.metrics());
}

#[test]
fn stats_parameters_become_the_words_of_cc_cdr_stats() {
    let words = |q: &str| stats_words(q).map(|w| w.join(" "));
    assert_eq!(
        stats_words("subject=queue&name=all&from=today&interval=1h&node=all").unwrap(),
        ["queue", "all", "today", "1h", "node", "all", "json"]
    );
    assert_eq!(
        words(
            "node=fs%201&to=2026-11-24&from=2026-11-23+08%3A00&name=support%40default&subject=agent&token=x"
        ),
        Ok("agent support@default 2026-11-23 08:00 2026-11-24 node fs 1 json".into())
    );
    assert_eq!(words("subject=waits&name=&to="), Ok("waits json".into()));
    assert_eq!(
        words("subject=queue&days=mon-fri&hours=08%3A00-18%3A00&interval=day"),
        Ok("queue day hours 08:00-18:00 days mon-fri json".into())
    );
    assert_eq!(
        words("by=queue&subject=agent&name=alice"),
        Ok("agent alice by queue json".into())
    );
    assert!(
        words("subject=queue&format=csv")
            .unwrap_err()
            .contains("'format'")
    );
    assert!(words("subject=queue&subject=agent").is_err());

    let rig = Rig::start(|_| {});
    let answer = rig.get("/api/stats?subject=queue&name=all&from=today&interval=1h&node=all");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.text(), "{\"meta\":{},\"rows\":[]}");
    assert_eq!(
        rig.site.asked.lock().unwrap().last().unwrap(),
        &["queue", "all", "today", "1h", "node", "all", "json"]
    );
    let unknown = rig.get("/api/stats?subject=queue&bogus=1");
    assert_eq!(unknown.status, 400);
    assert!(unknown.text().contains("bogus"), "{}", unknown.text());
    let refused = rig.get("/api/stats?subject=bad");
    assert_eq!(refused.status, 400);
    assert!(
        refused.text().starts_with("-ERR expected queue"),
        "{}",
        refused.text()
    );
    assert_eq!(
        rig.site.asked.lock().unwrap().len(),
        2,
        "not asked for the unknown parameter"
    );
}

#[test]
fn a_token_is_needed_in_the_header_or_the_query() {
    let rig = Rig::start(|c| c.auth = Some(parse_auth("token:s3cret").unwrap()));
    for target in [
        "/api/live",
        "/api/live?token=wrong",
        "/",
        "/metrics",
        "/api/stats?subject=queue",
    ] {
        let answer = rig.get(target);
        assert_eq!(answer.status, 401, "{target}");
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Bearer realm=\"cc_cdr\"")
        );
    }
    let wrong = rig.send("GET /api/live HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer nope\r\nConnection: close\r\n\r\n");
    assert_eq!(wrong.status, 401);
    let header = rig.send("GET /api/live HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer s3cret\r\nConnection: close\r\n\r\n");
    assert_eq!(header.status, 200);
    assert_eq!(rig.get("/api/live?token=s3cret").status, 200);
    assert_eq!(rig.get("/?token=s3cret").status, 200);
    let stats = rig.get("/api/stats?token=s3cret&subject=queue");
    assert_eq!(stats.status, 200, "token is no stats word");
    // The page's own files hold no data, and it cannot pass them a token.
    assert_eq!(rig.get("/assets/style.css").status, 200);
}

#[test]
fn basic_credentials_are_challenged_and_then_accepted() {
    let rig = Rig::start(|c| c.auth = Some(parse_auth("basic:ann:pa:ss").unwrap()));
    let none = rig.get("/");
    assert_eq!(none.status, 401);
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Basic realm=\"cc_cdr\"")
    );
    let with = |creds: &str| {
        rig.send(&format!(
            "GET /api/live HTTP/1.1\r\nHost: t\r\nAuthorization: Basic {}\r\nConnection: close\r\n\r\n",
            STANDARD.encode(creds)
        ))
        .status
    };
    assert_eq!(with("ann:wrong"), 401);
    assert_eq!(with("bob:pa:ss"), 401);
    assert_eq!(with("ann:pa:ss"), 200);
}

#[test]
fn only_get_and_head_are_allowed() {
    let rig = Rig::start(|_| {});
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let answer = rig.send(&format!(
            "{method} /api/live HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ));
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.header("allow"), Some("GET, HEAD"));
    }
}

#[test]
fn a_connection_serves_several_requests() {
    let rig = Rig::start(|_| {});
    let mut stream = connect(rig.addr);
    stream
        .write_all(b"GET /api/live HTTP/1.1\r\nHost: t\r\n\r\nGET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).unwrap();
    assert_eq!(all.matches("HTTP/1.1 200 OK").count(), 2, "{all}");
}

#[test]
fn an_oversized_head_is_refused_and_the_server_goes_on() {
    let rig = Rig::start(|_| {});
    let mut stream = connect(rig.addr);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    // The server may close before it has read everything: a failed write
    // is one of the two right outcomes.
    let _ = stream.write_all(big.as_bytes());
    if let Some(answer) = read_answer(&mut stream) {
        assert_eq!(answer.status, 431);
    }
    assert_eq!(rig.get("/").status, 200);
}

#[test]
fn a_stalled_request_is_cut_off_while_others_are_served() {
    let rig = Rig::start(|c| c.request_timeout = Duration::from_millis(500));
    let mut stalled = connect(rig.addr);
    stalled
        .write_all(b"GET /api/live HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    assert_eq!(rig.get("/api/live").status, 200, "served meanwhile");
    assert!(closed_by_server(&mut stalled), "cut off after the timeout");
    assert_eq!(rig.get("/api/live").status, 200);
}

#[test]
fn connections_past_the_limit_are_closed_and_the_server_recovers() {
    let rig = Rig::start(|c| {
        c.max_connections = 2;
        c.request_timeout = Duration::from_secs(300);
    });
    // Two that hold their slots: each proved accepted by an answer.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(rig.addr);
        stream
            .write_all(b"GET /api/live HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        assert!(stream.read(&mut buf).unwrap() > 0);
        held.push(stream);
    }
    for _ in 0..3 {
        let mut extra = connect(rig.addr);
        let _ = extra.write_all(b"GET /api/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assert!(
            read_answer(&mut extra).is_none(),
            "an extra one is closed unanswered"
        );
    }
    drop(held);
    eventually("served again once the two went", || {
        let mut stream = connect(rig.addr);
        let _ = stream.write_all(b"GET /api/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        read_answer(&mut stream).is_some_and(|a| a.status == 200)
    });
}

#[test]
fn stop_ends_the_server_with_a_stalled_client_connected() {
    let mut rig = Rig::start(|c| c.request_timeout = Duration::from_secs(3600));
    let mut stalled = connect(rig.addr);
    stalled.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    assert_eq!(
        rig.get("/").status,
        200,
        "the stalled one was accepted before"
    );
    let server = rig.server.take().unwrap();
    let (done, stopped) = mpsc::channel();
    thread::spawn(move || {
        server.stop();
        let _ = done.send(());
    });
    stopped
        .recv_timeout(PATIENCE)
        .expect("stop() returned, without waiting for the stalled client");
    assert!(
        closed_by_server(&mut stalled),
        "the stalled client was closed"
    );
    assert!(TcpStream::connect(rig.addr).is_err(), "no longer listening");
}

#[test]
fn a_taken_address_is_an_error_at_start() {
    let rig = Rig::start(|_| {});
    let config = HttpConfig::new(rig.addr);
    assert!(HttpServer::start(config, rig.site.clone()).is_err());
}
