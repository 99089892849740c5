//! The one `bindgen!` call: host bindings for `guest-sdk/wit/plugin.wit`, the
//! contract both sides point at.
// The generated `types::add_to_linker` has nothing to add and leaves its
// parameters unused.
#![allow(unused_variables)]

wasmtime::component::bindgen!({
    path: "../guest-sdk/wit",
    world: "plugin",
});

pub use exports::movex::plugin::{comparator, module, policy, tagger};
pub use movex::plugin::{host, types};
