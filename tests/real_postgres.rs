//! Real FreeSWITCH on PostgreSQL: two switches on one machine write into one
//! database, each row with its node; PostgreSQL stopped during calls and
//! started again loses nothing and duplicates nothing.
//!
//! Each test needs a FreeSWITCH (FREESWITCH_PREFIX) and PostgreSQL's server
//! binaries; without either it prints one "skipped" line and passes. Waits
//! are for conditions, with generous limits.

mod common;
use common::{pg_number as number, postgres, setup};

use std::path::Path;
use std::time::Duration;

use testkit::harness::{FreeSwitch, Installation, Options, wait_for};
use testkit::scenarios::{CALLCENTER_XML, CALLS};

fn start(install: &Installation, module: &Path, dsn: &str) -> FreeSwitch {
    let options = Options {
        callcenter_xml: CALLCENTER_XML.to_owned(),
        cc_cdr_params: vec![("db-dsn".into(), dsn.into())],
        ..Options::default()
    };
    FreeSwitch::start(install, module, &options).expect("FreeSWITCH starts")
}

/// Waits until `sql` gives `want`; panics with what it gave last.
fn wait_number(dsn: &str, sql: &str, want: i64, fs: &[&FreeSwitch]) {
    let mut last = None;
    let got = wait_for(Duration::from_secs(120), || {
        last = number(dsn, sql);
        (last == Some(want)).then_some(())
    });
    if got.is_none() {
        let logs: Vec<String> = fs
            .iter()
            .map(|f| f.log_file().display().to_string())
            .collect();
        panic!("{sql}: wanted {want}, got {last:?} after 120 s; logs: {logs:?}");
    }
}

fn place(fs: &FreeSwitch, call: usize, tag: &str) {
    let reply = fs.api(&CALLS[call].originate(tag)).unwrap();
    assert!(reply.starts_with("+OK"), "originate: {reply}");
}

