//! The `zeroipc` command-line tool.
fn main() {}
