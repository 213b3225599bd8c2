//! Columns of `callcenter_cdr` that the admin adds (`<columns>` in
//! cc_cdr.conf): each holds one channel variable of the caller's channel
//! or of the answering agent's, as it was at the end of the visit.

/// Whose channel a column reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leg {
    /// The caller's channel (the queue member); the default.
    Caller,
    /// The channel of the agent who answered.
    Agent,
}

impl Leg {
    pub fn as_str(self) -> &'static str {
        match self {
            Leg::Caller => "caller",
            Leg::Agent => "agent",
        }
    }

    /// `caller` or `agent`, any case; empty is the default, `caller`.
    pub fn parse(text: &str) -> Option<Leg> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("caller") {
            Some(Leg::Caller)
        } else if text.eq_ignore_ascii_case("agent") {
            Some(Leg::Agent)
        } else {
            None
        }
    }
}

/// One configured column: `name` in the table, filled from `variable`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomColumn {
    pub name: String,
    pub variable: String,
    pub leg: Leg,
}

/// PostgreSQL's reserved key words (SQL:2016's core among them): a column
/// of such a name would need quotes in every query a supervisor writes.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// PostgreSQL keeps 63 bytes of a name.
const MAX_NAME: usize = 63;

/// Why a column name cannot be a column: `None` for a plain SQL identifier
/// (lower case: `name` is already folded), not reserved, not in `taken`.
pub fn name_problem(name: &str, taken: &[&str]) -> Option<String> {
    let plain = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name.len() <= MAX_NAME;
    if !plain {
        Some(format!(
            "'{name}' is not a plain SQL identifier (letters, digits and _, not starting \
             with a digit, at most {MAX_NAME})"
        ))
    } else if RESERVED.contains(&name) {
        Some(format!("'{name}' is an SQL reserved word"))
    } else if taken.contains(&name) {
        Some(format!("'{name}' is a built-in column of callcenter_cdr"))
    } else {
        None
    }
}

/// Why a channel variable name cannot be read: FreeSWITCH's names have no
/// spaces or control characters.
pub fn variable_problem(variable: &str) -> Option<String> {
    if variable.is_empty() {
        Some("no variable given".to_owned())
    } else if variable
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        Some(format!(
            "variable '{variable}' has a space or a control character"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_plain_unreserved_and_free() {
        for good in ["account", "_x", "campaign_2", &"a".repeat(63)] {
            assert_eq!(name_problem(good, &["uuid"]), None, "{good}");
        }
        for (bad, why) in [
            ("", "plain"),
            ("2nd", "plain"),
            ("x-campaign", "plain"),
            ("drop table", "plain"),
            ("a;b", "plain"),
            ("naïve", "plain"),
            (&"a".repeat(64), "plain"),
            ("order", "reserved"),
            ("user", "reserved"),
            ("uuid", "built-in"),
        ] {
            let problem = name_problem(bad, &["uuid"]).unwrap_or_default();
            assert!(problem.contains(why), "{bad}: {problem}");
        }
    }

    #[test]
    fn legs_and_variables() {
        assert_eq!(Leg::parse(""), Some(Leg::Caller));
        assert_eq!(Leg::parse(" Agent "), Some(Leg::Agent));
        assert_eq!(Leg::parse("bleg"), None);
        assert_eq!(variable_problem("sip_h_X-Campaign"), None);
        assert!(variable_problem("").is_some());
        assert!(variable_problem("a b").is_some());
    }
}
