//! The live SC sessions in memory: bounded, O(1) per request.
//!
//! - At most `max_per_group` sessions per client group (IPv4 address or IPv6 /64): a new one
//!   evicts that group's oldest.
//! - At most `max` sessions overall: a new one evicts the least recently used session that has
//!   no request in flight (nobody is refused because the table is full; an evicted client gets
//!   `SESSION_NOT_FOUND` and opens a new session).
//! - Expiry is an index by expiry time: a sweep costs the number of expired sessions, in batches
//!   that release the lock in between.
//!
//! Evicted and expired sessions are returned to the caller, which closes them (keys zeroized)
//! and deletes them from the store.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use hashlink::LinkedHashMap;
use scv2::ServerSession;

use crate::client_ip::ClientGroup;

/// A live session (with a shared store: a cached copy, re-validated by every request).
pub struct Live {
    sid: String,
    group: Option<ClientGroup>,
    expires_at_ms: u64,
    /// The core session. The write lock is only taken to close it or to replace it by a newer
    /// state from the store.
    pub session: RwLock<ServerSession>,
    /// The generation of the store's state this copy is (`None`: unknown, e.g. after a failed
    /// commit: the next request re-imports it). Held for the whole of a request: the requests of
    /// one session run one at a time in this process.
    pub stored_generation: Arc<tokio::sync::Mutex<Option<u64>>>,
    busy: AtomicUsize,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("sid_prefix", &self.sid.get(..6))
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

impl Live {
    /// A live session whose store row holds `stored_generation`.
    pub fn new(session: ServerSession, group: Option<ClientGroup>, stored_generation: u64) -> Live {
        Live {
            sid: session.session_id().to_owned(),
            group,
            expires_at_ms: session.expires_at_ms(),
            session: RwLock::new(session),
            stored_generation: Arc::new(tokio::sync::Mutex::new(Some(stored_generation))),
            busy: AtomicUsize::new(0),
        }
    }

    /// Replace the core session by a newer state of it (imported from the store).
    pub fn replace(&self, newer: ServerSession) {
        if let Ok(mut s) = self.session.write() {
            *s = newer;
        }
    }

    /// The session id.
    pub fn session_id(&self) -> &str {
        &self.sid
    }

    /// The group that opened it.
    pub fn group(&self) -> Option<ClientGroup> {
        self.group
    }

    /// Mark a request in flight (the session is not evicted for the global cap meanwhile).
    pub fn busy(self: &Arc<Live>) -> BusyGuard {
        self.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard(self.clone())
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire) > 0
    }

    /// Close it: keys zeroized now.
    pub fn close(&self) {
        if let Ok(mut s) = self.session.write() {
            s.close();
        }
    }
}

/// A request in flight on a session.
#[derive(Debug)]
pub struct BusyGuard(Arc<Live>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Inner {
    /// Front: least recently used.
    lru: LinkedHashMap<String, Arc<Live>>,
    /// Per group, in creation order.
    groups: HashMap<ClientGroup, VecDeque<String>>,
    /// `(expires_at_ms, session id)`.
    expiry: BTreeSet<(u64, String)>,
}

/// Why a session left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// Its group had too many sessions.
    PerGroup,
    /// The table was full.
    Global,
}

/// The table.
pub struct SessionTable {
    inner: Mutex<Inner>,
    max: usize,
    max_per_group: usize,
    evicted_per_group: AtomicU64,
    evicted_global: AtomicU64,
}

impl std::fmt::Debug for SessionTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTable")
            .field("len", &self.len())
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

/// How far from the least recently used end the global eviction looks for an idle session.
const IDLE_SEARCH: usize = 64;

