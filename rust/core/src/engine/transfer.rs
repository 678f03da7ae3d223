//! KV-cache transfer from prefill to decode instances over the links between their pools.
//!
//! A decode instance first reserves KV blocks and a batch slot for an incoming cache; while it has neither,
//! the cache waits in its `incoming` queue, still holding its blocks on the prefill side (back-pressure).
//! Then the transfer queues on the link, which serves transfers one after another at its bandwidth, plus
//! the link latency.

use super::events::{Class, Events};
use super::instance::Instance;
use super::request::{Phase, Req};
use crate::plan::{KvShape, Link, Prefixes};

/// A link between two of the run's pools: one channel, transfers served in order.
struct LinkState {
    src_pool: usize,
    dst_pool: usize,
    bandwidth: f64,
    latency_s: f64,
    busy_until: f64,
}

pub(crate) struct Transfers {
    links: Vec<LinkState>,
    kv: KvShape,
    kv_bytes_per_token: f64,
}

impl Transfers {
    /// `links` with their pools given as indices among the run's pools.
    pub fn new<'a>(
        links: impl Iterator<Item = (usize, usize, &'a Link)>,
        kv: KvShape,
        kv_bytes_per_token: f64,
    ) -> Self {
        Transfers {
            links: links
                .map(|(src_pool, dst_pool, l)| LinkState {
                    src_pool,
                    dst_pool,
                    bandwidth: l.bandwidth,
                    latency_s: l.latency_s,
                    busy_until: 0.0,
                })
                .collect(),
            kv,
            kv_bytes_per_token,
        }
    }

    /// The run's pools that pool `src` sends KV caches to.
    pub fn targets(&self, src: usize) -> impl Iterator<Item = usize> + '_ {
        self.links
            .iter()
            .filter(move |l| l.src_pool == src)
            .map(|l| l.dst_pool)
    }

    /// Starts the transfers waiting on decode instance `dst` (in pool `dst_pool`; `pool_of` gives every
    /// instance's pool) for which it has KV blocks and batch room, in arrival order. Each ends with a
    /// transfer-end event.
    pub fn start_waiting(
        &mut self,
        dst: &mut Instance,
        reqs: &mut [Req],
        pool_of: &[usize],
        prefixes: &Prefixes,
        t: f64,
        events: &mut Events,
    ) {
        while let Some(&r) = dst.incoming.front() {
            let req = &mut reqs[r as usize];
            let len = req.prefill_len as u64;
            // Whatever of the prompt the decode instance has cached itself need not cross the link.
            let hit = dst.kv.lookup(prefixes.of(r as usize), len);
            let blocks = dst.kv.blocks_for(len).saturating_sub(hit.blocks);
            if blocks > dst.kv.available_with(&hit)
                || dst.kv.running() + dst.kv.reserved >= dst.max_batch
            {
                break;
            }
            dst.incoming.pop_front();
            if hit.node != super::request::NONE {
                dst.kv.prefix.acquire(hit.node);
            }
            dst.kv.take(blocks);
            if dst.kv.prefix.enabled() {
                dst.kv.prefix.lookup_tokens += len;
                dst.kv.prefix.hit_tokens += hit.tokens;
            }
            req.node = hit.node;
            req.node_segs = hit.segs as u32;
            dst.kv.reserved += 1;
            let (src_pool, dst_pool) = (pool_of[req.prefill_instance as usize], dst.local_pool);
            let link = self
                .links
                .iter_mut()
                .find(|l| l.src_pool == src_pool && l.dst_pool == dst_pool)
                .expect("decode set only holds linked pools");
            let bytes = self.kv.bytes(len - hit.tokens, self.kv_bytes_per_token);
            let start = t.max(link.busy_until);
            link.busy_until = start + bytes / link.bandwidth;
            let end = link.busy_until + link.latency_s;
            req.phase = Phase::Transferring;
            req.transfer_start = t;
            req.kv_wait_s += t - req.kv_ready;
            events.push(end, Class::TransferEnd, r);
        }
    }
}
