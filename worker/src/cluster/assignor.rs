//! The leader's incremental cooperative assignor (KIP-415 semantics), as pure logic: from
//! the configured work, what each member reports running, and what the leader remembers
//! from the previous round, it computes per member what to start and what to stop.
//!
//! Rules, in order: work no longer configured is revoked; work running on two members is
//! revoked from all of them (it is reassigned next round); work lost with a departed
//! member is held for `scheduled.rebalance.max.delay.ms` (so a bounced worker can reclaim
//! it) unless every previous member is still present; new and expired-lost work goes to
//! the least-loaded members (connectors and tasks counted apart); when the load is uneven,
//! surplus is revoked from the most loaded members and placed in the next round.

use std::collections::{BTreeMap, BTreeSet};

use super::protocol::{CONNECTOR_TASK, Work};

/// One unit of work: a connector instance (`task == CONNECTOR_TASK`) or one of its tasks.
type Item = (String, i32);

/// A group member as the leader sees it in JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    /// What the member runs now (from its metadata's allocation).
    pub running: Work,
}

/// What one member is told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instructions {
    pub assigned: Work,
    pub revoked: Work,
    /// Milliseconds until the member should rejoin (held lost work), or 0.
    pub delay_ms: i32,
}

/// What the leader carries from round to round.
#[derive(Debug, Clone, Default)]
pub struct LeaderMemory {
    /// The full allocation after the previous round, by member id.
    previous: BTreeMap<String, BTreeSet<Item>>,
    /// Lost work held back during a delayed rebalance, and when it is released (epoch ms).
    held: BTreeSet<Item>,
    release_at_ms: Option<i64>,
}

fn items(work: &Work) -> BTreeSet<Item> {
    work.iter()
        .flat_map(|(c, tasks)| tasks.iter().map(move |t| (c.clone(), *t)))
        .collect()
}

fn to_work(items: impl IntoIterator<Item = Item>) -> Work {
    let mut work = Work::new();
    for (c, t) in items {
        work.entry(c).or_default().push(t);
    }
    for tasks in work.values_mut() {
        tasks.sort_unstable();
    }
    work
}

fn is_connector(item: &Item) -> bool {
    item.1 == CONNECTOR_TASK
}

