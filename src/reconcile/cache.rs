//! What the engine remembers between passes so steady state stays cheap: each group's members
//! (kept current by paced background sweeps, see `plan::sweep`) and each instance's user list
//! (shared by every membership that resolves against it within a short window).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::Engine;
use crate::connect::{ConnectApi, ConnectError, ConnectResult, Priority};
use crate::plan::directory::Directory;
use crate::plan::sweep::{self, Write};
use crate::plan::user_ids::UserIds;

/// What is known of one group's members.
#[derive(Debug, Clone)]
pub struct GroupMembers {
    /// The last complete read, plus the controller's own writes since. Shared with the passes
    /// that look at it (a write while one does copies it once, not per pass).
    pub known: Arc<BTreeSet<String>>,
    /// When the last complete read finished.
    pub checked: Instant,
    /// A sweep in flight: the writes made meanwhile and when it should end.
    pub sweep: Option<SweepInFlight>,
}

#[derive(Debug, Clone)]
pub struct SweepInFlight {
    pub writes: Vec<Write>,
    pub eta: Instant,
    /// Which sweep this is: one that finds another in its place (the members were forgotten and
    /// read again meanwhile) leaves the newer knowledge alone.
    pub started: Instant,
}

pub type MembersCache = Arc<Mutex<HashMap<String, GroupMembers>>>;

/// A group's first read of its members: one at a time, and the controller's writes made while it
/// pages (locked after [`MembersCache`] when both are needed).
#[derive(Debug, Default)]
pub struct FirstRead {
    pub gate: Arc<tokio::sync::Mutex<()>>,
    pub writes: Vec<Write>,
}

pub type FirstReads = Mutex<HashMap<String, FirstRead>>;

/// One instance's users in one region, from the last complete read. The async lock makes
/// concurrent passes share one read instead of each holding a copy of 20,000 users.
#[derive(Debug, Default)]
pub struct CachedUsers {
    pub read: tokio::sync::Mutex<Option<UsersRead>>,
}

/// A complete listing of an instance's users and when it ran.
#[derive(Debug)]
pub struct UsersRead {
    pub started: Instant,
    /// A caller that asked before this saw the listing under way: it reads as fresh as its own.
    pub finished: Instant,
    pub users: Listed,
}

/// How an instance's users are listed and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listing {
    /// ListUsers: ids and usernames.
    Plain,
    /// SearchUsers: with routing profile, hierarchy group and tags (for selectors).
    Detailed,
    /// ListUsers kept as ids only: "is this user mirrored" (the replica region).
    Ids,
}

/// What a listing keeps.
#[derive(Debug, Clone)]
pub enum Listed {
    Users(Arc<Directory>),
    Ids(Arc<UserIds>),
}

/// (region, instance id, how listed)
pub type UsersKey = (String, String, Listing);

impl Engine {
    /// Makes sure the group's members are known: the first time they are read in full (the
    /// controller is about to act on them); afterwards, once per resync, a paced background sweep
    /// re-reads the group. Returns when a sweep in flight should end. Look at the members with
    /// [`Engine::with_members`], which does not copy them (5,000 ids per pass add up).
    pub async fn ensure_members(
        &self,
        region: &str,
        group: &str,
    ) -> ConnectResult<Option<Instant>> {
        if let Some(eta) = self.known_members(region, group) {
            return Ok(eta);
        }
        // The first read is shared: passes that ask meanwhile wait for it and then use it, so a
        // read that started earlier never replaces one that holds a later write.
        let gate = self
            .member_reads
            .lock()
            .entry(group.to_string())
            .or_default()
            .gate
            .clone();
        let _turn = gate.lock().await;
        if let Some(eta) = self.known_members(region, group) {
            return Ok(eta);
        }
        // Writes recorded from here on land in this log: the read may have paged past them.
        // Writes before it are in what the read sees.
        if let Some(r) = self.member_reads.lock().get_mut(group) {
            r.writes.clear();
        }
        let read: BTreeSet<String> = self
            .connect
            .list_group_users(region, group, Priority::Normal)
            .await?
            .into_iter()
            .collect();
        let mut map = self.members.lock();
        let writes = self
            .member_reads
            .lock()
            .remove(group)
            .map(|r| r.writes)
            .unwrap_or_default();
        map.insert(
            group.to_string(),
            GroupMembers {
                known: Arc::new(sweep::finish(read, &writes)),
                checked: Instant::now(),
                sweep: None,
            },
        );
        Ok(None)
    }

