//! Per-request state: where a request is in its life, what it has been through, and the pieces its token
//! emission times are kept in.

/// "No instance" / "no piece" in the index fields below.
pub(crate) const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    NotIssued,
    Waiting,
    Prefilling,
    /// Prefilled on a prefill instance; waiting for KV blocks on its decode instance.
    PendingTransfer,
    /// KV cache on the link.
    Transferring,
    Decoding,
    Done,
    Rejected,
}

/// How a request left the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Finished,
    /// Its instance's queue held `max_queue` requests when it arrived.
    QueueFull,
    /// It waited longer than `queue_timeout` without being admitted.
    Timeout,
}

impl Status {
    /// Every status, in the order of their codes (`status as u32`).
    pub const ALL: [Status; 3] = [Status::Finished, Status::QueueFull, Status::Timeout];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Finished => "finished",
            Status::QueueFull => "rejected_queue_full",
            Status::Timeout => "rejected_timeout",
        }
    }
}

/// Per-request state. Static fields come from the workload; the rest changes as it is served.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub prompt: u32,
    pub output: u32,
    pub arrival: f64,
    /// Its class's admission priority (lowest first; 0 without classes).
    pub priority: u32,
    /// The instance it is queued on, running on, or being transferred to.
    pub instance: u32,
    pub prefill_instance: u32,
    pub decode_instance: u32,
    pub phase: Phase,
    pub status: Status,
    /// Tokens emitted so far (while decoding, as of joining the decode set: see `g0`).
    pub generated: u32,
    /// Length of the current prefill (prompt, plus generated tokens when recomputing after preemption).
    pub prefill_len: u32,
    pub prefilled: u32,
    /// Decode-set entry: context `c0` at round `r0`, with `g0` tokens generated.
    pub c0: u64,
    pub r0: u64,
    pub g0: u32,
    /// Admission order on its instance; the newest is preempted first.
    pub seq: u64,
    /// Bumped on preemption so stale finish-heap entries are ignored.
    pub epoch: u32,
    /// KV blocks still held on the prefill instance while the cache waits for or crosses the link.
    pub src_blocks: u32,
    /// The deepest prefix-cache node this request references on the instance holding its KV (`NONE`:
    /// none), and how many of its prompt segments that node covers.
    pub node: u32,
    pub node_segs: u32,
    /// The node it references on its prefill instance while its KV cache crosses the link.
    pub src_node: u32,
    /// Prompt tokens its prefills found in a prefix cache and did not compute.
    pub cached_tokens: u64,
    /// Tokens charged to `charge_inst` for the routers.
    pub charge: u64,
    pub charge_inst: u32,
    pub first_sched: f64,
    pub first_token: f64,
    pub finish: f64,
    pub kv_ready: f64,
    pub transfer_start: f64,
    pub kv_wait_s: f64,
    pub kv_transfer_s: f64,
    pub transfers: u32,
    pub prefills: u32,
    pub preemptions: u32,
    piece_head: u32,
    piece_tail: u32,
    open_piece: u32,
}

impl Req {
    pub fn new(prompt: u32, output: u32, arrival: f64) -> Req {
        Req {
            prompt,
            output,
            arrival,
            priority: 0,
            instance: NONE,
            prefill_instance: NONE,
            decode_instance: NONE,
            phase: Phase::NotIssued,
            status: Status::Finished,
            generated: 0,
            prefill_len: 0,
            prefilled: 0,
            c0: 0,
            r0: 0,
            g0: 0,
            seq: 0,
            epoch: 0,
            src_blocks: 0,
            node: NONE,
            node_segs: 0,
            src_node: NONE,
            cached_tokens: 0,
            charge: 0,
            charge_inst: NONE,
            first_sched: f64::NAN,
            first_token: f64::NAN,
            finish: f64::NAN,
            kv_ready: f64::NAN,
            transfer_start: f64::NAN,
            kv_wait_s: 0.0,
            kv_transfer_s: 0.0,
            transfers: 0,
            prefills: 0,
            preemptions: 0,
            piece_head: NONE,
            piece_tail: NONE,
            open_piece: NONE,
        }
    }

    /// Whether the request has left the system, finished or turned away.
    pub fn left(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::Rejected)
    }
}

/// A run of token emissions of one request: a single time, or decode rounds `[a, b)` of one instance.
#[derive(Debug, Clone, Copy)]
struct Piece {
    time: f64,
    instance: u32,
    a: u64,
    b: u64,
    next: u32,
}

/// Where one piece of a request's token emission times is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Emission<'a> {
    /// One token at this time.
    At(&'a f64),
    /// One token at the end of each of the instance's decode rounds `a..b`.
    Rounds { instance: usize, a: usize, b: usize },
}

/// Every request's token emission times, as a linked list of pieces per request. Nothing is kept unless
/// asked for: the pieces only serve per-request TPOT percentiles.
pub(crate) struct Emissions {
    keep: bool,
    pieces: Vec<Piece>,
}

impl Emissions {
    pub fn new(keep: bool) -> Emissions {
        Emissions {
            keep,
            pieces: Vec::new(),
        }
    }

    fn add(&mut self, req: &mut Req, piece: Piece) -> u32 {
        if !self.keep {
            return NONE;
        }
        let id = self.pieces.len() as u32;
        self.pieces.push(piece);
        if req.piece_tail == NONE {
            req.piece_head = id;
        } else {
            self.pieces[req.piece_tail as usize].next = id;
        }
        req.piece_tail = id;
        id
    }

    /// One token emitted at `t` (a completed prefill).
    pub fn single(&mut self, req: &mut Req, t: f64) {
        self.add(
            req,
            Piece {
                time: t,
                instance: NONE,
                a: 0,
                b: 0,
                next: NONE,
            },
        );
    }

    /// The request joined instance `instance`'s decode set at `t`, before round `r0`: it emits a token at
    /// the end of every round from there until `close`.
    pub fn open(&mut self, req: &mut Req, t: f64, instance: u32, r0: u64) {
        req.open_piece = self.add(
            req,
            Piece {
                time: t,
                instance,
                a: r0,
                b: r0,
                next: NONE,
            },
        );
    }

    /// The request left its decode set before round `round`.
    pub fn close(&mut self, req: &mut Req, round: u64) {
        let p = req.open_piece;
        if p != NONE {
            self.pieces[p as usize].b = round;
            req.open_piece = NONE;
        }
    }

    /// The pieces of `req`'s emission times, in time order.
    pub fn of<'a>(&'a self, req: &Req) -> impl Iterator<Item = Emission<'a>> + 'a {
        let mut p = req.piece_head;
        std::iter::from_fn(move || {
            if p == NONE {
                return None;
            }
            let piece = &self.pieces[p as usize];
            p = piece.next;
            Some(if piece.instance == NONE {
                Emission::At(&piece.time)
            } else {
                Emission::Rounds {
                    instance: piece.instance as usize,
                    a: piece.a as usize,
                    b: piece.b as usize,
                }
            })
        })
    }
}
