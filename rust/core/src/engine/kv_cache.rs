//! One instance's KV cache: its blocks, the blocks reserved for caches on their way in, the requests
//! resident in its batch, and which of them is preempted when a decode round needs more blocks than are free.

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
    pub free_blocks: u64,
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
    pub fn new(block_size: u64, blocks: u64, shape: KvShape, state_blocks: u64) -> KvCache {
        KvCache {
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

    /// Fails if more blocks are free than exist: a block was freed twice.
    pub fn check_accounting(&self, instance: usize) -> Result<()> {
        if self.free_blocks > self.total_blocks {
            return Err(InferaError::Simulation(format!(
                "instance {instance} has {} free KV blocks of {} (a block was freed twice)",
                self.free_blocks, self.total_blocks
            )));
        }
        Ok(())
    }
}
