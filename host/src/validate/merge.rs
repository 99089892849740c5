//! The one-pass merge of two key-ordered streams: both tables are read in
//! key order, page by page, and their heads compared. A key only in the base
//! is `target_missing`, only in the target `base_missing`, in both a pair
//! for the comparator. Pure logic over two buffers; the caller refills a
//! buffer when asked, so memory stays at a few pages per side.

use crate::db::rows::{RowRef, Rows, cmp_row_keys};
use std::cmp::Ordering;
use std::collections::VecDeque;

/// Which heads the next step takes: the caller reads them with
/// [`Stream::head`], then moves past them with [`Stream::advance`].
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Step {
    OnlyBase,
    OnlyTarget,
    Both,
}

#[derive(Debug, PartialEq)]
pub enum Next {
    Step(Step),
    /// Refill this side's buffer (true: base) before going on.
    Refill { base: bool },
    Done,
}

/// One side's buffered pages, where it stands in the first, and whether
/// its stream has more.
#[derive(Debug, Default)]
pub struct Stream {
    pages: VecDeque<Rows>,
    pos: usize,
    pub exhausted: bool,
    /// The last page merged through, for its reader to fill again.
    pub spent: Option<Rows>,
}

impl Stream {
    pub fn push(&mut self, page: Rows) {
        if !page.is_empty() {
            self.pages.push_back(page);
        }
    }

    /// The first row not yet merged.
    pub fn head(&self) -> Option<RowRef<'_>> {
        self.pages.front().map(|p| p.row(self.pos))
    }

    /// Move past the head.
    pub fn advance(&mut self) {
        let Some(front) = self.pages.front() else { return };
        self.pos += 1;
        if self.pos == front.len() {
            self.spent = self.pages.pop_front();
            self.pos = 0;
        }
    }

    /// Rows buffered and not yet merged.
    pub fn buffered(&self) -> usize {
        self.pages.iter().map(Rows::len).sum::<usize>() - self.pos
    }

    fn needs_refill(&self) -> bool {
        self.pages.is_empty() && !self.exhausted
    }
}

/// The next step of the merge; rows carry their key in the first `key_len` values.
pub fn next(base: &Stream, target: &Stream, key_len: usize) -> Next {
    if base.needs_refill() {
        return Next::Refill { base: true };
    }
    if target.needs_refill() {
        return Next::Refill { base: false };
    }
    Next::Step(match (base.head(), target.head()) {
        (None, None) => return Next::Done,
        (Some(_), None) => Step::OnlyBase,
        (None, Some(_)) => Step::OnlyTarget,
        (Some(b), Some(t)) => match cmp_row_keys(b, t, key_len) {
            Ordering::Less => Step::OnlyBase,
            Ordering::Greater => Step::OnlyTarget,
            Ordering::Equal => Step::Both,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Row;
    use movex_guest::OwnedValue;

    fn rows(keys: &[i64]) -> Vec<Row> {
        keys.iter().map(|&k| vec![OwnedValue::Int(k), OwnedValue::Text(format!("v{k}"))]).collect()
    }

    /// Merge two sorted key lists fed in pages of `page`, as the validator does.
    fn merge(base: &[i64], target: &[i64], page: usize) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
        let (mut bsrc, mut tsrc) = (rows(base).into_iter(), rows(target).into_iter());
        let (mut b, mut t) = (Stream::default(), Stream::default());
        let (mut only_b, mut only_t, mut both) = (vec![], vec![], vec![]);
        let key = |s: &Stream| match s.head().expect("a head").to_row()[0] {
            OwnedValue::Int(k) => k,
            _ => unreachable!(),
        };
        let mut max_buffered = 0;
        loop {
            max_buffered = max_buffered.max(b.buffered() + t.buffered());
            match next(&b, &t, 1) {
                Next::Refill { base } => {
                    let (s, src) = if base { (&mut b, &mut bsrc) } else { (&mut t, &mut tsrc) };
                    let got: Vec<Row> = src.by_ref().take(page).collect();
                    s.exhausted = got.len() < page;
                    s.push(Rows::from_rows(&got));
                }
                Next::Step(Step::OnlyBase) => {
                    only_b.push(key(&b));
                    b.advance();
                }
                Next::Step(Step::OnlyTarget) => {
                    only_t.push(key(&t));
                    t.advance();
                }
                Next::Step(Step::Both) => {
                    assert_eq!(b.head().unwrap().bytes(), t.head().unwrap().bytes());
                    both.push(key(&b));
                    b.advance();
                    t.advance();
                }
                Next::Done => break,
            }
        }
        assert!(max_buffered <= 2 * page, "buffers stay within a page per side");
        (only_b, only_t, both)
    }

    #[test]
    fn keys_only_on_one_side_and_on_both_are_told_apart_across_pages() {
        let base = [-5, -1, 0, 1, 2, 3, 7, 8, 9, 20];
        let target = [-5, 0, 2, 3, 4, 5, 9, 21, 22];
        for page in [1, 2, 3, 100] {
            let (b, t, both) = merge(&base, &target, page);
            assert_eq!(b, [-1, 1, 7, 8, 20], "page {page}");
            assert_eq!(t, [4, 5, 21, 22], "page {page}");
            assert_eq!(both, [-5, 0, 2, 3, 9], "page {page}");
        }
    }

    #[test]
    fn an_empty_side_makes_every_key_missing_on_it() {
        assert_eq!(merge(&[1, 2], &[], 1), (vec![1, 2], vec![], vec![]));
        assert_eq!(merge(&[], &[3], 5), (vec![], vec![3], vec![]));
        assert_eq!(merge(&[], &[], 5), (vec![], vec![], vec![]));
    }
}
