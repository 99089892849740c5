//! The glue between the generated bindings and the author's types. `export!`
//! instantiates `Export<T, C, G, P>`, where each of `C`, `G`, `P` is `Real<T>`
//! for a capability the author listed and `Absent` otherwise, so one world
//! serves every combination and `describe` can never disagree with the exports.
//!
//! Bound instances live in a per-instance table indexed by handle; the host
//! binds each layout once per instance and then sends batches.

use crate::bindings::exports::movex::plugin::{comparator as wc, module as wm, policy as wp, tagger as wt};
use crate::bindings::movex::plugin::types as wty;
use crate::batch::{Scratch, compare_batch, tag_batch};
use crate::plugin::{Binding, Capability, Comparator, Plugin, Policy, Settings, Tagger};
use crate::policy::{Action, Stats};
use crate::row::{Column, Layout};
use crate::value::Kind;
use crate::verdict::Verdict;
use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

/// The type `export!` hands to the generated export macro.
pub struct Export<T, C, G, P>(PhantomData<(T, C, G, P)>);
/// A capability the author listed in `export!`.
pub struct Real<T>(PhantomData<T>);
/// A capability the author did not list: calls are refused.
pub struct Absent;

thread_local! {
    static BOUND: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            use crate::bindings::movex::plugin::host::{Level, log};
            // One line: "panicked at src/lib.rs:18:13: the message".
            log(Level::Error, &format!("panicked: {info}").replace('\n', " "));
        }));
    });
}

fn bind<B: 'static>(b: B) -> u32 {
    BOUND.with(|t| {
        let mut t = t.borrow_mut();
        t.push(Box::new(b));
        (t.len() - 1) as u32
    })
}

fn with_bound<B: 'static, R>(handle: u32, f: impl FnOnce(&mut B) -> Result<R, String>) -> Result<R, String> {
    BOUND.with(|t| {
        let mut t = t.borrow_mut();
        let b = t
            .get_mut(handle as usize)
            .and_then(|b| b.downcast_mut::<B>())
            .ok_or_else(|| format!("no binding with handle {handle} of this kind"))?;
        f(b)
    })
}

fn kind(k: wty::ValueKind) -> Kind {
    use wty::ValueKind as V;
    match k {
        V::Null => Kind::Null,
        V::Boolean => Kind::Bool,
        V::Int => Kind::Int,
        V::Uint => Kind::Uint,
        V::Float => Kind::Float,
        V::Decimal => Kind::Decimal,
        V::Text => Kind::Text,
        V::Bytes => Kind::Bytes,
        V::Date => Kind::Date,
        V::Time => Kind::Time,
        V::Timestamp => Kind::Timestamp,
        V::Json => Kind::Json,
    }
}

fn layout_of(b: &wty::Binding) -> Layout {
    let columns = b.columns.iter().map(|c| Column { name: c.name.clone(), kind: kind(c.kind) }).collect();
    Layout::new(b.table.clone(), columns)
}

/// A bound author's value with its layout and scratch space for row offsets.
struct Bound<T> {
    layout: Layout,
    inner: T,
    scratch: Scratch,
}

fn bind_with_layout<T: Plugin>(b: wty::Binding) -> Result<u32, String> {
    install_panic_hook();
    let layout = layout_of(&b);
    let settings = Settings(b.settings);
    let inner = T::bind(&Binding { table: &b.table, layout: Some(&layout), settings: &settings })
        .map_err(|e| e.0)?;
    Ok(bind(Bound { layout, inner, scratch: Scratch::default() }))
}

pub trait ComparatorSlot {
    const ON: bool;
    fn bind(b: wty::Binding) -> Result<u32, String>;
    fn compare(handle: u32, pairs: Vec<u8>) -> Result<Vec<wc::Finding>, String>;
}

