//! Decoding the `workloads` and `requests` tables: each workload's arrival process and its requests.

use arrow_array::RecordBatch;

use crate::error::{plan_err, PlanResult};
use crate::plan::table::{has_table, with_table, Table};
use crate::plan::workload::{Prefixes, TrafficClass, Workload};

fn u32_tokens(v: Vec<u64>) -> Vec<u32> {
    v.into_iter().map(|x| x as u32).collect()
}

/// Where each `classes` row went: (its workload, its index among that workload's classes).
pub type ClassRows = Vec<(usize, u32)>;

/// The workloads with their requests, and where each `classes` row went.
pub fn decode(batch: &RecordBatch) -> PlanResult<(Vec<Workload>, ClassRows)> {
    let mut workloads = with_table(batch, "workloads", |t| {
        let name = t.strings("name")?;
        let kind = t.strings("kind")?;
        let users = t.int_in("users", 0, u32::MAX as u64)?;
        let think = t.nonneg("think_time_s")?;
        let duration = t.f64_checked("duration_s", true)?;
        (0..t.len())
            .map(|i| {
                if duration[i] <= 0.0 {
                    return Err(t.in_cell(
                        "duration_s",
                        i,
                        plan_err!("workloads row {}: duration_s must be > 0", i),
                    ));
                }
                Ok(Workload {
                    name: name[i].clone(),
                    kind: kind[i].clone(),
                    users: users[i],
                    think_time_s: think[i],
                    duration_s: duration[i],
                    arrival_s: Vec::new(),
                    invalid_arrival_row: None,
                    prompt_tokens: Vec::new(),
                    output_tokens: Vec::new(),
                    send_delay_s: Vec::new(),
                    after_offsets: Vec::new(),
                    after: Vec::new(),
                    think_s: Vec::new(),
                    prefixes: Prefixes::default(),
                    classes: Vec::new(),
                    class: Vec::new(),
                })
            })
            .collect::<PlanResult<Vec<_>>>()
    })?;

    let class_rows = if has_table(batch, "classes") {
        classes(batch, &mut workloads)?
    } else {
        Vec::new()
    };

    with_table(batch, "requests", |t| {
        let wl = t.index("workload", "workloads", workloads.len())?;
        let arrival = t.f64_opt("arrival_s")?;
        let prompt = u32_tokens(t.int_in("prompt_tokens", 1, 100_000_000)?);
        let output = u32_tokens(t.int_in("output_tokens", 1, 100_000_000)?);
        let delay = t.optional("send_delay_s", 0.0, |t, c| t.nonneg(c))?;
        let class = if t.has("class") {
            t.index_opt("class", "classes", class_rows.len())?
        } else {
            vec![None; t.len()]
        };
        let deps = dependencies(&t, &wl, &arrival, &mut workloads)?;
        for i in 0..t.len() {
            let w = &mut workloads[wl[i]];
            match (class[i], w.classes.is_empty()) {
                (None, true) => {}
                (Some(c), false) if class_rows[c].0 == wl[i] => w.class.push(class_rows[c].1),
                (Some(c), _) => {
                    return Err(t.in_cell(
                        "class",
                        i,
                        plan_err!(
                            "requests row {}: class {} is a class of workload {}, not of this request's \
                             workload {}",
                            i,
                            c,
                            class_rows[c].0,
                            wl[i]
                        ),
                    ))
                }
                (None, false) => {
                    return Err(t.in_cell(
                        "class",
                        i,
                        plan_err!(
                            "requests row {}: workload {} has classes, so its every request needs one",
                            i,
                            wl[i]
                        ),
                    ))
                }
            }
            // Whether the times must be valid is the arrival process's to say (`engine::arrivals`); a
            // request that waits for others has no time of its own.
            let a = arrival[i].unwrap_or(f64::NAN);
            let valid = a.is_finite() && a >= 0.0;
            let waits = deps.as_ref().is_some_and(|off| off[i + 1] > off[i]);
            if !valid && !waits && w.invalid_arrival_row.is_none() {
                w.invalid_arrival_row = Some(i);
            }
            w.arrival_s.push(a);
            w.prompt_tokens.push(prompt[i]);
            w.output_tokens.push(output[i]);
            w.send_delay_s.push(delay[i]);
        }
        prefixes(&t, &wl, &prompt, &mut workloads)
    })?;
    Ok((workloads, class_rows))
}

/// The `classes` table: each row's class added to its workload.
fn classes(batch: &RecordBatch, workloads: &mut [Workload]) -> PlanResult<ClassRows> {
    with_table(batch, "classes", |t| {
        let wl = t.index("workload", "workloads", workloads.len())?;
        let name = t.strings("name")?;
        let priority = t.optional("priority", 0, |t, c| t.int_in(c, 0, u32::MAX as u64))?;
        Ok((0..t.len())
            .map(|i| {
                let w = &mut workloads[wl[i]];
                w.classes.push(TrafficClass {
                    name: name[i].clone(),
                    priority: priority[i] as u32,
                });
                (wl[i], (w.classes.len() - 1) as u32)
            })
            .collect())
    })
}

