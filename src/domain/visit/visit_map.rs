//! Visits by (member UUID, caller session UUID), findable by either half in
//! constant time. Hangups name only the session, and some events only the
//! member: scanning every visit for them made the writer quadratic in the
//! number of visits kept (two minutes' worth, at any call rate).

use std::collections::HashMap;

/// `(member_uuid, session_uuid)`; the session is empty until known.
pub type VisitKey = (String, String);

#[derive(Debug)]
pub struct VisitMap<V> {
    map: HashMap<VisitKey, V>,
    /// Member UUID to the sessions it has visits under.
    by_member: HashMap<String, Vec<String>>,
    /// Session UUID to the members it has visits under.
    by_session: HashMap<String, Vec<String>>,
}

impl<V> Default for VisitMap<V> {
    fn default() -> Self {
        VisitMap {
            map: HashMap::new(),
            by_member: HashMap::new(),
            by_session: HashMap::new(),
        }
    }
}

fn add(index: &mut HashMap<String, Vec<String>>, key: &str, value: &str) {
    index
        .entry(key.to_owned())
        .or_default()
        .push(value.to_owned());
}

fn drop_from(index: &mut HashMap<String, Vec<String>>, key: &str, value: &str) {
    if let Some(values) = index.get_mut(key) {
        values.retain(|v| v != value);
        if values.is_empty() {
            index.remove(key);
        }
    }
}

impl<V> VisitMap<V> {
    fn index(&mut self, (member, session): &VisitKey) {
        add(&mut self.by_member, member, session);
        if !session.is_empty() {
            add(&mut self.by_session, session, member);
        }
    }

    fn unindex(&mut self, (member, session): &VisitKey) {
        drop_from(&mut self.by_member, member, session);
        if !session.is_empty() {
            drop_from(&mut self.by_session, session, member);
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn get(&self, key: &VisitKey) -> Option<&V> {
        self.map.get(key)
    }

    pub fn get_mut(&mut self, key: &VisitKey) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    pub fn contains_key(&self, key: &VisitKey) -> bool {
        self.map.contains_key(key)
    }

    pub fn get_or_insert_with(&mut self, key: VisitKey, make: impl FnOnce() -> V) -> &mut V {
        if !self.map.contains_key(&key) {
            self.index(&key);
        }
        self.map.entry(key).or_insert_with(make)
    }

    pub fn insert(&mut self, key: VisitKey, value: V) {
        if !self.map.contains_key(&key) {
            self.index(&key);
        }
        self.map.insert(key, value);
    }

    pub fn remove(&mut self, key: &VisitKey) -> Option<V> {
        let value = self.map.remove(key)?;
        self.unindex(key);
        Some(value)
    }

    /// The visits of one member, with their keys.
    pub fn of_member<'a>(&'a self, member: &'a str) -> impl Iterator<Item = (VisitKey, &'a V)> {
        self.by_member
            .get(member)
            .into_iter()
            .flatten()
            .filter_map(move |session| {
                let key = (member.to_owned(), session.clone());
                let value = self.map.get(&key)?;
                Some((key, value))
            })
    }

    /// Runs `f` on every visit of one caller session.
    pub fn for_session(&mut self, session: &str, mut f: impl FnMut(&mut V)) {
        let Some(members) = self.by_session.get(session) else {
            return;
        };
        for member in members {
            if let Some(value) = self.map.get_mut(&(member.clone(), session.to_owned())) {
                f(value);
            }
        }
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.map.values_mut()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&VisitKey, &V)> {
        self.map.iter()
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&VisitKey, &mut V) -> bool) {
        let mut gone = Vec::new();
        self.map.retain(|key, value| {
            let kept = keep(key, value);
            if !kept {
                gone.push(key.clone());
            }
            kept
        });
        for key in &gone {
            self.unindex(key);
        }
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.by_member.clear();
        self.by_session.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(m: &str, s: &str) -> VisitKey {
        (m.to_owned(), s.to_owned())
    }

    #[test]
    fn finds_by_member_and_by_session_and_forgets_removed_visits() {
        let mut visits = VisitMap::default();
        *visits.get_or_insert_with(key("m1", "s1"), || 0) += 1;
        visits.insert(key("m1", ""), 10);
        visits.insert(key("m2", "s1"), 20);
        let mut of_m1: Vec<_> = visits.of_member("m1").map(|(k, v)| (k.1, *v)).collect();
        of_m1.sort();
        assert_eq!(of_m1, [("".to_owned(), 10), ("s1".to_owned(), 1)]);
        let mut seen = Vec::new();
        visits.for_session("s1", |v| seen.push(*v));
        seen.sort();
        assert_eq!(seen, [1, 20]);

        assert_eq!(visits.remove(&key("m1", "")), Some(10));
        visits.retain(|k, _| k.0 != "m2");
        assert_eq!(visits.len(), 1);
        let mut seen = Vec::new();
        visits.for_session("s1", |v| seen.push(*v));
        assert_eq!(seen, [1]);
        assert_eq!(visits.of_member("m2").count(), 0);
        visits.clear();
        assert_eq!(visits.of_member("m1").count(), 0);
        assert!(visits.by_member.is_empty() && visits.by_session.is_empty());
    }
}
