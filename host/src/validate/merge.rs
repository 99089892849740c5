//! The one-pass merge of two key-ordered streams: both tables are read in
//! key order, page by page, and their heads compared. A key only in the base
//! is `target_missing`, only in the target `base_missing`, in both a pair
//! for the comparator. Pure logic over two buffers; the caller refills a
//! buffer when asked, so memory stays at a few pages per side.

use crate::db::key::cmp_keys;
use crate::db::Row;
use std::cmp::Ordering;
use std::collections::VecDeque;

#[derive(Debug, PartialEq)]
pub enum Step {
    OnlyBase(Row),
    OnlyTarget(Row),
    Both { base: Row, target: Row },
}

#[derive(Debug, PartialEq)]
pub enum Next {
    Step(Step),
    /// Refill this side's buffer (true: base) before going on.
    Refill { base: bool },
    Done,
}

/// One side's buffered rows and whether its stream has more.
#[derive(Debug, Default)]
pub struct Stream {
    pub rows: VecDeque<Row>,
    pub exhausted: bool,
}

impl Stream {
    fn needs_refill(&self) -> bool {
        self.rows.is_empty() && !self.exhausted
    }
}

/// The next step of the merge; rows carry their key in the first `key_len` values.
pub fn next(base: &mut Stream, target: &mut Stream, key_len: usize) -> Next {
    if base.needs_refill() {
        return Next::Refill { base: true };
    }
    if target.needs_refill() {
        return Next::Refill { base: false };
    }
    let order = match (base.rows.front(), target.rows.front()) {
        (None, None) => return Next::Done,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(b), Some(t)) => cmp_keys(&b[..key_len], &t[..key_len]),
    };
    Next::Step(match order {
        Ordering::Less => Step::OnlyBase(base.rows.pop_front().expect("head")),
        Ordering::Greater => Step::OnlyTarget(target.rows.pop_front().expect("head")),
        Ordering::Equal => Step::Both { base: base.rows.pop_front().expect("head"), target: target.rows.pop_front().expect("head") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use movex_guest::OwnedValue;

    fn rows(keys: &[i64]) -> Vec<Row> {
        keys.iter().map(|&k| vec![OwnedValue::Int(k), OwnedValue::Text(format!("v{k}"))]).collect()
    }

    /// Merge two sorted key lists fed in pages of `page`, as the validator does.
    fn merge(base: &[i64], target: &[i64], page: usize) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
        let (mut bsrc, mut tsrc) = (rows(base).into_iter(), rows(target).into_iter());
        let (mut b, mut t) = (Stream::default(), Stream::default());
        let (mut only_b, mut only_t, mut both) = (vec![], vec![], vec![]);
        let key = |r: &Row| match r[0] {
            OwnedValue::Int(k) => k,
            _ => unreachable!(),
        };
        let mut max_buffered = 0;
        loop {
            max_buffered = max_buffered.max(b.rows.len() + t.rows.len());
            match next(&mut b, &mut t, 1) {
                Next::Refill { base } => {
                    let (s, src) = if base { (&mut b, &mut bsrc) } else { (&mut t, &mut tsrc) };
                    let got: Vec<Row> = src.by_ref().take(page).collect();
                    s.exhausted = got.len() < page;
                    s.rows.extend(got);
                }
                Next::Step(Step::OnlyBase(r)) => only_b.push(key(&r)),
                Next::Step(Step::OnlyTarget(r)) => only_t.push(key(&r)),
                Next::Step(Step::Both { base, target }) => {
                    assert_eq!(base, target);
                    both.push(key(&base));
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