/// The optional `requests.after` and `requests.think_s` columns, checked and split per workload (indices in
/// `after` count the workload's own requests): every request waited for is an earlier request of the same
/// workload, which also rules out cycles; think times are finite and >= 0; a waiting request has a null
/// (or NaN) `arrival_s`. Returns the table's `after` offsets, so the caller can tell which rows wait.
fn dependencies(
    t: &Table<'_>,
    wl: &[usize],
    arrival: &[Option<f64>],
    workloads: &mut [Workload],
) -> PlanResult<Option<Vec<usize>>> {
    if !t.has("after") {
        if t.has("think_s") {
            return Err(t.in_cell(
                "think_s",
                0,
                plan_err!("column 'requests.think_s' is given without requests.after"),
            ));
        }
        return Ok(None);
    }
    let (off, after) = t.u32_lists("after")?;
    let think = t.optional("think_s", 0.0, |t, c| t.nonneg(c))?;
    if after.is_empty() {
        return Ok(None);
    }
    // Each request's index within its workload.
    let mut local = vec![0u32; t.len()];
    let mut count = vec![0u32; workloads.len()];
    for (i, &w) in wl.iter().enumerate() {
        local[i] = count[w];
        count[w] += 1;
    }
    for (w, wk) in workloads.iter_mut().enumerate() {
        wk.after_offsets = Vec::with_capacity(count[w] as usize + 1);
        wk.after_offsets.push(0);
        wk.think_s = Vec::with_capacity(count[w] as usize);
    }
    for i in 0..t.len() {
        let parents = &after[off[i]..off[i + 1]];
        let w = &mut workloads[wl[i]];
        for &p in parents {
            if p >= local[i] {
                return Err(t.in_cell(
                    "after",
                    i,
                    plan_err!(
                        "column 'requests.after' row {}: waits for request {} of workload '{}', which is not an earlier request of it (it is request {}; a request may only wait for earlier ones, so there are no cycles)",
                        i,
                        p,
                        w.name,
                        local[i]
                    ),
                ));
            }
        }
        if !parents.is_empty() && arrival[i].is_some_and(|a| !a.is_nan()) {
            return Err(t.in_cell(
                "arrival_s",
                i,
                plan_err!(
                    "column 'requests.arrival_s' row {}: a request that waits for others (requests.after) is sent when they have left; its arrival_s must be null",
                    i
                ),
            ));
        }
        w.after.extend_from_slice(parents);
        w.after_offsets.push(w.after.len());
        w.think_s.push(think[i]);
    }
    for w in workloads.iter_mut() {
        if w.after.is_empty() {
            w.after_offsets.clear();
            w.think_s.clear();
        }
    }
    Ok(Some(off))
}

/// The optional prefix columns: all three or none; per row as many token counts as ids, and segments
/// that fit in the prompt.
fn prefixes(t: &Table, wl: &[usize], prompt: &[u32], workloads: &mut [Workload]) -> PlanResult<()> {
    let cols = ["prefix_ids", "prefix_tokens", "output_prefix_id"];
    let given: Vec<bool> = cols.iter().map(|c| t.has(c)).collect();
    if !given.iter().any(|&g| g) {
        return Ok(());
    }
    if let Some(k) = given.iter().position(|&g| !g) {
        let with = cols[given.iter().position(|&g| g).expect("one is given")];
        return Err(t.in_column(
            cols[k],
            plan_err!(
                "table 'requests' has column '{}' but not '{}' (the prefix columns come together)",
                with,
                cols[k]
            ),
        ));
    }
    let (id_off, ids) = t.u64_lists("prefix_ids", u64::MAX)?;
    let (tok_off, toks) = t.u64_lists("prefix_tokens", u32::MAX as u64)?;
    let out_id = t.u64_exact("output_prefix_id")?;
    for w in workloads.iter_mut() {
        w.prefixes = Prefixes {
            present: true,
            offsets: vec![0],
            ..Prefixes::default()
        };
    }
    for i in 0..t.len() {
        let (a, b) = (id_off[i], id_off[i + 1]);
        if tok_off[i + 1] - tok_off[i] != b - a {
            return Err(t.in_cell(
                "prefix_tokens",
                i,
                plan_err!(
                    "requests row {}: {} prefix_tokens for {} prefix_ids (one per segment)",
                    i,
                    tok_off[i + 1] - tok_off[i],
                    b - a
                ),
            ));
        }
        let seg_toks = &toks[tok_off[i]..tok_off[i + 1]];
        let sum: u64 = seg_toks.iter().sum();
        if sum > prompt[i] as u64 {
            return Err(t.in_cell(
                "prefix_tokens",
                i,
                plan_err!(
                    "requests row {}: the segments hold {} tokens, more than the prompt's {}",
                    i,
                    sum,
                    prompt[i]
                ),
            ));
        }
        if let Some(j) = ids[a..b].iter().position(|&id| id == 0) {
            return Err(t.in_cell(
                "prefix_ids",
                i,
                plan_err!(
                    "requests row {}: segment {} has identity 0 (0 stands for none)",
                    i,
                    j
                ),
            ));
        }
        let p = &mut workloads[wl[i]].prefixes;
        p.ids.extend_from_slice(&ids[a..b]);
        p.tokens.extend(seg_toks.iter().map(|&x| x as u32));
        p.offsets.push(p.ids.len() as u32);
        p.output_id.push(out_id[i]);
    }
    Ok(())
}
