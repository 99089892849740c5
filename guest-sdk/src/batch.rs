//! The batch loops: decode a batch in the row encoding and run a comparator
//! or tagger over it. The export glue runs these inside wasm; they are plain
//! Rust, so the host's benchmark runs the very same code natively.

use crate::codec::{DecodeError, Reader};
use crate::error::Error;
use crate::plugin::{Comparator, Tagger};
use crate::row::{Layout, Row};
use crate::verdict::Verdict;

/// Reusable offset buffers, so decoding a batch allocates nothing per row.
#[derive(Debug, Default)]
pub struct Scratch {
    src: Vec<u32>,
    dst: Vec<u32>,
}

#[inline]
fn index_row(r: &mut Reader<'_>, columns: usize, offsets: &mut Vec<u32>) -> Result<(), DecodeError> {
    offsets.clear();
    for _ in 0..columns {
        offsets.push(r.skip()? as u32);
    }
    offsets.push(r.position() as u32);
    Ok(())
}

/// Compare every pair of a comparator batch; returns the pairs that are not
/// equal, by position.
pub fn compare_batch<C: Comparator>(
    comparator: &C,
    layout: &Layout,
    bytes: &[u8],
    scratch: &mut Scratch,
) -> Result<Vec<(u32, Verdict)>, DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.count()?;
    let cols = layout.columns.len();
    let mut out = Vec::new();
    for index in 0..n {
        index_row(&mut r, cols, &mut scratch.src)?;
        index_row(&mut r, cols, &mut scratch.dst)?;
        let src = Row::new(layout, bytes, &scratch.src);
        let dst = Row::new(layout, bytes, &scratch.dst);
        match comparator.compare(&src, &dst) {
            Verdict::Equal => {}
            v => out.push((index, v)),
        }
    }
    Ok(out)
}

/// Tag every row of a tagger batch, in order. A row the tagger fails on gets
/// its error; the other rows are still tagged.
pub fn tag_batch<T: Tagger>(
    tagger: &T,
    layout: &Layout,
    bytes: &[u8],
    scratch: &mut Scratch,
) -> Result<Vec<Result<Option<String>, Error>>, DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.count()?;
    let cols = layout.columns.len();
    let mut tags = Vec::with_capacity(n as usize);
    for _ in 0..n {
        index_row(&mut r, cols, &mut scratch.src)?;
        tags.push(tagger.tag(&Row::new(layout, bytes, &scratch.src)));
    }
    Ok(tags)
}