/// A number from `cc_cdr stats ... json`: `key` of the row of `name`.
fn stats_number(json: &str, name: &str, key: &str) -> Option<f64> {
    let row = json
        .split('{')
        .find(|r| r.contains(&format!("\"{name}\"")))?;
    let at = row.find(&format!("\"{key}\":"))? + key.len() + 3;
    row[at..]
        .trim_start()
        .split([',', '}'])
        .next()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn two_switches_write_one_postgres_each_row_with_its_node() {
    let test = "two_switches_write_one_postgres_each_row_with_its_node";
    let Some((install, module)) = setup(test) else {
        return;
    };
    let Some(pg) = postgres("two_switches") else {
        return;
    };
    let dsn = pg.dsn();
    let one = start(&install, &module, &dsn);
    let two = start(&install, &module, &dsn);
    let (name_one, name_two) = (one.switchname(), two.switchname());
    assert_ne!(name_one, name_two);

    // Both connect, and migrate the same schema without racing.
    for fs in [&one, &two] {
        let status = fs.api("cc_cdr status").unwrap();
        assert!(status.contains("postgresql://"), "{status}");
    }
    // Node one: an answered call and an abandon; node two: an answered call.
    place(&one, 0, "00000000-0000-4000-8000-00000000a101");
    place(&one, 1, "00000000-0000-4000-8000-00000000a102");
    place(&two, 0, "00000000-0000-4000-8000-00000000b101");

    let rows = |node: &str| {
        format!(
            "SELECT count(*) FROM callcenter_cdr WHERE node = '{node}' \
             AND hangup_cause IS NOT NULL AND closed_by <> 'open'"
        )
    };
    wait_number(&dsn, &rows(&name_one), 2, &[&one, &two]);
    wait_number(&dsn, &rows(&name_two), 1, &[&one, &two]);
    assert_eq!(
        number(&dsn, "SELECT count(*) FROM callcenter_cdr"),
        Some(3),
        "one row per visit"
    );
    // Offers and agent activity carry the node too.
    assert_eq!(
        number(
            &dsn,
            &format!("SELECT count(*) FROM agent_attempt WHERE node = '{name_two}'")
        ),
        Some(1)
    );
    assert!(
        number(
            &dsn,
            &format!("SELECT count(*) FROM agent_activity WHERE node = '{name_one}'")
        )
        .unwrap_or(0)
            > 0
    );
    assert_eq!(
        number(
            &dsn,
            "SELECT count(*) FROM callcenter_cdr WHERE node_instance IS NULL OR node_instance = ''"
        ),
        Some(0)
    );

    // Statistics across the nodes add up, from either node's fs_cli.
    let stats = |fs: &FreeSwitch, filter: &str| {
        fs.api(&format!(
            "cc_cdr stats queue support@default yesterday now total {filter} json"
        ))
        .unwrap()
    };
    let all = stats(&two, "");
    let only_one = stats(&two, &format!("node {name_one}"));
    let only_two = stats(&one, &format!("node {name_two}"));
    let offered = |json: &str| stats_number(json, "support@default", "offered");
    assert_eq!(offered(&all), Some(2.0), "{all}");
    assert_eq!(offered(&only_one), Some(1.0), "{only_one}");
    assert_eq!(offered(&only_two), Some(1.0), "{only_two}");
    let answered = |json: &str| stats_number(json, "support@default", "answered");
    assert_eq!(answered(&all), Some(2.0), "{all}");
}

#[test]
fn postgres_stopped_during_calls_loses_no_row_and_duplicates_none() {
    let test = "postgres_stopped_during_calls_loses_no_row_and_duplicates_none";
    let Some((install, module)) = setup(test) else {
        return;
    };
    let Some(mut pg) = postgres("stopped_during_calls") else {
        return;
    };
    let dsn = pg.dsn();
    let fs = start(&install, &module, &dsn);
    place(&fs, 0, "00000000-0000-4000-8000-00000000c101");
    wait_number(
        &dsn,
        "SELECT count(*) FROM callcenter_cdr WHERE closed_by <> 'open'",
        1,
        &[&fs],
    );

    // Down while calls come and go: an answered call and an abandon.
    pg.stop().unwrap();
    place(&fs, 0, "00000000-0000-4000-8000-00000000c102");
    place(&fs, 1, "00000000-0000-4000-8000-00000000c103");
    let spooled = wait_for(Duration::from_secs(120), || {
        let status = fs.api("cc_cdr status").ok()?;
        (status.contains("REFUSING WRITES") && !status.contains("spool:           0 "))
            .then_some(status)
    });
    assert!(
        spooled.is_some(),
        "no spooling while PostgreSQL was down: {}",
        fs.api("cc_cdr status").unwrap_or_default()
    );
    // Let both calls end while it is down.
    let ended = wait_for(Duration::from_secs(60), || {
        let channels = fs.api("show channels count").ok()?;
        channels.contains("0 total").then_some(())
    });
    assert!(ended.is_some(), "the calls did not end");

    // Back: `cc_cdr replay` writes the spool now, rather than at the next try.
    pg.restart().unwrap();
    let replayed = wait_for(Duration::from_secs(120), || {
        fs.api("cc_cdr replay")
            .ok()
            .filter(|r| r.starts_with("+OK"))
    });
    assert!(replayed.is_some(), "cc_cdr replay never succeeded");
    wait_number(
        &dsn,
        "SELECT count(*) FROM callcenter_cdr WHERE hangup_cause IS NOT NULL \
         AND closed_by <> 'open'",
        3,
        &[&fs],
    );
    assert_eq!(number(&dsn, "SELECT count(*) FROM callcenter_cdr"), Some(3));
    assert_eq!(
        number(
            &dsn,
            "SELECT count(*) FROM callcenter_cdr WHERE outcome = 'answered'"
        ),
        Some(2)
    );
    assert_eq!(
        number(
            &dsn,
            "SELECT count(*) FROM (SELECT member_uuid, agent_name, attempt_no FROM agent_attempt \
             GROUP BY 1, 2, 3 HAVING count(*) > 1) AS twice"
        ),
        Some(0),
        "no offer twice"
    );
    let status = fs.api("cc_cdr status").unwrap();
    assert!(status.contains("database state:  ok"), "{status}");
}

/// Runs `openssl` with these arguments in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA named `name` in `dir` (`<name>.crt`, `<name>.key`).
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

#[test]
fn postgres_over_tls_verifies_the_server_and_spools_until_the_ca_is_right() {
    let Some((install, module)) = setup("postgres_over_tls") else {
        return;
    };
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no openssl command to make certificates: postgres_over_tls");
        return;
    }
    let Some(mut pg) = postgres("postgres_over_tls") else {
        return;
    };
    // A CA, a server certificate it signed for 127.0.0.1, and another CA.
    let certs = testkit::TempDir::new("pg_tls_certs");
    let dir = certs.path();
    make_ca(dir, "right_ca");
    make_ca(dir, "wrong_ca");
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "right_ca.crt",
            "-CAkey",
            "right_ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    );
    pg.enable_tls(&dir.join("server.crt"), &dir.join("server.key"))
        .expect("PostgreSQL with ssl = on");
    let base = pg.create_database("tls").unwrap();
    let with_ca = |ca: &str| {
        format!(
            "{base}?sslmode=verify-full&sslrootcert={}",
            dir.join(ca).display()
        )
    };

    // The wrong CA: the load says why, naming the param, and rows spool.
    let mut fs = start(&install, &module, &with_ca("wrong_ca.crt"));
    let refused = wait_for(Duration::from_secs(60), || {
        let log = std::fs::read_to_string(fs.log_file()).ok()?;
        log.lines()
            .find(|l| l.contains("param 'db-dsn'") && l.contains("sslmode=verify-full"))
            .map(str::to_owned)
    })
    .expect("the TLS refusal in the log");
    eprintln!("refused: {refused}");
    assert!(
        refused.contains("certificate verify failed"),
        "the reason: {refused}"
    );
    place(&fs, 0, "00000000-0000-4000-8000-000000000701");
    let spooled = wait_for(Duration::from_secs(90), || {
        let status = fs.api("cc_cdr status").ok()?;
        let line = status.lines().find(|l| l.contains("spooled"))?.to_owned();
        (!line.trim_end().ends_with(" 0")).then_some(status)
    });
    assert!(spooled.is_some(), "rows wait in the spool");
    assert_eq!(
        number(
            &base,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'callcenter_cdr'"
        ),
        Some(0),
        "nothing reached the server"
    );

    // The right CA and a reload: the spool is written, over TLS.
    fs.set_cc_cdr_params(&[("db-dsn", &with_ca("right_ca.crt"))])
        .unwrap();
    assert!(fs.api("reload mod_cc_cdr").unwrap().contains("+OK"));
    wait_number(
        &base,
        "SELECT count(*) FROM callcenter_cdr WHERE caller_id_number = '5550001' \
         AND closed_by <> 'open'",
        1,
        &[&fs],
    );
    let over_tls = number(
        &base,
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE s.ssl AND a.application_name = 'mod_cc_cdr'",
    );
    assert!(
        over_tls.unwrap_or(0) >= 1,
        "the module's connection uses TLS"
    );
    let status = fs.api("cc_cdr status").unwrap();
    assert!(status.contains("database state:  ok"), "{status}");
}

