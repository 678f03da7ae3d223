//! One instance's prefix cache: KV blocks of computed prompt prefixes, keyed by chained segment identity.
//!
//! A node stands for one segment of some prompt: its identity is chained from all segments before it
//! (`python/infera/plan/traffic/prefix.py`), so finding a segment's id finds the whole prefix ending there.
//! A node holds the KV blocks its segment adds to its parent's, counted in whole blocks: like vLLM's
//! automatic prefix caching, which hashes only full blocks (docs/design/prefix_caching.md in vLLM: "we only
//! cache full blocks"), a prefix is cached up to its last block boundary. SGLang's radix cache matches at
//! token granularity instead; whole blocks are the conservative choice and the same for both when prompts
//! are long.
//!
//! Nodes are shared by reference count: every running request whose KV uses a node holds one reference on
//! it and on each of its ancestors. A node nobody references stays cached and sits in an LRU list, ordered by
//! when its last reference went; evicting takes the head. Since a request references a whole path and
//! releases it deepest first, a node always enters the list after its descendants, so the head is a leaf and
//! eviction never strands a child. Lookups, references and evictions cost O(segments of the request): hash
//! maps and an intrusive list, no scan over the cache.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Chained identities are already hashes (splitmix64 in the compiler), so one multiply spreads them over the
/// map's buckets instead of a full SipHash; plans from elsewhere with small sequential ids stay well spread.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        (self.0 ^ (self.0 >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id;
    }
}

type IdMap = HashMap<u64, u32, BuildHasherDefault<IdHasher>>;

/// "No node".
pub(crate) const NIL: u32 = u32::MAX;

struct Node {
    id: u64,
    parent: u32,
    /// Cached prompt tokens up to and including this segment (a whole number of blocks).
    tokens: u64,
    /// Blocks this node adds to its parent's.
    blocks: u64,
    /// Blocks of the whole path from the root to this node.
    path_blocks: u64,
    refs: u32,
    children: u32,
    prev: u32,
    next: u32,
}

/// What a lookup found: the deepest usable cached node for a request's segments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Hit {
    pub node: u32,
    /// Leading segments the node covers.
    pub segs: usize,
    /// Prompt tokens whose KV is cached (a whole number of blocks).
    pub tokens: u64,
    /// Blocks of the cached path.
    pub blocks: u64,
    /// Of them, blocks nobody references yet (evictable until this request takes them).
    pub unpinned: u64,
}

impl Hit {
    pub const MISS: Hit = Hit {
        node: NIL,
        segs: 0,
        tokens: 0,
        blocks: 0,
        unpinned: 0,
    };
}

pub(crate) struct PrefixCache {
    block_size: u64,
    /// KV blocks per block of tokens (one per full-attention block group).
    groups: u64,
    /// Most blocks the cache may hold, referenced or not (0: caching off).
    cap: u64,
    nodes: Vec<Node>,
    free_slots: Vec<u32>,
    by_id: IdMap,
    /// The LRU list of unreferenced nodes: `head` is evicted first.
    head: u32,
    tail: u32,
    /// Blocks held by cached nodes, and of them by unreferenced ones.
    pub cached_blocks: u64,
    pub evictable_blocks: u64,
    /// Prompt tokens looked up at admissions and found cached (the instance's hit rate).
    pub lookup_tokens: u64,
    pub hit_tokens: u64,
}

impl PrefixCache {
    pub fn new(block_size: u64, groups: u64, cap: u64) -> PrefixCache {
        PrefixCache {
            block_size,
            groups,
            cap,
            nodes: Vec::new(),
            free_slots: Vec::new(),
            by_id: IdMap::default(),
            head: NIL,
            tail: NIL,
            cached_blocks: 0,
            evictable_blocks: 0,
            lookup_tokens: 0,
            hit_tokens: 0,
        }
    }

    pub fn enabled(&self) -> bool {
        self.cap > 0
    }

    fn whole(&self, tokens: u64) -> u64 {
        tokens / self.block_size * self.block_size
    }

