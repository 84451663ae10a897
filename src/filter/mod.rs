//! RFC 7644 §3.4.2.2 filters: grammar → AST, evaluation against a resource, and the
//! attribute/PATCH path syntax shared by PATCH and mapping.

mod ast;
mod eval;
mod parser;

pub use ast::{AttrPath, CompareOp, Filter, Literal, PatchPath};
pub use eval::{compile, compile_for_root, compile_value, matches, matches_value, CompiledFilter};
pub use parser::{parse_filter, parse_path, MAX_DEPTH, MAX_FILTER_LEN};