    /// When the group's members are known: starts the sweep that is due and returns when a
    /// sweep in flight should end. `None` when they were never read.
    fn known_members(&self, region: &str, group: &str) -> Option<Option<Instant>> {
        let now = Instant::now();
        let mut map = self.members.lock();
        let g = map.get_mut(group)?;
        if sweep::due(now - g.checked, g.sweep.is_some(), self.resync) {
            return Some(Some(self.start_sweep(g, region, group, now)));
        }
        Some(g.sweep.as_ref().map(|s| s.eta))
    }

    /// Forgets what is known of a group's members: the next look reads them in full.
    pub fn forget_members(&self, group: &str) {
        self.members.lock().remove(group);
    }

    /// Runs `f` on the members known for a group now (empty when never read).
    pub fn with_members<T>(&self, group: &str, f: impl FnOnce(&BTreeSet<String>) -> T) -> T {
        let map = self.members.lock();
        match map.get(group) {
            Some(g) => f(g.known.as_ref()),
            None => f(&BTreeSet::new()),
        }
    }

    /// The members known for a group now (empty when never read), shared, not copied: they
    /// stay as they were for the holder while later writes and sweeps change the cache's.
    pub fn members_now(&self, group: &str) -> Arc<BTreeSet<String>> {
        let map = self.members.lock();
        map.get(group).map(|g| g.known.clone()).unwrap_or_default()
    }

    /// Records one of the controller's own successful writes to a group.
    pub fn record_write(&self, group: &str, write: Write) {
        let mut map = self.members.lock();
        let Some(g) = map.get_mut(group) else {
            // No members known yet: a first read under way corrects itself with it.
            if let Some(r) = self.member_reads.lock().get_mut(group) {
                r.writes.push(write);
            }
            return;
        };
        match &write {
            Write::Associated(id) => Arc::make_mut(&mut g.known).insert(id.clone()),
            Write::Disassociated(id) => Arc::make_mut(&mut g.known).remove(id),
        };
        if let Some(s) = &mut g.sweep {
            s.writes.push(write);
        }
    }

    /// Marks a sweep in flight and spawns it; returns its expected end.
    fn start_sweep(
        &self,
        g: &mut GroupMembers,
        region: &str,
        group: &str,
        now: Instant,
    ) -> Instant {
        let n = g.known.len();
        let interval = sweep::page_interval(n, self.resync, self.sweep_rate);
        let eta = now + sweep::duration(n, self.resync, self.sweep_rate);
        g.sweep = Some(SweepInFlight {
            writes: Vec::new(),
            eta,
            started: now,
        });
        tokio::spawn(run_sweep(
            self.connect.clone(),
            self.members.clone(),
            region.to_string(),
            group.to_string(),
            interval,
            now,
        ));
        eta
    }

    /// An instance's users in a region (with routing profile, hierarchy group and tags when
    /// `detailed`): reused when the last read started less than `max_age` ago, or was still
    /// going when this call was made (it saw Connect after the caller asked, page by page, as a
    /// read of its own would); concurrent callers share one read. So ten memberships that look
    /// while a listing is under way wait for it instead of listing 20,000 users ten times over.
    pub async fn instance_users(
        &self,
        region: &str,
        instance_id: &str,
        detailed: bool,
        priority: Priority,
        max_age: Duration,
    ) -> ConnectResult<Arc<Directory>> {
        let how = if detailed {
            Listing::Detailed
        } else {
            Listing::Plain
        };
        match self
            .listing(region, instance_id, how, priority, max_age)
            .await?
        {
            Listed::Users(users) => Ok(users),
            Listed::Ids(_) => unreachable!("a listing of users is keyed apart from one of ids"),
        }
    }

