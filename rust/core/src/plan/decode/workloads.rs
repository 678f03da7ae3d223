//! Decoding the `workloads` and `requests` tables: each workload's arrival process and its requests.

use arrow_array::RecordBatch;

use crate::error::{plan_err, PlanResult};
use crate::plan::table::{has_table, with_table};
use crate::plan::workload::{TrafficClass, Workload};

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
        let delay = if t.has("send_delay_s") {
            t.nonneg("send_delay_s")?
        } else {
            vec![0.0; t.len()]
        };
        let class = if t.has("class") {
            t.index_opt("class", "classes", class_rows.len())?
        } else {
            vec![None; t.len()]
        };
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
            // Whether the times must be valid is the arrival process's to say (`engine::arrivals`).
            let a = arrival[i].unwrap_or(f64::NAN);
            if !(a.is_finite() && a >= 0.0) && w.invalid_arrival_row.is_none() {
                w.invalid_arrival_row = Some(i);
            }
            w.arrival_s.push(a);
            w.prompt_tokens.push(prompt[i]);
            w.output_tokens.push(output[i]);
            w.send_delay_s.push(delay[i]);
        }
        Ok(())
    })?;
    Ok((workloads, class_rows))
}

/// The `classes` table: each row's class added to its workload.
fn classes(batch: &RecordBatch, workloads: &mut [Workload]) -> PlanResult<ClassRows> {
    with_table(batch, "classes", |t| {
        let wl = t.index("workload", "workloads", workloads.len())?;
        let name = t.strings("name")?;
        let priority = if t.has("priority") {
            t.int_in("priority", 0, u32::MAX as u64)?
        } else {
            vec![0; t.len()]
        };
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
