//! What mod_callcenter's own lists say, for the live view: which agents
//! serve which queue (`callcenter_config tier list`), and the callers in
//! a queue at load (`callcenter_config queue list members QUEUE`). Both
//! are `|`-separated tables with a header line and a closing `+OK`.

use std::collections::{BTreeMap, BTreeSet};

use super::Caller;

/// Agents by queue and queues by agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tiers {
    pub by_queue: BTreeMap<String, BTreeSet<String>>,
    pub by_agent: BTreeMap<String, BTreeSet<String>>,
}

impl Tiers {
    pub fn is_empty(&self) -> bool {
        self.by_queue.is_empty()
    }
}

/// A caller mod_callcenter lists in a queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    pub queue: String,
    pub member_uuid: String,
    pub uuid: Option<String>,
    pub number: Option<String>,
    pub name: Option<String>,
    pub joined: i64,
    /// The agent serving the caller (state `Answered`).
    pub agent: Option<String>,
    pub bridged: Option<i64>,
}

impl Member {
    pub fn caller(&self) -> Caller {
        Caller {
            member_uuid: self.member_uuid.clone(),
            uuid: self.uuid.clone(),
            queue: self.queue.clone(),
            number: self.number.clone(),
            name: self.name.clone(),
            entered: self.joined,
            agent: self.agent.clone(),
            answered: self.agent.as_ref().and(self.bridged),
            ..Caller::default()
        }
    }
}

/// The rows of a `|` table as maps from its header's names, or why not.
fn table(text: &str) -> Result<Vec<BTreeMap<&str, &str>>, String> {
    let mut lines = text.lines().map(str::trim_end).filter(|l| !l.is_empty());
    let header: Vec<&str> = match lines.next() {
        Some(h) if h.contains('|') => h.split('|').collect(),
        Some(other) => return Err(format!("unexpected answer: {}", other.escape_debug())),
        None => return Err("empty answer".to_owned()),
    };
    let mut rows = Vec::new();
    for line in lines {
        if line == "+OK" || line.starts_with("-ERR") {
            break;
        }
        let cells: Vec<&str> = line.split('|').collect();
        if cells.len() != header.len() {
            continue;
        }
        rows.push(header.iter().copied().zip(cells).collect());
    }
    Ok(rows)
}

fn present<'a>(row: &BTreeMap<&str, &'a str>, key: &str) -> Option<&'a str> {
    row.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// `callcenter_config tier list`: `queue|agent|state|level|position`.
pub fn parse_tiers(text: &str) -> Result<Tiers, String> {
    let mut tiers = Tiers::default();
    for row in table(text)? {
        let (Some(queue), Some(agent)) = (present(&row, "queue"), present(&row, "agent")) else {
            continue;
        };
        tiers
            .by_queue
            .entry(queue.to_owned())
            .or_default()
            .insert(agent.to_owned());
        tiers
            .by_agent
            .entry(agent.to_owned())
            .or_default()
            .insert(queue.to_owned());
    }
    Ok(tiers)
}

/// `callcenter_config queue list`: the queues' names (`name|strategy|...`).
pub fn parse_queue_names(text: &str) -> Result<Vec<String>, String> {
    Ok(table(text)?
        .iter()
        .filter_map(|row| present(row, "name").map(str::to_owned))
        .collect())
}

/// `callcenter_config queue list members QUEUE`: the callers waiting or
/// talking (`queue|instance_id|uuid|session_uuid|cid_number|cid_name|
/// system_epoch|joined_epoch|...|serving_agent|...|state|score`).
pub fn parse_members(text: &str) -> Result<Vec<Member>, String> {
    let mut members = Vec::new();
    for row in table(text)? {
        let (Some(queue), Some(member_uuid)) = (present(&row, "queue"), present(&row, "uuid"))
        else {
            continue;
        };
        let state = present(&row, "state").unwrap_or("");
        if !matches!(state, "Waiting" | "Trying" | "Answered") {
            continue;
        }
        let epoch = |key| {
            present(&row, key)
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|t| *t > 0)
        };
        let joined = epoch("rejoined_epoch").or(epoch("joined_epoch"));
        members.push(Member {
            queue: queue.to_owned(),
            member_uuid: member_uuid.to_owned(),
            uuid: present(&row, "session_uuid").map(str::to_owned),
            number: present(&row, "cid_number").map(str::to_owned),
            name: present(&row, "cid_name").map(str::to_owned),
            joined: joined.unwrap_or(0),
            agent: present(&row, "serving_agent")
                .filter(|_| state == "Answered")
                .map(str::to_owned),
            bridged: epoch("bridge_epoch"),
        });
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_read_both_ways() {
        let text = "queue|agent|state|level|position\n\
                    support@default|1000@default|Ready|1|1\n\
                    support@default|1001@default|Ready|1|2\n\
                    sales@default|1000@default|Standby|2|1\n+OK\n";
        let tiers = parse_tiers(text).unwrap();
        assert_eq!(tiers.by_queue["support@default"].len(), 2);
        assert_eq!(
            tiers.by_agent["1000@default"].iter().collect::<Vec<_>>(),
            ["sales@default", "support@default"]
        );
        assert!(parse_tiers("-ERR no such command").is_err());
    }

    #[test]
    fn members_waiting_or_talking_are_read_and_the_rest_left_out() {
        let text = "queue|instance_id|uuid|session_uuid|cid_number|cid_name|system_epoch|\
                    joined_epoch|rejoined_epoch|bridge_epoch|abandoned_epoch|base_score|\
                    skill_score|serving_agent|serving_system|state|score\n\
                    q@d|single_box|m1|s1|5551001|Alice|100|100|0|0|0|0|0||single_box|Waiting|5\n\
                    q@d|single_box|m2|s2|5551002|Bob|90|90|0|95|0|0|0|1000@d|single_box|Answered|15\n\
                    q@d|single_box|m3|s3|5551003|Carol|80|80|0|0|85|0|0||single_box|Abandoned|25\n\
                    +OK\n";
        let members = parse_members(text).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].caller().state(), "waiting");
        assert_eq!(members[0].joined, 100);
        let talking = members[1].caller();
        assert_eq!(talking.state(), "talking");
        assert_eq!(talking.answered, Some(95));
        assert_eq!(
            parse_queue_names("name|strategy\nq@d|ring-all\n+OK").unwrap(),
            ["q@d"]
        );
    }
}