    /// Blocks of the path ending at `node` (0 for none).
    pub fn path_blocks(&self, node: u32) -> u64 {
        if node == NIL {
            0
        } else {
            self.nodes[node as usize].path_blocks
        }
    }

    /// The longest cached leading run of the segments `ids` (of `tokens` each), of which at most `limit`
    /// tokens (in whole blocks) are used. A cached node matches a segment only under the node matched
    /// before it and ending where the segment does, so ids that are not chained, or an id reused for other
    /// lengths, can never claim more of the cache than the request's own segments cover. Reads only.
    pub fn lookup(&self, ids: &[u64], tokens: &[u32], limit: u64) -> Hit {
        if !self.enabled() || ids.is_empty() {
            return Hit::MISS;
        }
        let (mut node, mut segs, mut cum, mut prev_tokens) = (NIL, 0, 0u64, 0u64);
        for (j, id) in ids.iter().enumerate() {
            let Some(&k) = self.by_id.get(id) else { break };
            cum += tokens[j] as u64;
            let n = &self.nodes[k as usize];
            if n.parent != node || n.tokens != self.whole(cum).max(prev_tokens) {
                break;
            }
            (node, segs, prev_tokens) = (k, j + 1, n.tokens);
        }
        if segs == 0 {
            return Hit::MISS;
        }
        let n = &self.nodes[node as usize];
        // A prompt cached whole still computes its last block (as vLLM recomputes the last token); the
        // request references the whole node, so its own blocks never overlap the cached ones.
        let tokens = n.tokens.min(self.whole(limit));
        let mut unpinned = 0;
        let mut k = node;
        while k != NIL && self.nodes[k as usize].refs == 0 {
            unpinned += self.nodes[k as usize].blocks;
            k = self.nodes[k as usize].parent;
        }
        Hit {
            node,
            segs,
            tokens,
            blocks: n.path_blocks,
            unpinned,
        }
    }

    /// Takes one reference on `node` and its ancestors.
    pub fn acquire(&mut self, node: u32) {
        let mut k = node;
        while k != NIL {
            if self.nodes[k as usize].refs == 0 {
                self.unlink(k);
                self.evictable_blocks -= self.nodes[k as usize].blocks;
            }
            self.nodes[k as usize].refs += 1;
            k = self.nodes[k as usize].parent;
        }
    }

    /// Drops one reference on `node` and its ancestors, deepest first.
    pub fn release(&mut self, node: u32) {
        let mut k = node;
        while k != NIL {
            let n = &mut self.nodes[k as usize];
            n.refs -= 1;
            let parent = n.parent;
            if n.refs == 0 {
                self.evictable_blocks += n.blocks;
                self.push_tail(k);
            }
            k = parent;
        }
    }

