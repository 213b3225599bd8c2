//! Real FreeSWITCH: the live view with its web server on 127.0.0.1.
//!
//! Callers wait in a queue whose only agent is on break: `cc_cdr live`,
//! `/api/live` and `/metrics` agree on how many, and the longest wait
//! grows; a real Prometheus scrapes `/metrics` and answers a query of the
//! waiting callers; a real headless Chromium shows the count on the
//! wallboard, draws the history, logs no error, and shows the hostile
//! caller name as text. Then the agent becomes Available, answers them in
//! turn (they move to talking), and today's counts equal `cc_cdr stats`.
//! The server refuses a wrong token, a POST and an oversized request, and
//! the switch keeps running. After `reload mod_cc_cdr` the server is back
//! on its address with today's counts read from the database. And with
//! `live-nodes all`, one switch's view shows another's caller and counts. Without FreeSWITCH the test prints one
//! "skipped" line; without Prometheus or Chromium those parts do.

mod common;
use common::setup;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use testkit::TempDir;
use testkit::browser::Chromium;
use testkit::harness::{FreeSwitch, Options, wait_for};

const QUEUE: &str = "wall@default";
const TOKEN: &str = "s3cret-token";
const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// One agent, on break at first, who answers after half a second and
/// hangs up 3 s later.
const XML: &str = r#"
      <queues>
        <queue name="wall@default">
          <param name="strategy" value="longest-idle-agent"/>
          <param name="moh-sound" value="silence_stream://-1"/>
        </queue>
      </queues>
      <agents>
        <agent name="wanda@default" type="callback" status="On Break" max-no-answer="0"
               wrap-up-time="0" reject-delay-time="0" busy-delay-time="0" no-answer-delay-time="0"
               contact="{null_auto_answer_delay=500,execute_on_answer='sched_hangup +3 NORMAL_CLEARING'}null/1007"/>
      </agents>
      <tiers>
        <tier agent="wanda@default" queue="wall@default" level="1" position="1"/>
      </tiers>
"#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request on its own connection: the status and the body.
fn request(addr: SocketAddr, head: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the web server");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    request(
        addr,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
             Connection: close\r\n\r\n"
        ),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The queue's entry of a live view.
fn queue_of(view: &serde_json::Value) -> serde_json::Value {
    view["queues"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["queue"] == QUEUE))
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

fn fs_cli_live(fs: &FreeSwitch) -> serde_json::Value {
    json(&fs.api(&format!("cc_cdr live queue {QUEUE} json")).unwrap())
}

