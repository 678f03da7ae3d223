//! Reading a plan file: the Arrow IPC file's framing is checked against the bytes it describes before
//! arrow-ipc's reader decodes it.
//!
//! arrow-ipc trusts the lengths and offsets written in a file's footer and message headers: a block
//! outside the file, a negative length or a buffer outside its message body makes it panic or allocate
//! whatever the file claims (found by the `read_ipc` fuzz target, `rust/core/fuzz`). [`check_framing`]
//! rejects those as an Arrow error first, so a damaged or hostile file is an `InferaError`.

use std::io::{Cursor, Read, Seek};

use arrow_array::RecordBatch;
use arrow_ipc::{Block, Message, MessageHeader};
use arrow_schema::{ArrowError, DataType, Field, Schema};

use super::Plan;
use crate::error::{plan_err, Result};

/// `ARROW1`, which starts and ends every Arrow IPC file.
const MAGIC: &[u8] = b"ARROW1";
/// The footer's length (4 bytes) and the closing magic.
const TRAILER: usize = 4 + MAGIC.len();
/// Marks a message header whose length follows (the format since Arrow 0.15).
const CONTINUATION: [u8; 4] = [0xff; 4];

fn bad(what: String) -> ArrowError {
    ArrowError::ParseError(format!("malformed Arrow IPC file: {what}"))
}

/// `start + len` as a range of a slice of `size` bytes, if both are non-negative and it fits.
fn range(start: i64, len: i64, size: usize) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(start).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= size).then_some(start..end)
}

/// The message a footer block points to; checks first that the block lies in `file` and that its header
/// holds at least the 8-byte prefix arrow-ipc skips.
fn message<'a>(file: &'a [u8], block: &Block) -> std::result::Result<Message<'a>, ArrowError> {
    let (offset, meta_len, body_len) = (
        block.offset(),
        i64::from(block.metaDataLength()),
        block.bodyLength(),
    );
    let inside = meta_len >= 8
        && body_len >= 0
        && meta_len
            .checked_add(body_len)
            .and_then(|len| range(offset, len, file.len()))
            .is_some();
    if !inside {
        return Err(bad(format!(
            "block at offset {offset} ({meta_len} header and {body_len} body bytes) lies outside the file"
        )));
    }
    let header = &file[offset as usize..(offset + meta_len) as usize];
    let header = if header[..4] == CONTINUATION {
        &header[8..]
    } else {
        &header[4..]
    };
    arrow_ipc::root_as_message(header).map_err(|e| bad(format!("unreadable message header: {e}")))
}

/// What each buffer of a column holds, in the order an IPC body lists them.
#[derive(Clone, Copy)]
enum Part {
    /// Validity bits, values or string bytes: any length the decoder's own checks accept.
    Bytes,
    /// Offsets of this many bytes each. arrow-data reads an offsets buffer as a whole slice of them, and
    /// panics unless its length is a multiple of their size.
    Offsets(usize),
}

/// The buffers of one column of type `dt` (not counting its children's) and its children; an error for a
/// type no plan column has, whose layout is then not checked.
fn layout(dt: &DataType) -> std::result::Result<(&'static [Part], Vec<&Field>), ArrowError> {
    use DataType::*;
    use Part::*;
    Ok(match dt {
        Boolean | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Float16
        | Float32 | Float64 => (&[Bytes, Bytes], vec![]),
        Utf8 | Binary => (&[Bytes, Offsets(4), Bytes], vec![]),
        LargeUtf8 | LargeBinary => (&[Bytes, Offsets(8), Bytes], vec![]),
        List(item) => (&[Bytes, Offsets(4)], vec![item.as_ref()]),
        LargeList(item) => (&[Bytes, Offsets(8)], vec![item.as_ref()]),
        Struct(fields) => (&[Bytes], fields.iter().map(|f| f.as_ref()).collect()),
        other => return Err(bad(format!("a plan has no column of type {other}"))),
    })
}

/// Checks the buffers of `field` and its children, taken in order from `buffers`. Running out of
/// buffers is left to arrow-ipc, which reports it.
fn check_column<'b>(
    field: &Field,
    buffers: &mut impl Iterator<Item = &'b arrow_ipc::Buffer>,
) -> std::result::Result<(), ArrowError> {
    let (parts, children) = layout(field.data_type())?;
    for part in parts {
        match (part, buffers.next()) {
            (_, None) => return Ok(()),
            (Part::Offsets(size), Some(buf)) if buf.length() % *size as i64 != 0 => {
                return Err(bad(format!(
                    "column '{}' has an offsets buffer of {} bytes, not a whole number of {size}-byte \
                     offsets",
                    field.name(),
                    buf.length()
                )))
            }
            _ => {}
        }
    }
    children
        .into_iter()
        .try_for_each(|child| check_column(child, buffers))
}