    /// Caches the segment `id` ending `tokens` prompt tokens in, under `parent` (a node the caller
    /// references, or none), from the caller's own KV. With `keep`, the caller references the node (it
    /// is still running); without, it is cached unreferenced (the caller is leaving). Unreferenced nodes
    /// are evicted to stay within the cache's cap; `free` gains their blocks.
    ///
    /// Returns the node (`NIL` when it does not fit, or the id is cached under another parent) and the
    /// blocks of the caller's KV it accounts for: moved into the new node, or, when another request computed
    /// the same segment first, duplicates that the caller must free (the cached copy is kept).
    pub fn insert(
        &mut self,
        parent: u32,
        id: u64,
        tokens: u64,
        keep: bool,
        free: &mut u64,
    ) -> (u32, u64, bool) {
        let parent_tokens = if parent == NIL {
            0
        } else {
            self.nodes[parent as usize].tokens
        };
        let tokens = self.whole(tokens).max(parent_tokens);
        let base = self.path_blocks(parent);
        if let Some(&k) = self.by_id.get(&id) {
            // The id is cached for other content (another parent or another length): not shared.
            if self.nodes[k as usize].parent != parent || self.nodes[k as usize].tokens != tokens {
                return (NIL, 0, false);
            }
            if keep {
                if self.nodes[k as usize].refs == 0 {
                    self.unlink(k);
                    self.evictable_blocks -= self.nodes[k as usize].blocks;
                }
                self.nodes[k as usize].refs += 1;
            } else if self.nodes[k as usize].refs == 0 {
                self.unlink(k);
                self.push_tail(k);
            }
            return (k, self.nodes[k as usize].path_blocks - base, true);
        }
        let blocks = self.groups * (tokens - parent_tokens) / self.block_size;
        if self.cached_blocks + blocks > self.cap {
            let excess = self.cached_blocks + blocks - self.cap;
            if excess > self.evictable_blocks {
                return (NIL, 0, false);
            }
            let target = self.cached_blocks - excess;
            while self.cached_blocks > target {
                self.evict_one(free);
            }
        }
        let node = Node {
            id,
            parent,
            tokens,
            blocks,
            path_blocks: base + blocks,
            refs: u32::from(keep),
            children: 0,
            prev: NIL,
            next: NIL,
        };
        let k = match self.free_slots.pop() {
            Some(k) => {
                self.nodes[k as usize] = node;
                k
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        if parent != NIL {
            self.nodes[parent as usize].children += 1;
        }
        self.by_id.insert(id, k);
        self.cached_blocks += blocks;
        if !keep {
            self.evictable_blocks += blocks;
            self.push_tail(k);
        }
        (k, blocks, false)
    }

    /// Evicts least-recently-used unreferenced nodes until `free` holds at least `need` blocks (the caller
    /// checked that the evictable blocks suffice).
    pub fn evict_until(&mut self, need: u64, free: &mut u64) {
        while *free < need && self.head != NIL {
            self.evict_one(free);
        }
    }

    fn evict_one(&mut self, free: &mut u64) {
        let k = self.head;
        self.unlink(k);
        let n = &self.nodes[k as usize];
        debug_assert!(
            n.refs == 0 && n.children == 0,
            "only unreferenced leaves are evicted"
        );
        let (id, parent, blocks) = (n.id, n.parent, n.blocks);
        if parent != NIL {
            self.nodes[parent as usize].children -= 1;
        }
        self.by_id.remove(&id);
        self.free_slots.push(k);
        self.cached_blocks -= blocks;
        self.evictable_blocks -= blocks;
        *free += blocks;
    }

    fn unlink(&mut self, k: u32) {
        let (prev, next) = (self.nodes[k as usize].prev, self.nodes[k as usize].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.nodes[k as usize].prev = NIL;
        self.nodes[k as usize].next = NIL;
    }

    fn push_tail(&mut self, k: u32) {
        self.nodes[k as usize].prev = self.tail;
        self.nodes[k as usize].next = NIL;
        if self.tail == NIL {
            self.head = k;
        } else {
            self.nodes[self.tail as usize].next = k;
        }
        self.tail = k;
    }

    /// Recounts the cache from its nodes (tests only: O(cache)); fails with what disagrees.
    #[cfg(test)]
    pub fn audit(&self) -> Result<(), String> {
        let live: Vec<&Node> = self
            .by_id
            .values()
            .map(|&k| &self.nodes[k as usize])
            .collect();
        let cached: u64 = live.iter().map(|n| n.blocks).sum();
        let evictable: u64 = live.iter().filter(|n| n.refs == 0).map(|n| n.blocks).sum();
        let mut listed = 0;
        let mut k = self.head;
        while k != NIL {
            listed += self.nodes[k as usize].blocks;
            k = self.nodes[k as usize].next;
        }
        if cached != self.cached_blocks || evictable != self.evictable_blocks || listed != evictable
        {
            return Err(format!(
                "cache counts {} cached / {} evictable blocks, nodes hold {cached} / {evictable} (LRU {listed})",
                self.cached_blocks, self.evictable_blocks
            ));
        }
        if self.cached_blocks > self.cap {
            return Err(format!(
                "cache holds {} blocks over its cap {}",
                self.cached_blocks, self.cap
            ));
        }
        Ok(())
    }
}
