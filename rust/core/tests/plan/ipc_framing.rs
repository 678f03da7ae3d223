//! Damaged plan files, from the `read_ipc` fuzz target's findings (`rust/core/fuzz`): a footer block, a
//! buffer or an offsets buffer that disagrees with the bytes around it, and every truncation of a file, are
//! Arrow errors from `Plan::read_ipc_from`, never a panic or an allocation of what the file claims.

use std::io::Cursor;

use arrow_ipc::{root_as_footer, root_as_message};
use infera_core::builder::tiny_dense_plan;
use infera_core::{InferaError, Plan};

/// A valid plan file in memory.
fn plan_file() -> Vec<u8> {
    let batch = tiny_dense_plan(3).build();
    let mut file = Vec::new();
    let mut w = arrow_ipc::writer::FileWriter::try_new(&mut file, &batch.schema()).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    drop(w);
    file
}

/// Where `part`, a slice of `file`, starts in it.
fn position(file: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - file.as_ptr() as usize
}

/// Where the footer's record-batch block starts, and where the footer starts.
fn block_position(file: &[u8]) -> usize {
    let trailer = file.len() - 10;
    let footer_len = i32::from_le_bytes(file[trailer..trailer + 4].try_into().unwrap()) as usize;
    let footer = root_as_footer(&file[trailer - footer_len..trailer]).unwrap();
    position(file, footer.recordBatches().unwrap().bytes())
}

/// Where the record batch message's buffer list (16 bytes each: offset, length) starts.
fn buffers_position(file: &[u8]) -> usize {
    let at = block_position(file);
    let offset = i64::from_le_bytes(file[at..at + 8].try_into().unwrap()) as usize;
    let meta_len = i32::from_le_bytes(file[at + 8..at + 12].try_into().unwrap()) as usize;
    let msg = root_as_message(&file[offset + 8..offset + meta_len]).unwrap();
    position(
        file,
        msg.header_as_record_batch()
            .unwrap()
            .buffers()
            .unwrap()
            .bytes(),
    )
}

fn put_i64(file: &mut [u8], at: usize, v: i64) {
    file[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The Arrow error reading `file` gives.
fn arrow_error(file: Vec<u8>) -> String {
    match Plan::read_ipc_from(Cursor::new(file)) {
        Err(InferaError::Arrow(e)) => e.to_string(),
        other => panic!("expected an Arrow error, got {other:?}"),
    }
}

#[test]
fn the_unaltered_file_reads() {
    Plan::read_ipc_from(Cursor::new(plan_file())).unwrap();
}

#[test]
fn a_buffer_past_its_message_body_is_an_error() {
    // The first finding: arrow-ipc sliced the body at the buffer's offset and panicked.
    let mut file = plan_file();
    let at = buffers_position(&file);
    put_i64(&mut file, at, 6_294_016);
    let msg = arrow_error(file);
    assert!(msg.contains("lies outside its"), "{msg}");
}

#[test]
fn an_offsets_buffer_holding_part_of_an_offset_is_an_error() {
    // The second finding: buffer 1 is the `chips` list's two i32 offsets; arrow-data read a 9-byte buffer,
    // long enough for them, as whole offsets and panicked.
    let mut file = plan_file();
    let at = buffers_position(&file) + 16;
    put_i64(&mut file, at + 8, 9);
    let msg = arrow_error(file);
    assert!(
        msg.contains("not a whole number of 4-byte offsets"),
        "{msg}"
    );
}

#[test]
fn a_footer_block_past_the_file_or_of_negative_length_is_an_error() {
    // arrow-ipc unwraps a negative length and allocates whatever positive one the block claims.
    for body_len in [i64::MAX, 1 << 44, -8] {
        let mut file = plan_file();
        let at = block_position(&file);
        put_i64(&mut file, at + 16, body_len);
        let msg = arrow_error(file);
        assert!(msg.contains("lies outside the file"), "{body_len}: {msg}");
    }
}

#[test]
fn a_footer_length_past_the_file_is_an_error() {
    let mut file = plan_file();
    let trailer = file.len() - 10;
    file[trailer..trailer + 4].copy_from_slice(&i32::MAX.to_le_bytes());
    let msg = arrow_error(file);
    assert!(msg.contains("does not fit in the file"), "{msg}");
}

#[test]
fn every_truncation_of_a_plan_file_is_an_error() {
    let file = plan_file();
    for len in 0..file.len() {
        assert!(
            Plan::read_ipc_from(Cursor::new(&file[..len])).is_err(),
            "{len}"
        );
    }
}
