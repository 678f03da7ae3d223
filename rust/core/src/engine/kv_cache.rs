//! One instance's KV cache: its blocks, the blocks reserved for caches on their way in, the requests
//! resident in its batch, and which of them is preempted when a decode round needs more blocks than are free.

use std::collections::BTreeMap;

use crate::error::{InferaError, Result};

pub(crate) struct KvCache {
    pub block_size: u64,
    pub total_blocks: u64,
    pub free_blocks: u64,
    /// Requests whose KV cache is on the link towards this instance (their blocks are taken): they hold a
    /// batch slot until they join the decode set.
    pub reserved: u64,
    /// Requests admitted to the batch, by admission order.
    running: BTreeMap<u64, u32>,
    next_seq: u64,
}

impl KvCache {
    pub fn new(block_size: u64, blocks: u64) -> KvCache {
        KvCache {
            block_size,
            total_blocks: blocks,
            free_blocks: blocks,
            reserved: 0,
            running: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Blocks that hold `tokens` tokens.
    pub fn blocks_for(&self, tokens: u64) -> u64 {
        tokens.div_ceil(self.block_size)
    }

    /// Requests in the batch.
    pub fn running(&self) -> u64 {
        self.running.len() as u64
    }

    /// Admits request `r` to the batch; returns its admission sequence number.
    pub fn admit(&mut self, r: u32) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.running.insert(seq, r);
        seq
    }

    /// Removes the request admitted as `seq` from the batch (its blocks are accounted for by the caller).
    pub fn leave(&mut self, seq: u64) {
        self.running.remove(&seq);
    }

    /// The request to preempt when blocks run out: the newest admitted, so the oldest keep making progress.
    pub fn victim(&self) -> Option<u32> {
        self.running.iter().next_back().map(|(_, &r)| r)
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
