//! One instance's KV cache: its blocks, the blocks reserved for caches on their way in, the requests
//! resident in its batch, and which of them is preempted when a decode round needs more blocks than are free.
//! Its blocks are shared with the instance's prefix cache (`prefix_cache.rs`): every block is free, held by
//! one request, or cached; unreferenced cached blocks are evicted when a request needs them.

use super::prefix_cache::{Hit, PrefixCache, NIL};
use super::request::NONE;
use crate::error::{InferaError, Result};
use crate::plan::KvShape;

pub(crate) struct KvCache {
    pub block_size: u64,
    /// How a context maps to blocks (full-attention and sliding-window groups).
    pub shape: KvShape,
    /// Blocks every admitted request holds for its recurrent state, whatever its context.
    state_blocks: u64,
    pub total_blocks: u64,
    free_blocks: u64,
    /// Blocks requests hold of their own (not in the prefix cache).
    held: u64,
    pub prefix: PrefixCache,
    /// Requests whose KV cache is on the link towards this instance (their blocks are taken): they hold a
    /// batch slot until they join the decode set.
    pub reserved: u64,
    /// Requests admitted to the batch as (admission sequence number, request), in admission order. A
    /// request that leaves stays as a hole (request `NONE`) until the holes outnumber the requests; the
    /// last entry is never a hole.
    running: Vec<(u64, u32)>,
    live: u64,
    next_seq: u64,
}

impl KvCache {
    /// A cache of `blocks` blocks whose prefix cache may hold up to `prefix_cap` of them. Prefixes are cached
    /// only for models whose KV is all full attention: a sliding window or recurrent state would not be
    /// reusable from a prefix's blocks alone (docs/prefix-caching.md).
    pub fn new(
        block_size: u64,
        blocks: u64,
        shape: KvShape,
        state_blocks: u64,
        prefix_cap: u64,
    ) -> KvCache {
        let reusable = shape.window_groups == 0 && state_blocks == 0;
        let cap = if reusable { prefix_cap.min(blocks) } else { 0 };
        KvCache {
            prefix: PrefixCache::new(block_size, shape.full_groups, cap),
            held: 0,
            block_size,
            shape,
            state_blocks,
            total_blocks: blocks,
            free_blocks: blocks,
            reserved: 0,
            running: Vec::new(),
            live: 0,
            next_seq: 0,
        }
    }

    /// Blocks that a request with a context of `tokens` tokens holds.
    pub fn blocks_for(&self, tokens: u64) -> u64 {
        self.shape
            .blocks(tokens, self.block_size, self.state_blocks)
    }

    /// Requests in the batch.
    pub fn running(&self) -> u64 {
        self.live
    }

    /// Admits request `r` to the batch; returns its admission sequence number.
    pub fn admit(&mut self, r: u32) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.running.push((seq, r));
        self.live += 1;
        seq
    }

    /// Removes the request admitted as `seq` from the batch, if it is there (its blocks are accounted for
    /// by the caller).
    pub fn leave(&mut self, seq: u64) {
        let Ok(pos) = self.running.binary_search_by_key(&seq, |&(s, _)| s) else {
            return;
        };
        if self.running[pos].1 == NONE {
            return;
        }
        self.running[pos].1 = NONE;
        self.live -= 1;
        while self.running.last().is_some_and(|&(_, r)| r == NONE) {
            self.running.pop();
        }
        if self.running.len() as u64 > 2 * self.live + 16 {
            self.running.retain(|&(_, r)| r != NONE);
        }
    }

    /// The request to preempt when blocks run out: the newest admitted, so the oldest keep making progress.
    pub fn victim(&self) -> Option<u32> {
        self.running.last().map(|&(_, r)| r)
    }

    pub fn used_blocks(&self) -> u64 {
        self.total_blocks - self.free_blocks
    }

    /// Blocks requests hold of their own (tests: none once every request has left).
    #[cfg(test)]
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Blocks a request could take now: the free ones and the unreferenced cached ones.
    pub fn available(&self) -> u64 {
        self.free_blocks + self.prefix.evictable_blocks
    }

    /// Blocks a request admitted with `hit` could take: what is available, less the hit's own unreferenced
    /// blocks, which it is about to reference.
    pub fn available_with(&self, hit: &Hit) -> u64 {
        self.available() - hit.unpinned
    }

    /// A request takes `n` blocks of its own, evicting cached prefixes if the free blocks do not suffice.
    pub fn take(&mut self, n: u64) {
        if n > self.free_blocks {
            self.prefix.evict_until(n, &mut self.free_blocks);
        }
        self.free_blocks -= n;
        self.held += n;
    }

    /// A request gives back `n` blocks of its own.
    pub fn give(&mut self, n: u64) {
        self.free_blocks += n;
        self.held -= n;
    }

    /// The cached prefix a request with segments `ids` and a context of `len` tokens may start from: at
    /// least its last token is computed (it yields the first output's logits).
    pub fn lookup(&self, (ids, tokens): (&[u64], &[u32]), len: u64) -> Hit {
        self.prefix.lookup(ids, tokens, len.saturating_sub(1))
    }

    /// Caches the prompt segments `ids[hit_segs..]` (of `tokens` each) of a request that computed them and
    /// references `node` (covering the first `hit_segs`); returns its new deepest node and how many
    /// segments it covers. A segment another request cached first is shared and this copy freed.
    pub fn cache_prompt(
        &mut self,
        mut node: u32,
        hit_segs: usize,
        ids: &[u64],
        tokens: &[u32],
    ) -> (u32, usize) {
        let mut segs = hit_segs;
        if !self.prefix.enabled() {
            return (node, segs);
        }
        let mut cum: u64 = tokens[..segs].iter().map(|&t| t as u64).sum();
        for j in hit_segs..ids.len() {
            cum += tokens[j] as u64;
            let (k, blocks, dup) =
                self.prefix
                    .insert(node, ids[j], cum, true, &mut self.free_blocks);
            if k == NIL {
                break;
            }
            self.held -= blocks;
            if dup {
                self.free_blocks += blocks;
            }
            node = k;
            segs = j + 1;
        }
        (node, segs)
    }

    /// A request referencing `node` leaves with `total` blocks of context: its own blocks are freed, except
    /// those of its prompt and output (`output`: their identity and tokens) when they can be cached; then
    /// its references go.
    pub fn leave_prefix(&mut self, node: u32, total: u64, output: Option<(u64, u64)>) {
        let mut own = total - self.prefix.path_blocks(node);
        if let Some((id, tokens)) = output.filter(|_| self.prefix.enabled()) {
            let (k, blocks, dup) =
                self.prefix
                    .insert(node, id, tokens, false, &mut self.free_blocks);
            if k != NIL && !dup {
                own -= blocks;
                self.held -= blocks;
            }
        }
        self.give(own);
        if node != NIL {
            self.prefix.release(node);
        }
    }

    /// Fails if the blocks that are free, held by requests and cached do not add up to the instance's: a
    /// block was freed twice or counted in two places.
    pub fn check_accounting(&self, instance: usize) -> Result<()> {
        if self.free_blocks + self.held + self.prefix.cached_blocks != self.total_blocks {
            return Err(InferaError::Simulation(format!(
                "instance {instance}: {} free + {} held + {} cached KV blocks of {} (a block was freed twice)",
                self.free_blocks, self.held, self.prefix.cached_blocks, self.total_blocks
            )));
        }
        #[cfg(test)]
        self.prefix
            .audit()
            .map_err(|e| InferaError::Simulation(format!("instance {instance}: {e}")))?;
        Ok(())
    }
}
