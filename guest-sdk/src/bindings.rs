//! The one `generate!` call: guest bindings for `wit/plugin.wit`. The export
//! macro is public so `movex_guest::export!` can drive it from the author's
//! crate; authors never name anything in here.

wit_bindgen::generate!({
    path: "wit",
    world: "plugin",
    pub_export_macro: true,
    export_macro_name: "__export_plugin",
    default_bindings_module: "::movex_guest::bindings",
    runtime_path: "::movex_guest::__wit_bindgen::rt",
});
