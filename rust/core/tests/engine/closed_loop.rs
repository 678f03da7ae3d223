//! Closed-loop traffic: at most `users` requests in flight, each next one issued a think time after a finish.

use crate::common::{check_invariants, close, closed_plan, f64s, max_in_system, sim};

#[test]
fn closed_loop_keeps_at_most_users_requests_in_flight() {
    let (users, think, n) = (4u32, 0.002, 50usize);
    let b = closed_plan(users, think, n);
    let out = sim(&b);
    check_invariants(&b, &out);
    let r = &out.requests;
    assert_eq!(r.num_rows(), n, "every request is issued");
    let (arr, fin) = (f64s(r, "arrival_s"), f64s(r, "finish_s"));
    assert_eq!(max_in_system(&arr, &fin), users as usize);
    // The first `users` requests start at time zero; every later one arrives `think` after a finish.
    let mut a = arr.clone();
    a.sort_by(f64::total_cmp);
    assert!(a[..users as usize].iter().all(|&t| t == 0.0));
    assert!(a[users as usize] > 0.0);
    let mut f = fin.clone();
    f.sort_by(f64::total_cmp);
    for k in 0..n - users as usize {
        close(a[users as usize + k], f[k] + think, "closed-loop arrival");
    }
}

#[test]
fn closed_loop_with_more_users_than_requests_issues_all_at_once() {
    let b = closed_plan(100, 1.0, 10);
    let out = sim(&b);
    check_invariants(&b, &out);
    assert!(f64s(&out.requests, "arrival_s").iter().all(|&t| t == 0.0));
}

#[test]
fn closed_loop_stops_issuing_at_the_duration() {
    let mut b = closed_plan(2, 0.001, 1000);
    b.workloads[0].duration_s = 0.05;
    let out = sim(&b);
    let n = out.requests.num_rows();
    assert!(n > 2 && n < 1000, "{n} requests issued before the duration");
    assert!(f64s(&out.requests, "arrival_s").iter().all(|&t| t < 0.05));
    assert!(
        max_in_system(
            &f64s(&out.requests, "arrival_s"),
            &f64s(&out.requests, "finish_s")
        ) <= 2
    );
}