/// Computes one round. `configured` holds every connector with its task ids (the connector
/// itself as `CONNECTOR_TASK`); `now_ms` is wall time; `max_delay_ms` is
/// `scheduled.rebalance.max.delay.ms`.
pub fn assign(
    configured: &Work,
    members: &[Member],
    memory: &mut LeaderMemory,
    now_ms: i64,
    max_delay_ms: i64,
) -> BTreeMap<String, Instructions> {
    let configured = items(configured);
    // What each member keeps, starting from what it runs.
    let mut keep: BTreeMap<String, BTreeSet<Item>> = members
        .iter()
        .map(|m| (m.id.clone(), items(&m.running)))
        .collect();
    let mut revoke: BTreeMap<String, BTreeSet<Item>> = BTreeMap::new();
    let mut owners: BTreeMap<Item, Vec<String>> = BTreeMap::new();
    for (id, running) in &keep {
        for item in running {
            owners.entry(item.clone()).or_default().push(id.clone());
        }
    }
    // Deleted and duplicated work is stopped wherever it runs.
    for (item, ids) in &owners {
        if !configured.contains(item) || ids.len() > 1 {
            for id in ids {
                if let Some(k) = keep.get_mut(id) {
                    k.remove(item);
                }
                revoke.entry(id.clone()).or_default().insert(item.clone());
            }
        }
    }
    let active: BTreeSet<Item> = keep.values().flatten().cloned().collect();
    let duplicated: BTreeSet<Item> = owners
        .iter()
        .filter(|(item, ids)| ids.len() > 1 && configured.contains(*item))
        .map(|(item, _)| item.clone())
        .collect();
    // Lost: previously placed, configured, and now run by nobody (its member left).
    let present: BTreeSet<&String> = members.iter().map(|m| &m.id).collect();
    let departed =
        !memory.held.is_empty() || memory.previous.keys().any(|id| !present.contains(id));
    let lost: BTreeSet<Item> = memory
        .previous
        .values()
        .flatten()
        .chain(&memory.held)
        .filter(|i| configured.contains(*i) && !active.contains(*i) && !duplicated.contains(*i))
        .cloned()
        .collect();
    let mut delay_ms = 0i32;
    let mut held = BTreeSet::new();
    if !lost.is_empty() && departed && max_delay_ms > 0 {
        let release = *memory.release_at_ms.get_or_insert(now_ms + max_delay_ms);
        if now_ms < release {
            held = lost.clone();
            delay_ms = i32::try_from(release - now_ms).unwrap_or(i32::MAX);
        } else {
            memory.release_at_ms = None;
        }
    } else if lost.is_empty() {
        memory.release_at_ms = None;
    }
    // Everything configured that nobody keeps and is not held goes out now. Duplicated
    // work waits for the next round, once its owners have stopped it.
    let mut unplaced: Vec<Item> = configured
        .iter()
        .filter(|i| !active.contains(*i) && !held.contains(*i) && !duplicated.contains(*i))
        .cloned()
        .collect();
    unplaced.sort_by_key(|i| (!is_connector(i), i.clone()));
    let mut assign: BTreeMap<String, BTreeSet<Item>> = BTreeMap::new();
    if !members.is_empty() {
        for item in unplaced {
            let connector = is_connector(&item);
            let load = |id: &String| {
                let all = keep[id].iter().chain(assign.get(id).into_iter().flatten());
                all.filter(|i| is_connector(i) == connector).count()
            };
            let target = keep
                .keys()
                .min_by_key(|id| (load(id), (*id).clone()))
                .cloned();
            if let Some(id) = target {
                assign.entry(id).or_default().insert(item);
            }
        }
        // Balance: revoke surplus from members above the ceiling of an even share.
        if revoke.values().all(BTreeSet::is_empty) {
            for connector in [true, false] {
                let total: usize = keep
                    .keys()
                    .map(|id| {
                        keep[id]
                            .iter()
                            .chain(assign.get(id).into_iter().flatten())
                            .filter(|i| is_connector(i) == connector)
                            .count()
                    })
                    .sum();
                let ceiling = total.div_ceil(members.len());
                for (id, kept) in keep.iter_mut() {
                    let mine: Vec<Item> = kept
                        .iter()
                        .filter(|i| is_connector(i) == connector)
                        .cloned()
                        .collect();
                    let extra = assign.get(id).map_or(0, |a| {
                        a.iter().filter(|i| is_connector(i) == connector).count()
                    });
                    let surplus = (mine.len() + extra).saturating_sub(ceiling).min(mine.len());
                    for item in mine.into_iter().rev().take(surplus) {
                        kept.remove(&item);
                        revoke.entry(id.clone()).or_default().insert(item);
                    }
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    memory.previous.clear();
    for m in members {
        let assigned = assign.remove(&m.id).unwrap_or_default();
        let revoked = revoke.remove(&m.id).unwrap_or_default();
        let mut allocation = keep.remove(&m.id).unwrap_or_default();
        allocation.extend(assigned.iter().cloned());
        memory.previous.insert(m.id.clone(), allocation);
        out.insert(
            m.id.clone(),
            Instructions {
                assigned: to_work(assigned),
                revoked: to_work(revoked),
                delay_ms,
            },
        );
    }
    memory.held = held;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(pairs: &[(&str, &[i32])]) -> Work {
        pairs
            .iter()
            .map(|(c, t)| (c.to_string(), t.to_vec()))
            .collect()
    }

    fn member(id: &str, running: Work) -> Member {
        Member {
            id: id.into(),
            running,
        }
    }

    /// Applies a round's instructions to the members, as they would.
    fn apply(members: &mut [Member], round: &BTreeMap<String, Instructions>) {
        for m in members.iter_mut() {
            let i = &round[&m.id];
            let mut now = items(&m.running);
            for r in items(&i.revoked) {
                now.remove(&r);
            }
            now.extend(items(&i.assigned));
            m.running = to_work(now);
        }
    }

    fn count(members: &[Member]) -> Vec<(usize, usize)> {
        members
            .iter()
            .map(|m| {
                let all = items(&m.running);
                let c = all.iter().filter(|i| is_connector(i)).count();
                (c, all.len() - c)
            })
            .collect()
    }

    #[test]
    fn new_work_is_spread_over_the_members() {
        let configured = work(&[("a", &[-1, 0, 1, 2]), ("b", &[-1, 0, 1])]);
        let mut members = vec![member("w1", Work::new()), member("w2", Work::new())];
        let mut memory = LeaderMemory::default();
        let round = assign(&configured, &members, &mut memory, 0, 10_000);
        assert!(
            round
                .values()
                .all(|i| i.revoked.is_empty() && i.delay_ms == 0)
        );
        apply(&mut members, &round);
        assert_eq!(count(&members), [(1, 3), (1, 2)]);
        // A second round with nothing changed changes nothing.
        let again = assign(&configured, &members, &mut memory, 1, 10_000);
        assert!(
            again.values().all(|i| *i == Instructions::default()),
            "{again:?}"
        );
    }

    #[test]
    fn deleted_and_duplicated_work_is_revoked() {
        let configured = work(&[("a", &[-1, 0])]);
        let members = vec![
            member("w1", work(&[("a", &[-1, 0]), ("gone", &[-1])])),
            member("w2", work(&[("a", &[0])])),
        ];
        let mut memory = LeaderMemory::default();
        let round = assign(&configured, &members, &mut memory, 0, 0);
        assert_eq!(round["w1"].revoked, work(&[("a", &[0]), ("gone", &[-1])]));
        assert_eq!(round["w2"].revoked, work(&[("a", &[0])]));
        assert!(
            round.values().all(|i| i.assigned.is_empty()),
            "task 0 waits a round"
        );
    }

    #[test]
    fn lost_work_waits_for_the_delay_then_moves() {
        let configured = work(&[("a", &[-1, 0, 1, 2, 3])]);
        let mut members = vec![member("w1", Work::new()), member("w2", Work::new())];
        let mut memory = LeaderMemory::default();
        let round = assign(&configured, &members, &mut memory, 0, 10_000);
        apply(&mut members, &round);
        // w2 disappears: its work is held for the delay, and the members are told when to
        // come back.
        let survivors = vec![members[0].clone()];
        let round = assign(&configured, &survivors, &mut memory, 1_000, 10_000);
        assert!(round["w1"].assigned.is_empty());
        assert_eq!(round["w1"].delay_ms, 10_000);
        let round = assign(&configured, &survivors, &mut memory, 6_000, 10_000);
        assert_eq!(round["w1"].delay_ms, 5_000);
        // Once the delay passed, everything runs on the survivor.
        let round = assign(&configured, &survivors, &mut memory, 11_000, 10_000);
        let mut survivors = survivors;
        apply(&mut survivors, &round);
        assert_eq!(count(&survivors), [(1, 4)]);
        assert_eq!(round["w1"].delay_ms, 0);
    }

    #[test]
    fn without_a_delay_lost_work_moves_at_once() {
        let configured = work(&[("a", &[-1, 0, 1])]);
        let mut members = vec![member("w1", Work::new()), member("w2", Work::new())];
        let mut memory = LeaderMemory::default();
        let round = assign(&configured, &members, &mut memory, 0, 0);
        apply(&mut members, &round);
        let mut survivors = vec![members[0].clone()];
        let round = assign(&configured, &survivors, &mut memory, 1, 0);
        apply(&mut survivors, &round);
        assert_eq!(count(&survivors), [(1, 2)]);
    }

    #[test]
    fn a_new_member_gets_its_share_in_two_rounds() {
        let configured = work(&[("a", &[-1, 0, 1, 2, 3]), ("b", &[-1, 0, 1, 2])]);
        let mut members = vec![member("w1", Work::new())];
        let mut memory = LeaderMemory::default();
        let round = assign(&configured, &members, &mut memory, 0, 10_000);
        apply(&mut members, &round);
        members.push(member("w2", Work::new()));
        // Round 1 revokes the surplus from w1; round 2 places it on w2.
        let round = assign(&configured, &members, &mut memory, 1, 10_000);
        assert!(!round["w1"].revoked.is_empty());
        apply(&mut members, &round);
        let round = assign(&configured, &members, &mut memory, 2, 10_000);
        apply(&mut members, &round);
        let counts = count(&members);
        assert_eq!(counts[0].0 + counts[1].0, 2);
        assert_eq!(counts[0].1 + counts[1].1, 7);
        assert!(
            counts.iter().all(|(c, t)| *c == 1 && (3..=4).contains(t)),
            "{counts:?}"
        );
        // Nothing runs twice, nothing is missing.
        let all: Vec<Item> = members.iter().flat_map(|m| items(&m.running)).collect();
        let unique: BTreeSet<Item> = all.iter().cloned().collect();
        assert_eq!((all.len(), unique), (9, items(&configured)));
    }

    #[test]
    fn random_membership_and_config_changes_never_run_work_twice_and_converge() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..200 {
            let mut memory = LeaderMemory::default();
            let mut members: Vec<Member> = Vec::new();
            let mut configured = Work::new();
            let mut next_member = 0;
            for step in 0..12 {
                match next(4) {
                    0 if members.len() < 4 => {
                        next_member += 1;
                        members.push(member(&format!("w{next_member}"), Work::new()));
                    }
                    1 if members.len() > 1 => {
                        let gone = next(members.len() as u64) as usize;
                        members.remove(gone);
                    }
                    2 => {
                        let name = format!("c{}", next(5));
                        let tasks = next(4) as i32;
                        configured.insert(name, (-1..tasks).collect());
                    }
                    _ => {
                        let name = format!("c{}", next(5));
                        configured.remove(&name);
                    }
                }
                let round = assign(&configured, &members, &mut memory, step, 0);
                apply(&mut members, &round);
                let all: Vec<Item> = members.iter().flat_map(|m| items(&m.running)).collect();
                let unique: BTreeSet<&Item> = all.iter().collect();
                assert_eq!(all.len(), unique.len(), "work runs twice: {members:?}");
            }
            if members.is_empty() {
                continue;
            }
            for step in 100..104 {
                let round = assign(&configured, &members, &mut memory, step, 0);
                apply(&mut members, &round);
            }
            let running: BTreeSet<Item> = members.iter().flat_map(|m| items(&m.running)).collect();
            assert_eq!(running, items(&configured), "converged: {members:?}");
        }
    }
}
