//! `#[needs_tool("tansu")]` on a test: ignored where the build of the tests
//! did not find the tool (`has_tool`, set by `tests/build.rs`), with a
//! reason that names the command installing it, as `tests/support/tools.rs`
//! writes it (the one place it is written). Put it above `#[test]` or
//! `#[tokio::test]`: it must be expanded before the test harness reads
//! `#[ignore]`. std only: no syn or quote for one attribute.

use proc_macro::{TokenStream, TokenTree};
use std::str::FromStr;

#[allow(dead_code)] // `found` and `require` are for the build script and the tests
#[path = "../../support/tools.rs"]
mod tools;

/// `#[needs_tool("a", "b", ...)]`: one `#[cfg_attr(..., ignore = "...")]`
/// per tool, their conditions exclusive (the first missing tool is the
/// reason), so a test gets at most one `ignore`.
#[proc_macro_attribute]
pub fn needs_tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut names = Vec::new();
    for token in attr {
        match token {
            TokenTree::Literal(lit) => {
                let text = lit.to_string();
                let Some(name) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
                    return error(&format!("needs_tool takes tool names as strings, not {text}"));
                };
                names.push(name.to_owned());
            }
            TokenTree::Punct(p) if p.as_char() == ',' => {}
            other => return error(&format!("needs_tool takes tool names as strings, not `{other}`")),
        }
    }
    if names.is_empty() {
        return error("needs_tool needs the name of a tool in tests/support/tools.rs");
    }
    let mut attrs = String::new();
    for (i, name) in names.iter().enumerate() {
        let Some(tool) = tools::TOOLS.iter().find(|t| t.name == name) else {
            let known: Vec<&str> = tools::TOOLS.iter().map(|t| t.name).collect();
            return error(&format!("no tool {name:?} in tests/support/tools.rs (there are {known:?})"));
        };
        let found_before: String = names[..i].iter().map(|n| format!("has_tool = {n:?}, ")).collect();
        let reason = format!("needs {}, missing when the tests were built; install it: {}", tool.name, tool.install);
        attrs.push_str(&format!("#[cfg_attr(all({found_before}not(has_tool = {name:?})), ignore = {reason:?})]\n"));
    }
    let mut out = TokenStream::from_str(&attrs).expect("attributes");
    out.extend(item);
    out
}

fn error(msg: &str) -> TokenStream {
    TokenStream::from_str(&format!("compile_error!({msg:?});")).expect("compile_error")
}
