//! Plans through Arrow IPC files: a round trip gives the same results; missing, garbage or two-batch files
//! are errors.

use infera_core::builder::{self, tiny_dense_plan};
use infera_core::{simulate, simulate_batch, InferaError, Plan, SimOptions};

use crate::common::{burst, plan_msg};

#[test]
fn ipc_round_trip_gives_the_same_results() {
    let mut b = burst(60);
    b.pools[0].kv_blocks = 12;
    b.slo(0, "ttft", Some(50.0), 0.01);
    let batch = b.build();
    let path = std::env::temp_dir().join(format!(
        "infera-core-test-{}-roundtrip.arrow",
        std::process::id()
    ));
    builder::write_ipc(&batch, &path).unwrap();
    let read = Plan::read_ipc(&path);
    std::fs::remove_file(&path).unwrap();
    let plan = read.unwrap();
    let from_file = simulate(&plan, SimOptions::default()).unwrap();
    let direct = simulate_batch(&batch, SimOptions::default()).unwrap();
    assert_eq!(from_file.requests, direct.requests);
    assert_eq!(from_file.iterations, direct.iterations);
    assert_eq!(from_file.instances, direct.instances);
}

#[test]
fn reading_a_missing_or_garbage_file_is_an_error() {
    let dir = std::env::temp_dir();
    let missing = dir.join(format!(
        "infera-core-test-{}-missing.arrow",
        std::process::id()
    ));
    assert!(matches!(Plan::read_ipc(&missing), Err(InferaError::Io(_))));
    let garbage = dir.join(format!(
        "infera-core-test-{}-garbage.arrow",
        std::process::id()
    ));
    std::fs::write(&garbage, b"not an arrow file").unwrap();
    let res = Plan::read_ipc(&garbage);
    std::fs::remove_file(&garbage).unwrap();
    assert!(matches!(res, Err(InferaError::Arrow(_))), "{res:?}");
}

#[test]
fn ipc_file_with_two_batches_is_rejected() {
    let batch = tiny_dense_plan(2).build();
    let path =
        std::env::temp_dir().join(format!("infera-core-test-{}-two.arrow", std::process::id()));
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut w = arrow_ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
    }
    let res = Plan::read_ipc(&path);
    std::fs::remove_file(&path).unwrap();
    let msg = plan_msg(res);
    assert!(msg.contains("exactly one record batch"), "{msg}");
}
