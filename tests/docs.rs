//! The README and the sample config document exactly what the code does.

use mod_cc_cdr::config::{Config, PARAMS};
use mod_cc_cdr::domain::rows::Outcome;
use mod_cc_cdr::service::commands;
use mod_cc_cdr::stats::SlFormula;
use mod_cc_cdr::stats::agent_time;
use mod_cc_cdr::stats::metrics::{AGENT, QUEUE};
use mod_cc_cdr::store::schema::{
    ACTIVITY_COLUMNS, ATTEMPT_COLUMNS, CDR_COLUMNS, QUEUE_LOG_COLUMNS,
};

const README: &str = include_str!("../README.md");
const SAMPLE: &str = include_str!("../conf/autoload_configs/cc_cdr.conf.xml");

/// `(name, value)` of each `<param .../>` outside comments.
fn sample_params() -> Vec<(String, String)> {
    let mut text = SAMPLE.to_owned();
    while let Some(start) = text.find("<!--") {
        let end = text[start..]
            .find("-->")
            .map_or(text.len(), |e| start + e + 3);
        text.replace_range(start..end, "");
    }
    let attr = |tag: &str, name: &str| {
        let key = format!("{name}=\"");
        let from = tag.find(&key)? + key.len();
        Some(tag[from..].split('"').next()?.to_owned())
    };
    text.split("<param")
        .skip(1)
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value")?)))
        .collect()
}

#[test]
fn readme_documents_every_param_with_its_default() {
    for p in PARAMS {
        let row = format!("| `{}` | `{}` |", p.name, p.default);
        assert!(README.contains(&row), "README lacks the row starting {row}");
    }
}

#[test]
fn readme_documents_every_queue_param_with_its_range() {
    let start = README
        .find("### Per-queue targets: `<queues>`")
        .expect("README has the <queues> section");
    let section = &README[start..];
    let section = &section[..section[4..].find("\n#").map_or(section.len(), |e| e + 4)];
    for (name, min, max) in mod_cc_cdr::config::QUEUE_PARAMS {
        let row = format!("| `{name}` | {min} to {max} |");
        assert!(
            section.contains(&row),
            "README's <queues> lacks the row {row}"
        );
    }
}

#[test]
fn readme_documents_every_column_and_outcome() {
    for column in CDR_COLUMNS
        .iter()
        .chain(ATTEMPT_COLUMNS)
        .chain(ACTIVITY_COLUMNS)
        .chain(QUEUE_LOG_COLUMNS)
    {
        assert!(
            README.contains(&format!("| `{column}` |")),
            "README's schema reference lacks {column}"
        );
    }
    for outcome in Outcome::ALL.iter().map(|o| o.as_str()) {
        assert!(README.contains(&format!("| `{outcome}` |")), "{outcome}");
    }
}

#[test]
fn sample_config_lists_every_param_at_its_default_and_parses_cleanly() {
    let params = sample_params();
    let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    let documented: Vec<&str> = PARAMS.iter().map(|p| p.name).collect();
    assert_eq!(names, documented);
    for (name, value) in &params {
        let doc = PARAMS.iter().find(|p| p.name == name).unwrap();
        assert_eq!(value, doc.default, "{name}");
    }
    let parsed = Config::parse(&params, &std::env::temp_dir()).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.config, Config::defaults(&std::env::temp_dir()));
}

#[test]
fn readme_defines_every_metric_with_its_unit_and_every_formula() {
    let mut documented = Vec::new();
    for m in QUEUE.iter().chain(AGENT).filter(|m| m.shown) {
        documented.push((m.name, m.unit));
    }
    for (name, unit, _) in agent_time::MEANINGS {
        documented.push((name, unit));
    }
    for (name, unit) in documented {
        let row = format!("| `{name}` | {unit} |");
        assert!(README.contains(&row), "README lacks the metric row {row}");
    }
    for formula in SlFormula::ALL {
        assert!(
            README.contains(&format!("| `{}` |", formula.as_str())),
            "README lacks the formula {}",
            formula.as_str()
        );
    }
}

#[test]
fn readme_lists_every_cc_cdr_command_as_fs_cli_knows_it() {
    for c in commands::COMMANDS {
        let usage = if c.args.is_empty() {
            format!("cc_cdr {}", c.words)
        } else {
            format!("cc_cdr {} {}", c.words, c.args)
        };
        let row = format!("| `{}` |", usage.replace('|', "\\|"));
        assert!(README.contains(&row), "README lacks the command row {row}");
    }
    assert!(
        README.contains(&commands::retry_schedule()),
        "README states the retry schedule as the writer has it: {}",
        commands::retry_schedule()
    );
}

#[test]
fn readme_lists_every_prometheus_metric_family() {
    for family in mod_cc_cdr::live::metrics::FAMILIES {
        assert!(
            README.contains(&format!("| `{family}` |")),
            "README lacks the metric row of {family}"
        );
    }
}