impl<T: Comparator> ComparatorSlot for Real<T> {
    const ON: bool = true;
    fn bind(b: wty::Binding) -> Result<u32, String> {
        bind_with_layout::<T>(b)
    }
    fn compare(handle: u32, pairs: Vec<u8>) -> Result<Vec<wc::Finding>, String> {
        with_bound::<Bound<T>, _>(handle, |b| {
            let verdicts = compare_batch(&b.inner, &b.layout, &pairs, &mut b.scratch).map_err(|e| e.to_string())?;
            Ok(verdicts
                .into_iter()
                .map(|(index, v)| wc::Finding {
                    index,
                    outcome: match v {
                        Verdict::Different { columns, reason } => wc::Outcome::Different(wc::Difference { columns, reason }),
                        Verdict::Error(e) => wc::Outcome::Error(e),
                        Verdict::Equal => unreachable!("compare_batch returns only pairs that are not equal"),
                    },
                })
                .collect())
        })
    }
}

impl ComparatorSlot for Absent {
    const ON: bool = false;
    fn bind(_: wty::Binding) -> Result<u32, String> {
        Err("this module is not a comparator".into())
    }
    fn compare(_: u32, _: Vec<u8>) -> Result<Vec<wc::Finding>, String> {
        Err("this module is not a comparator".into())
    }
}

pub trait TaggerSlot {
    const ON: bool;
    fn bind(b: wty::Binding) -> Result<u32, String>;
    fn tag(handle: u32, rows: Vec<u8>) -> Result<Vec<Result<Option<String>, String>>, String>;
}

impl<T: Tagger> TaggerSlot for Real<T> {
    const ON: bool = true;
    fn bind(b: wty::Binding) -> Result<u32, String> {
        bind_with_layout::<T>(b)
    }
    fn tag(handle: u32, rows: Vec<u8>) -> Result<Vec<Result<Option<String>, String>>, String> {
        with_bound::<Bound<T>, _>(handle, |b| {
            let tags = tag_batch(&b.inner, &b.layout, &rows, &mut b.scratch).map_err(|e| e.to_string())?;
            Ok(tags.into_iter().map(|t| t.map_err(|e| e.0)).collect())
        })
    }
}

impl TaggerSlot for Absent {
    const ON: bool = false;
    fn bind(_: wty::Binding) -> Result<u32, String> {
        Err("this module is not a tagger".into())
    }
    fn tag(_: u32, _: Vec<u8>) -> Result<Vec<Result<Option<String>, String>>, String> {
        Err("this module is not a tagger".into())
    }
}

pub trait PolicySlot {
    const ON: bool;
    fn bind(settings: Vec<(String, String)>) -> Result<u32, String>;
    fn decide(handle: u32, stats: wp::Stats) -> Result<wp::Decision, String>;
}

impl<T: Policy> PolicySlot for Real<T> {
    const ON: bool = true;
    fn bind(settings: Vec<(String, String)>) -> Result<u32, String> {
        install_panic_hook();
        let settings = Settings(settings);
        let inner = T::bind(&Binding::settings(&settings)).map_err(|e| e.0)?;
        Ok(bind(inner))
    }
    fn decide(handle: u32, s: wp::Stats) -> Result<wp::Decision, String> {
        let pairs = |v: Vec<wp::Count>| v.into_iter().map(|c| (c.name, c.value)).collect();
        let stats = Stats {
            state: s.state,
            pattern: s.pattern,
            full_runs: s.full_runs,
            incr_runs: s.incr_runs,
            consecutive_clean_runs: s.consecutive_clean_runs,
            rows_checked: s.rows_checked,
            discrepancies: pairs(s.discrepancies),
            errors: pairs(s.errors),
            repairs: pairs(s.repairs),
            copy: pairs(s.copy),
            time_in_state_ms: s.time_in_state_ms,
        };
        with_bound::<T, _>(handle, |p| {
            let d = p.decide(&stats);
            let action = match d.action {
                Action::Stay => wp::Action::Stay,
                Action::Promote(to) => wp::Action::Promote(to),
                Action::Rollback(to) => wp::Action::Rollback(to),
                Action::Pause => wp::Action::Pause,
            };
            Ok(wp::Decision { action, reason: d.reason })
        })
    }
}

