//! The service without FreeSWITCH: start from params, answer commands,
//! replay through the writer, stop.

use super::*;
use testkit::TempDir;

fn params(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    )
}

fn host(dir: &TempDir) -> Host {
    Host {
        db_dir: dir.path().to_owned(),
        switchname: "node-a".into(),
        core_uuid: "core-1".into(),
        cc_instance_id: Some("  ".into()),
        callcenter_agents: vec![("alice@default".into(), "5".into())],
        callcenter: None,
        channel_exists: None,
    }
}

#[test]
fn starts_answers_and_stops_without_freeswitch() {
    let dir = TempDir::new("service_start");
    let (service, ingress) = Service::start(
        params(&[("flush-interval-ms", "10")]),
        &[],
        &[],
        &host(&dir),
    )
    .expect("starts");
    assert_eq!(
        service.database(),
        &Database::Sqlite(dir.path().join("cc_cdr.db"))
    );
    let status = service.api("status");
    assert!(status.contains("database state:  ok"), "{status}");
    assert!(status.contains(&dir.path().join("cc_cdr.db").display().to_string()));
    assert!(service.api("help").contains("cc_cdr stats queue"));
    assert!(
        service
            .api("frobnicate")
            .starts_with("-ERR unknown cc_cdr command")
    );
    assert!(service.api("stats queue all today").contains("offered"));
    // The callback list, on its own connection too.
    let list = service.api("abandoned today csv");
    assert!(
        list.starts_with("caller_id_number,caller_id_name,"),
        "{list}"
    );
    let bad = service.api("abandoned agent x");
    assert!(
        bad.starts_with("-ERR unexpected 'agent'\nUSAGE: abandoned [FROM]"),
        "{bad}"
    );
    // The writer answers a replay on its channel, well within the timeout.
    assert_eq!(
        service.api("replay"),
        "+OK the spool was empty; nothing to replay\n"
    );
    drop(ingress);
    assert!(
        service
            .stop()
            .starts_with("mod_cc_cdr unloaded: 0 rows written")
    );
}

#[test]
fn a_bad_db_path_refuses_the_start_naming_the_param() {
    let dir = TempDir::new("service_bad_db");
    let Err(why) = Service::start(
        params(&[("db-path", "/nonexistent/dir/x.db")]),
        &[],
        &[],
        &host(&dir),
    ) else {
        panic!("a db-path in a missing directory must refuse the start");
    };
    assert!(why.contains("param 'db-path'"), "{why}");
}

#[test]
fn the_node_is_node_name_or_switchname_and_the_instance_cc_instance_id_or_core_uuid() {
    let dir = TempDir::new("service_node");
    let config = Config::parse(&[], dir.path()).unwrap().config;
    let mut h = host(&dir);
    let node = node_identity(&config, &h);
    assert_eq!(
        (node.name.as_str(), node.instance.as_str()),
        ("node-a", "core-1")
    );
    h.cc_instance_id = Some(" cc-7 ".into());
    let named = Config::parse(&[("node-name".into(), "east".into())], dir.path())
        .unwrap()
        .config;
    let node = node_identity(&named, &h);
    assert_eq!(
        (node.name.as_str(), node.instance.as_str()),
        ("east", "cc-7")
    );
}

#[test]
fn without_a_running_module_only_help_answers() {
    assert!(api_not_running("").contains("USAGE"));
    assert_eq!(
        api_not_running("status"),
        "-ERR mod_cc_cdr is not running\n"
    );
    assert!(api_not_running("nope").starts_with("-ERR unknown"));
}

fn two_agents(args: &str) -> Option<String> {
    if args != "agent list" {
        return None;
    }
    Some(
        "name|instance_id|uuid|type|contact|status|state|max_no_answer\n\
         alice@default|single_box||callback|null/1|Available|Waiting|0\n\
         added@default|single_box||callback|null/2|On Break|Idle|0\n\
         +OK\n"
            .to_owned(),
    )
}

#[test]
fn the_agents_listed_at_start_open_intervals_and_the_stop_closes_them() {
    let dir = TempDir::new("service_agents");
    let mut h = host(&dir);
    h.callcenter = Some(two_agents);
    let before = crate::writer::alive::now_us();
    let (service, ingress) =
        Service::start(params(&[("flush-interval-ms", "10")]), &[], &[], &h).expect("starts");
    let db = dir.path().join("cc_cdr.db");
    let open = |sql: &str| -> i64 {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while open("SELECT count(*) FROM agent_activity WHERE end_us IS NULL") < 4 {
        assert!(std::time::Instant::now() < deadline, "no intervals opened");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        open(&format!(
            "SELECT count(*) FROM agent_activity WHERE start_us >= {before} AND \
             ((agent_name = 'alice@default' AND value IN ('Available', 'Waiting')) OR \
              (agent_name = 'added@default' AND value IN ('On Break', 'Idle')))"
        )),
        4
    );
    drop(ingress);
    service.stop();
    assert_eq!(
        open("SELECT count(*) FROM agent_activity WHERE end_us IS NULL"),
        0
    );
    assert_eq!(
        open("SELECT count(*) FROM agent_activity WHERE end_reason = 'shutdown'"),
        4
    );
    assert!(
        !crate::writer::alive::heartbeat_path(&db).exists(),
        "a clean stop leaves no heartbeat"
    );
}