/// A sample of `/metrics`: `name{queue="wall@default"}`.
fn metric(text: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name}{{queue=\"{QUEUE}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

fn call(fs: &FreeSwitch, number: &str, name: &str) {
    let reply = fs
        .api(&format!(
            "originate {{loopback_bowout=false,origination_caller_id_number={number},\
             origination_caller_id_name='{name}'}}loopback/q-wall/default &park"
        ))
        .expect("originate");
    assert!(reply.starts_with("+OK"), "originate: {reply}");
}

/// A Prometheus of Debian's package scraping `target` every second.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Prometheus {
    fn start(target: SocketAddr) -> Option<Prometheus> {
        let binary = std::env::var_os("PROMETHEUS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
        if !binary.is_file() {
            eprintln!(
                "skipped: no Prometheus at {}: the Prometheus part of the live view test",
                binary.display()
            );
            return None;
        }
        let dir = TempDir::new("prometheus");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: cc_cdr\n    authorization:\n      \
                 type: Bearer\n      credentials: {TOKEN}\n    static_configs:\n      \
                 - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus starts");
        Some(Prometheus {
            child,
            port,
            _dir: dir,
        })
    }

    /// The value of an instant query, once it has one.
    fn query(&self, promql: &str) -> Option<f64> {
        TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        let encoded: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        let (status, body) = request(
            addr,
            &format!(
                "GET /api/v1/query?query={encoded} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                 Connection: close\r\n\r\n"
            ),
        );
        if status != 200 {
            return None;
        }
        // A chunked body: the JSON is between the first '{' and last '}'.
        let body = &body[body.find('{')?..=body.rfind('}')?];
        let answer = json(body);
        answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots go: `CC_CDR_SCREENSHOTS`, else the test's dir.
fn screenshot_dir(fallback: &Path) -> PathBuf {
    std::env::var_os("CC_CDR_SCREENSHOTS").map_or_else(|| fallback.to_owned(), PathBuf::from)
}

fn chromium() -> Option<Chromium> {
    let found = Chromium::find();
    if found.is_none() {
        eprintln!("skipped: no Chromium: the browser part of the live view test");
    }
    found
}

fn shoot(chromium: &Chromium, url: &str, shots: &Path, name: &str, w: u32, h: u32) {
    std::fs::create_dir_all(shots).unwrap();
    let png = shots.join(name);
    chromium
        .screenshot(url, &png, w, h, 8000)
        .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
    eprintln!("screenshot: {}", png.display());
}

/// While two callers wait: the wallboard's tile, the hostile name.
fn check_wallboard(addr: SocketAddr, shots: &Path) {
    let Some(chromium) = chromium() else {
        return;
    };
    let wallboard = format!("http://{addr}/?token={TOKEN}");
    let page = wait_for(Duration::from_secs(120), || {
        let page = chromium.dump_dom(&wallboard, 5000).ok()?;
        page.dom
            .contains(&format!("data-queue=\"{QUEUE}\""))
            .then_some(page)
    })
    .expect("the wallboard shows the queue's tile");
    let dom = &page.dom;
    let tile = &dom[dom.find(&format!("data-queue=\"{QUEUE}\"")).unwrap()..];
    let waiting = tile
        .split("class=\"value waiting\"")
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or("");
    assert_eq!(
        waiting.trim(),
        "2",
        "the tile's waiting count in {tile:.2000}"
    );
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the hostile name as text"
    );
    assert!(!dom.contains("<img src=\"x\""), "no image made of the name");
    assert!(
        page.console.is_empty(),
        "console of the wallboard:\n{}",
        page.console_text()
    );

    shoot(&chromium, &wallboard, shots, "wallboard.png", 1600, 900);
    shoot(
        &chromium,
        &wallboard,
        shots,
        "wallboard-phone.png",
        400,
        800,
    );
}

/// Once calls have ended: every chart of the history is drawn.
fn check_history(addr: SocketAddr, shots: &Path) {
    let Some(chromium) = chromium() else {
        return;
    };
    let history = format!("http://{addr}/history?token={TOKEN}");
    let page = chromium.dump_dom(&history, 8000).expect("history loads");
    for chart in ["chart-calls", "chart-sl", "chart-asa", "chart-waits"] {
        let at = page
            .dom
            .find(&format!("id=\"{chart}\""))
            .unwrap_or_else(|| panic!("#{chart} in the history page"));
        let rest = &page.dom[at..];
        let end = rest[1..].find("id=\"chart-").map_or(rest.len(), |e| e + 1);
        assert!(
            rest[..end].contains("<svg") && rest[..end].contains("mark"),
            "#{chart} has a drawn chart: {:.1500}",
            &rest[..end]
        );
    }
    assert!(
        page.console.is_empty(),
        "console of the history page:\n{}",
        page.console_text()
    );

    shoot(&chromium, &history, shots, "history.png", 1280, 1400);

    // Business hours travel from the page through /api/stats to the
    // statistics: the whole day as hours, so the calls are still drawn.
    let hours = format!("{history}&hours=00:00-24:00");
    let page = chromium.dump_dom(&hours, 8000).expect("history loads");
    assert!(
        page.dom.contains("hours 00:00-24:00;"),
        "the history says its hours: {:.3000}",
        page.dom
    );
    assert!(
        page.dom.contains("mark"),
        "the history with hours draws the calls"
    );
    assert!(
        page.console.is_empty(),
        "console of the history page with hours:\n{}",
        page.console_text()
    );
}

#[test]
fn the_live_view_agrees_in_fs_cli_json_metrics_prometheus_and_the_browser() {
    let test = "the_live_view_agrees_in_fs_cli_json_metrics_prometheus_and_the_browser";
    let Some((install, module)) = setup(test) else {
        return;
    };
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let options = Options {
        callcenter_xml: XML.to_owned(),
        cc_cdr_params: vec![
            ("http-listen".into(), listen.clone()),
            ("http-auth".into(), format!("token:{TOKEN}")),
            ("flush-interval-ms".into(), "100".into()),
            ("time-zone".into(), "UTC".into()),
        ],
        cc_cdr_columns: Vec::new(),
        cc_cdr_queues: Vec::new(),
    };
    let mut fs = FreeSwitch::start(&install, &module, &options).expect("FreeSWITCH starts");
    let addr: SocketAddr = listen.parse().unwrap();

    // The server answers once loaded; a wrong token is refused.
    wait_for(Duration::from_secs(60), || {
        TcpStream::connect(addr).ok().map(|_| ())
    })
    .expect("the web server listens");
    let (status, _) = request(
        addr,
        "GET /api/live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401, "a wrong token");

    call(&fs, "5552001", "Alice Caller");
    call(&fs, "5552002", HOSTILE);
    let first = wait_for(Duration::from_secs(60), || {
        let view = fs_cli_live(&fs);
        let q = queue_of(&view);
        // The agent's status comes from mod_callcenter's list, read within 1 s of load.
        (q["waiting"] == 2 && q["agents"]["on_break"] == 1).then_some(view)
    })
    .expect("two callers waiting in cc_cdr live, the agent on break");
    let q = queue_of(&first);
    assert_eq!(q["talking"], 0);
    assert_eq!(q["agents"]["on_break"], 1, "{q}");
    let agent = &first["agents"][0];
    assert_eq!(agent["agent"], "wanda@default");
    assert_eq!(agent["activity"], "on_break");
    let table = fs.api("cc_cdr live").unwrap();
    assert!(
        table.contains(QUEUE) && table.contains("on_break"),
        "{table}"
    );

    // /api/live and /metrics say the same, and the wait grows.
    let (status, body) = get(addr, "/api/live");
    assert_eq!(status, 200);
    let api = json(&body);
    assert_eq!(queue_of(&api)["waiting"], 2);
    let wait_then = queue_of(&api)["longest_wait_sec"].as_i64().unwrap();
    let (_, metrics) = get(addr, "/metrics");
    assert_eq!(
        metric(&metrics, "cc_queue_calls_waiting"),
        Some(2.0),
        "{metrics}"
    );
    let grown = wait_for(Duration::from_secs(30), || {
        let (_, metrics) = get(addr, "/metrics");
        metric(&metrics, "cc_queue_oldest_wait_seconds").filter(|w| *w > wait_then as f64 + 1.0)
    });
    assert!(grown.is_some(), "the longest wait grows past {wait_then} s");
    eprintln!(
        "/metrics while two callers wait:\n{}",
        get(addr, "/metrics")
            .1
            .lines()
            .filter(|l| l.contains(QUEUE))
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Prometheus scrapes it and answers a query of the waiting callers.
    if let Some(prometheus) = Prometheus::start(addr) {
        let promql = format!("cc_queue_calls_waiting{{queue=\"{QUEUE}\"}}");
        let answer = wait_for(Duration::from_secs(90), || {
            prometheus.query(&promql).filter(|v| *v == 2.0)
        });
        assert_eq!(answer, Some(2.0), "Prometheus' answer to {promql}");
        eprintln!("Prometheus: {promql} = 2");
    }

    check_wallboard(addr, &screenshot_dir(&fs.dir));

    // The hostile requests: a POST, an oversized head; the switch goes on.
    let (status, _) = request(
        addr,
        &format!(
            "POST /api/live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 405, "a POST");
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(256 * 1024)
    );
    let (status, _) = request(addr, &big);
    assert!(status == 431 || status == 0, "an oversized head: {status}");
    assert!(fs.api("status").unwrap().contains("UP"), "the switch runs");
    assert_eq!(get(addr, "/api/live").0, 200, "and the server still serves");

    // The agent comes back: one caller talks, then the other, then none.
    let reply = fs
        .api("callcenter_config agent set status wanda@default Available")
        .unwrap();
    assert!(reply.starts_with("+OK"), "{reply}");
    wait_for(Duration::from_secs(60), || {
        let q = queue_of(&fs_cli_live(&fs));
        (q["talking"] == 1 && q["waiting"] == 1).then_some(())
    })
    .expect("one caller talks while the other waits");
    let (_, metrics) = get(addr, "/metrics");
    assert_eq!(
        metric(&metrics, "cc_queue_calls_talking"),
        Some(1.0),
        "{metrics}"
    );
    let done = wait_for(Duration::from_secs(90), || {
        let view = fs_cli_live(&fs);
        let q = queue_of(&view);
        (q["waiting"] == 0 && q["talking"] == 0 && q["today"]["answered"] == 2).then_some(q)
    })
    .expect("both answered and done");

    // Today's counts are the statistics'.
    let stats = json(
        &fs.api(&format!("cc_cdr stats queue {QUEUE} today json"))
            .unwrap(),
    );
    let row = &stats["rows"][0];
    for key in ["offered", "answered", "abandoned", "answered_within_sl"] {
        assert_eq!(
            done["today"][key], row[key],
            "{key}: live {done} stats {row}"
        );
    }
    for key in ["asa_sec", "max_wait_sec"] {
        assert_eq!(
            done["today"][key].as_f64(),
            row[key].as_f64(),
            "{key}: live {done} stats {row}"
        );
    }
    let (status, body) = get(
        addr,
        &format!("/api/stats?subject=queue&name={QUEUE}&from=today&interval=total"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body), stats, "/api/stats is cc_cdr stats json");
    let (_, metrics) = get(addr, "/metrics");
    assert!(
        metrics.contains(&format!(
            "cc_queue_calls_total{{queue=\"{QUEUE}\",outcome=\"answered\"}} 2"
        )),
        "{metrics}"
    );
    check_history(addr, &screenshot_dir(&fs.dir));

    // A reload: the server comes back on its address, and today's counts
    // are read back from the database.
    let reply = fs.api("reload mod_cc_cdr").unwrap();
    assert!(reply.contains("+OK"), "reload: {reply}");
    let reloaded = wait_for(Duration::from_secs(60), || {
        let (status, body) = get(addr, "/api/live");
        let q = queue_of(&json(&body));
        (status == 200 && q["today"]["answered"] == 2).then_some(q)
    })
    .expect("after the reload, /api/live has today's two answered calls again");
    assert_eq!(reloaded["today"]["offered"], done["today"]["offered"]);
    assert!(fs.stop(), "FreeSWITCH stops cleanly");
}

#[test]
fn with_live_nodes_all_one_switch_shows_the_callers_and_counts_of_another() {
    let test = "with_live_nodes_all_one_switch_shows_the_callers_and_counts_of_another";
    let Some((install, module)) = setup(test) else {
        return;
    };
    let Some(pg) = common::postgres(test) else {
        return;
    };
    let dsn = pg.dsn();
    let start = |params: Vec<(String, String)>| {
        let options = Options {
            callcenter_xml: XML.to_owned(),
            cc_cdr_params: params,
            cc_cdr_columns: Vec::new(),
            cc_cdr_queues: Vec::new(),
        };
        FreeSwitch::start(&install, &module, &options).expect("FreeSWITCH starts")
    };
    let mut watching = start(vec![
        ("db-dsn".into(), dsn.clone()),
        ("live-nodes".into(), "all".into()),
        ("flush-interval-ms".into(), "100".into()),
    ]);
    let mut serving = start(vec![
        ("db-dsn".into(), dsn.clone()),
        ("flush-interval-ms".into(), "100".into()),
    ]);
    call(&serving, "5553001", "Remote Caller");
    wait_for(Duration::from_secs(60), || {
        (queue_of(&fs_cli_live(&watching))["waiting"] == 1).then_some(())
    })
    .expect("the other switch's caller waits in this switch's live view");
    assert_eq!(queue_of(&fs_cli_live(&serving))["waiting"], 1);

    let reply = serving
        .api("callcenter_config agent set status wanda@default Available")
        .unwrap();
    assert!(reply.starts_with("+OK"), "{reply}");
    let done = wait_for(Duration::from_secs(90), || {
        let q = queue_of(&fs_cli_live(&watching));
        (q["waiting"] == 0 && q["today"]["answered"] == 1).then_some(q)
    })
    .expect("the other switch's answered call counts in this switch's today");
    assert_eq!(done["today"]["offered"], 1);
    // The serving switch's own view is its own.
    assert_eq!(queue_of(&fs_cli_live(&serving))["today"]["answered"], 1);
    assert!(watching.stop() && serving.stop(), "both stop cleanly");
}