/// Checks that every buffer and field node of the batch (or dictionary batch) in `msg` lies within its
/// body of `body_len` bytes, and that the columns of `schema` find buffers arrow can read in it.
fn check_message(
    msg: &Message,
    body_len: i64,
    schema: &Schema,
) -> std::result::Result<(), ArrowError> {
    let batch = match msg.header_type() {
        MessageHeader::RecordBatch => msg.header_as_record_batch(),
        MessageHeader::DictionaryBatch => msg.header_as_dictionary_batch().and_then(|d| d.data()),
        _ => None,
    };
    let Some(batch) = batch else {
        return Ok(());
    };
    // `message` checked that the body length is non-negative.
    let body = body_len as usize;
    for buf in batch.buffers().iter().flatten() {
        if range(buf.offset(), buf.length(), body).is_none() {
            return Err(bad(format!(
                "buffer of {} bytes at offset {} lies outside its {} byte message body",
                buf.length(),
                buf.offset(),
                body_len
            )));
        }
    }
    for node in batch.nodes().iter().flatten() {
        if node.length() < 0 || node.null_count() < 0 {
            return Err(bad(
                "a field node has a negative length or null count".into()
            ));
        }
    }
    if batch.length() < 0 {
        return Err(bad("a record batch has a negative length".into()));
    }
    // Compressed buffers have the lengths of their compressed bytes; arrow-ipc checks what they expand to.
    if batch.compression().is_none() && msg.header_type() == MessageHeader::RecordBatch {
        let mut buffers = batch.buffers().into_iter().flatten();
        for field in schema.fields() {
            check_column(field, &mut buffers)?;
        }
    }
    Ok(())
}

/// Checks the framing of an Arrow IPC file held in `file`: its magic, its footer, and that each block,
/// message body and buffer the footer leads to lies where it says.
pub(crate) fn check_framing(file: &[u8]) -> std::result::Result<(), ArrowError> {
    if file.len() < MAGIC.len() + TRAILER || !file.starts_with(MAGIC) || !file.ends_with(MAGIC) {
        return Err(bad("it does not start and end with ARROW1".into()));
    }
    let trailer = file.len() - TRAILER;
    let mut footer_len = [0; 4];
    footer_len.copy_from_slice(&file[trailer..trailer + 4]);
    let footer_len = i32::from_le_bytes(footer_len);
    let footer = usize::try_from(footer_len)
        .ok()
        .filter(|&len| len <= trailer - MAGIC.len())
        .map(|len| &file[trailer - len..trailer])
        .ok_or_else(|| {
            bad(format!(
                "footer length {footer_len} does not fit in the file"
            ))
        })?;
    let footer =
        arrow_ipc::root_as_footer(footer).map_err(|e| bad(format!("unreadable footer: {e}")))?;
    let schema = footer
        .schema()
        .ok_or_else(|| bad("the footer holds no schema".into()))?;
    let schema = arrow_ipc::convert::try_fb_to_schema(schema)?;
    let blocks = footer
        .dictionaries()
        .into_iter()
        .chain(footer.recordBatches());
    for block in blocks.flatten() {
        check_message(&message(file, block)?, block.bodyLength(), &schema)?;
    }
    Ok(())
}

impl Plan {
    /// Reads the packed plan batch of an Arrow IPC file (`infera compile -o plan.arrow`) from `source`.
    pub(crate) fn read_ipc_batch(mut source: impl Read + Seek) -> Result<RecordBatch> {
        let mut file = Vec::new();
        source.read_to_end(&mut file)?;
        check_framing(&file)?;
        let reader = arrow_ipc::reader::FileReader::try_new(Cursor::new(file), None)?;
        let schema = reader.schema();
        let mut batches = Vec::new();
        for b in reader {
            batches.push(b?);
        }
        match batches.len() {
            1 => {
                // The IPC reader attaches file-level metadata to the schema it returns; make sure the batch
                // sees it even if the writer put it only on the file schema.
                let batch = batches.pop().expect("one batch");
                if batch.schema().metadata().is_empty() {
                    Ok(batch.with_schema(schema)?)
                } else {
                    Ok(batch)
                }
            }
            n => Err(plan_err!(
                "a plan file holds exactly one record batch, this one has {}",
                n
            )
            .into()),
        }
    }
}