impl SessionTable {
    /// An empty table.
    pub fn new(max: usize, max_per_group: usize) -> SessionTable {
        SessionTable {
            inner: Mutex::new(Inner {
                lru: LinkedHashMap::new(),
                groups: HashMap::new(),
                expiry: BTreeSet::new(),
            }),
            max: max.max(1),
            max_per_group: max_per_group.max(1),
            evicted_per_group: AtomicU64::new(0),
            evicted_global: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session `sid`, marked most recently used.
    pub fn get(&self, sid: &str) -> Option<Arc<Live>> {
        let mut t = self.lock();
        let live = t.lru.get(sid).cloned()?;
        t.lru.to_back(sid);
        Some(live)
    }

    fn unlink(t: &mut Inner, sid: &str) -> Option<Arc<Live>> {
        let live = t.lru.remove(sid)?;
        if let Some(g) = live.group {
            if let Some(q) = t.groups.get_mut(&g) {
                if let Some(pos) = q.iter().position(|s| s == sid) {
                    q.remove(pos);
                }
                if q.is_empty() {
                    t.groups.remove(&g);
                }
            }
        }
        t.expiry.remove(&(live.expires_at_ms, live.sid.clone()));
        Some(live)
    }

    /// Add a session; returns the sessions evicted to make room.
    pub fn insert(&self, live: Arc<Live>) -> Vec<(Arc<Live>, Eviction)> {
        let mut out = Vec::new();
        let mut t = self.lock();
        if let Some(old) = Self::unlink(&mut t, &live.sid) {
            out.push((old, Eviction::Global));
        }
        if let Some(g) = live.group {
            let victims: Vec<String> = match t.groups.get(&g) {
                Some(q) if q.len() >= self.max_per_group => {
                    let excess = q.len() + 1 - self.max_per_group;
                    q.iter().take(excess).cloned().collect()
                }
                _ => Vec::new(),
            };
            for sid in victims {
                if let Some(v) = Self::unlink(&mut t, &sid) {
                    self.evicted_per_group.fetch_add(1, Ordering::Relaxed);
                    out.push((v, Eviction::PerGroup));
                }
            }
        }
        while t.lru.len() >= self.max {
            let victim = t
                .lru
                .iter()
                .take(IDLE_SEARCH)
                .find(|(_, l)| !l.is_busy())
                .or_else(|| t.lru.front())
                .map(|(sid, _)| sid.clone());
            let Some(sid) = victim else { break };
            if let Some(v) = Self::unlink(&mut t, &sid) {
                self.evicted_global.fetch_add(1, Ordering::Relaxed);
                out.push((v, Eviction::Global));
            }
        }
        if let Some(g) = live.group {
            t.groups.entry(g).or_default().push_back(live.sid.clone());
        }
        t.expiry.insert((live.expires_at_ms, live.sid.clone()));
        t.lru.insert(live.sid.clone(), live);
        out
    }

    /// Add `live` unless the table holds its session already: returns the one held, and the
    /// sessions evicted to make room.
    pub fn insert_if_absent(&self, live: Arc<Live>) -> (Arc<Live>, Vec<(Arc<Live>, Eviction)>) {
        if let Some(held) = self.get(&live.sid) {
            return (held, Vec::new());
        }
        let evicted = self.insert(live.clone());
        (live, evicted)
    }

    /// Remove `sid` (closed, or forgotten after a failed commit).
    pub fn remove(&self, sid: &str) -> Option<Arc<Live>> {
        Self::unlink(&mut self.lock(), sid)
    }

    /// Remove up to `budget` sessions expired at `now_ms`. Returns them and how many index
    /// entries were looked at (at most `budget + 1`).
    pub fn sweep_expired(&self, now_ms: u64, budget: usize) -> (Vec<Arc<Live>>, usize) {
        let mut t = self.lock();
        let mut out = Vec::new();
        let mut visited = 0;
        while visited < budget {
            let Some((exp, sid)) = t.expiry.first().cloned() else {
                break;
            };
            visited += 1;
            if exp > now_ms {
                break;
            }
            match Self::unlink(&mut t, &sid) {
                Some(l) => out.push(l),
                None => {
                    t.expiry.remove(&(exp, sid));
                }
            }
        }
        (out, visited)
    }

    /// Live sessions.
    pub fn len(&self) -> usize {
        self.lock().lru.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live sessions of `group`.
    pub fn group_len(&self, group: &ClientGroup) -> usize {
        self.lock().groups.get(group).map_or(0, VecDeque::len)
    }

    /// Evictions since start: `(per group, global)`.
    pub fn evictions(&self) -> (u64, u64) {
        (
            self.evicted_per_group.load(Ordering::Relaxed),
            self.evicted_global.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scv2::{ClientConfig, ClientHandshake, OsRng, PinnedKey, Server, ServerConfig, ServerKey};

    fn sessions(n: usize, expires: impl Fn(usize) -> u64) -> Vec<ServerSession> {
        let key = ServerKey::generate("k", 0, None, &mut OsRng).ok();
        let Some(key) = key else { return Vec::new() };
        let doc = key.document();
        let mut server = Server::new(ServerConfig::default());
        let _ = server.add_key(key);
        let mut cfg = ClientConfig::new();
        if let Ok(p) = PinnedKey::from_spki_base64(&doc.key_id, &doc.public_key) {
            cfg.pin(p);
        }
        (0..n)
            .filter_map(|i| {
                let (_hs, t1) = ClientHandshake::start(&cfg, "k", b"{}", &mut OsRng).ok()?;
                let acc = server.accept(&t1, 1).ok()?;
                acc.respond(&format!("s{i:05}"), expires(i), b"", &mut OsRng)
                    .ok()
                    .map(|(s, _)| s)
            })
            .collect()
    }

    fn group(i: u8) -> Option<ClientGroup> {
        Some(ClientGroup::V4([198, 51, 100, i]))
    }

    #[test]
    fn per_group_cap_evicts_that_groups_oldest() {
        let t = SessionTable::new(1000, 3);
        let mut evicted = Vec::new();
        for (i, s) in sessions(5, |_| 10_000).into_iter().enumerate() {
            let g = if i == 4 { group(2) } else { group(1) };
            for (l, why) in t.insert(Arc::new(Live::new(s, g, 0))) {
                evicted.push((l.session_id().to_owned(), why));
            }
        }
        assert_eq!(evicted, vec![("s00000".to_owned(), Eviction::PerGroup)]);
        assert_eq!(
            (t.group_len(&ClientGroup::V4([198, 51, 100, 1])), t.len()),
            (3, 4)
        );
    }

    #[test]
    fn global_cap_evicts_the_least_recently_used_idle_session() {
        let t = SessionTable::new(3, 100);
        let all = sessions(5, |_| 10_000);
        let mut lives = Vec::new();
        for s in all {
            lives.push(Arc::new(Live::new(s, group(1), 0)));
        }
        for l in &lives[..3] {
            assert!(t.insert(l.clone()).is_empty());
        }
        // s00000 is used again and s00001 has a request in flight: s00002 is the victim.
        assert!(t.get("s00000").is_some());
        let _busy = lives[1].busy();
        let ev = t.insert(lives[3].clone());
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].0.session_id(), "s00002");
        assert!(t.get("s00001").is_some() && t.get("s00003").is_some());
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn expiry_sweep_costs_the_expired_only() {
        let t = SessionTable::new(10_000, 10_000);
        for (i, s) in sessions(300, |i| if i < 10 { 100 } else { 1_000_000 })
            .into_iter()
            .enumerate()
        {
            t.insert(Arc::new(Live::new(s, group((i % 200) as u8), 0)));
        }
        let (gone, visited) = t.sweep_expired(100, 1024);
        assert_eq!((gone.len(), visited, t.len()), (10, 11, 290));
        let (gone, visited) = t.sweep_expired(100, 1024);
        assert_eq!((gone.len(), visited), (0, 1));
    }
}