impl PolicySlot for Absent {
    const ON: bool = false;
    fn bind(_: Vec<(String, String)>) -> Result<u32, String> {
        Err("this module is not a policy".into())
    }
    fn decide(_: u32, _: wp::Stats) -> Result<wp::Decision, String> {
        Err("this module is not a policy".into())
    }
}

impl<T: Plugin, C: ComparatorSlot, G: TaggerSlot, P: PolicySlot> wm::Guest for Export<T, C, G, P> {
    fn describe() -> wm::Description {
        install_panic_hook();
        let d = T::describe();
        let caps = [(C::ON, Capability::Comparator), (G::ON, Capability::Tagger), (P::ON, Capability::Policy)];
        let capabilities = caps
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| match c {
                Capability::Comparator => wm::Capability::Comparator,
                Capability::Tagger => wm::Capability::Tagger,
                Capability::Policy => wm::Capability::Policy,
            })
            .collect();
        wm::Description { name: d.name, version: d.version, capabilities, entities: d.entities, summary: d.summary }
    }
}

impl<T: Plugin, C: ComparatorSlot, G: TaggerSlot, P: PolicySlot> wc::Guest for Export<T, C, G, P> {
    fn bind(binding: wty::Binding) -> Result<u32, String> {
        C::bind(binding)
    }
    fn compare(layout: u32, pairs: Vec<u8>) -> Result<Vec<wc::Finding>, String> {
        C::compare(layout, pairs)
    }
}

impl<T: Plugin, C: ComparatorSlot, G: TaggerSlot, P: PolicySlot> wt::Guest for Export<T, C, G, P> {
    fn bind(binding: wty::Binding) -> Result<u32, String> {
        G::bind(binding)
    }
    fn tag(layout: u32, rows: Vec<u8>) -> Result<Vec<Result<Option<String>, String>>, String> {
        G::tag(layout, rows)
    }
}

impl<T: Plugin, C: ComparatorSlot, G: TaggerSlot, P: PolicySlot> wp::Guest for Export<T, C, G, P> {
    fn bind(settings: Vec<(String, String)>) -> Result<u32, String> {
        P::bind(settings)
    }
    fn decide(policy: u32, stats: wp::Stats) -> Result<wp::Decision, String> {
        P::decide(policy, stats)
    }
}

/// Export a module: `movex_guest::export!(MyType, comparator, tagger);`
/// Capabilities: `comparator`, `tagger`, `policy` (any order, at least one).
/// Expands to nothing on native targets, so the same crate unit-tests natively.
#[macro_export]
macro_rules! export {
    ($ty:ty $(, $cap:ident)+ $(,)?) => {
        $( $crate::__check_capability!($cap); )+
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type __MovexExport = $crate::export::Export<
                $ty,
                $crate::__pick!(comparator, $ty; $($cap)+),
                $crate::__pick!(tagger, $ty; $($cap)+),
                $crate::__pick!(policy, $ty; $($cap)+),
            >;
            $crate::bindings::__export_plugin!(__MovexExport with_types_in $crate::bindings);
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __check_capability {
    (comparator) => {};
    (tagger) => {};
    (policy) => {};
    ($other:ident) => {
        compile_error!(concat!(
            "unknown capability `", stringify!($other), "`: expected comparator, tagger or policy"
        ));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __pick {
    ($want:ident, $ty:ty; ) => { $crate::export::Absent };
    (comparator, $ty:ty; comparator $($rest:ident)*) => { $crate::export::Real<$ty> };
    (tagger, $ty:ty; tagger $($rest:ident)*) => { $crate::export::Real<$ty> };
    (policy, $ty:ty; policy $($rest:ident)*) => { $crate::export::Real<$ty> };
    ($want:ident, $ty:ty; $other:ident $($rest:ident)*) => { $crate::__pick!($want, $ty; $($rest)*) };
}