    /// The ids of an instance's users in a region (ListUsers, kept as ids only: a fifth of the
    /// memory of the users), to ask "is this user there"; reused and shared as
    /// [`Engine::instance_users`] is.
    pub async fn instance_user_ids(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
        max_age: Duration,
    ) -> ConnectResult<Arc<UserIds>> {
        match self
            .listing(region, instance_id, Listing::Ids, priority, max_age)
            .await?
        {
            Listed::Ids(ids) => Ok(ids),
            Listed::Users(_) => unreachable!("a listing of ids is keyed apart from one of users"),
        }
    }

    async fn listing(
        &self,
        region: &str,
        instance_id: &str,
        how: Listing,
        priority: Priority,
        max_age: Duration,
    ) -> ConnectResult<Listed> {
        let asked = Instant::now();
        let key: UsersKey = (region.to_string(), instance_id.to_string(), how);
        let slot = self.users.lock().entry(key).or_default().clone();
        let mut read = slot.read.lock().await;
        if let Some(last) = &*read
            && (last.finished >= asked || last.started.elapsed() < max_age)
        {
            return Ok(last.users.clone());
        }
        // The old listing is of no use to anyone from here on (every caller waits on this lock):
        // let it go before the new one is read, so 20,000 users are not held twice.
        *read = None;
        let started = Instant::now();
        let users = match how {
            Listing::Detailed => Listed::Users(Arc::new(Directory::from_list(
                self.connect
                    .search_users(region, instance_id, priority)
                    .await?,
            ))),
            Listing::Plain => Listed::Users(Arc::new(Directory::from_list(
                self.connect
                    .list_users(region, instance_id, priority)
                    .await?,
            ))),
            Listing::Ids => {
                let ids = self
                    .connect
                    .list_user_ids(region, instance_id, priority)
                    .await?;
                Listed::Ids(Arc::new(UserIds::new(ids.iter().map(|u| u.id))))
            }
        };
        *read = Some(UsersRead {
            started,
            finished: Instant::now(),
            users: users.clone(),
        });
        Ok(users)
    }
}

/// Reads every page of a group at `interval`, at background priority, then replaces the known
/// members with what was read (corrected by the writes made meanwhile). A failed sweep changes
/// nothing; the next pass starts another. A group that no longer exists is forgotten.
async fn run_sweep(
    connect: Arc<dyn ConnectApi>,
    cache: MembersCache,
    region: String,
    group: String,
    interval: Duration,
    started: Instant,
) {
    let mut read = BTreeSet::new();
    let mut token: Option<String> = None;
    let result = loop {
        match connect
            .list_group_users_page(&region, &group, token.clone(), Priority::Background)
            .await
        {
            Ok((ids, next)) => {
                read.extend(ids);
                match next {
                    Some(n) if !n.is_empty() && Some(&n) != token.as_ref() => token = Some(n),
                    _ => break Ok(()),
                }
            }
            Err(e) => break Err(e),
        }
        tokio::time::sleep(interval).await;
    };
    let mut map = cache.lock();
    let Some(g) = map
        .get_mut(&group)
        .filter(|g| g.sweep.as_ref().is_some_and(|s| s.started == started))
    else {
        return;
    };
    match result {
        Ok(()) => {
            let writes = g.sweep.take().map(|s| s.writes).unwrap_or_default();
            g.known = Arc::new(sweep::finish(read, &writes));
            g.checked = Instant::now();
        }
        Err(ConnectError::NotFound(_)) => {
            map.remove(&group);
        }
        Err(e) => {
            tracing::warn!(%group, error = %e, "membership drift sweep failed; retrying at the next pass");
            g.sweep = None;
        }
    }
}