#[test]
fn a_password_file_keeps_the_password_out_of_the_xml_and_the_status() {
    let Some((install, module)) = setup("a_password_file") else {
        return;
    };
    let Some(pg) = postgres("a_password_file") else {
        return;
    };
    let base = pg.create_database("passfile").unwrap();
    // A user with a password, and md5/scram for it over TCP would need
    // pg_hba changes; trust accepts any password, so this checks that the
    // password is read, sent and never shown.
    let secrets = testkit::TempDir::new("pg_passfile");
    let file = secrets.path().join("cc_cdr.pgpass");
    std::fs::write(&file, "s3cret-from-file\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    // (A file others can read refuses the load: a unit test in config.rs.)
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let options = Options {
        callcenter_xml: CALLCENTER_XML.to_owned(),
        cc_cdr_params: vec![
            ("db-dsn".into(), base.clone()),
            ("db-password-file".into(), file.display().to_string()),
        ],
        ..Options::default()
    };
    let fs = FreeSwitch::start(&install, &module, &options).expect("starts");
    place(&fs, 0, "00000000-0000-4000-8000-000000000702");
    wait_number(
        &base,
        "SELECT count(*) FROM callcenter_cdr WHERE caller_id_number = '5550001' \
         AND closed_by <> 'open'",
        1,
        &[&fs],
    );
    let status = fs.api("cc_cdr status").unwrap();
    assert!(!status.contains("s3cret"), "{status}");
    let log = std::fs::read_to_string(fs.log_file()).unwrap();
    assert!(!log.contains("s3cret"), "the password is in the log");
}
