//! Link settings that keep the agent's resident image small: hot functions together (see scripts/hot-symbols.sh), packed relocations.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

const HOT_SYMBOLS: &str = "dist/hot-symbols.txt";

fn main() {
    println!("cargo:rerun-if-changed={HOT_SYMBOLS}");
    println!("cargo:rerun-if-changed=build.rs");
    // Release builds only (the agent people run), and only where rustc links
    // with lld by default (x86_64 Linux GNU since Rust 1.90): lld takes a
    // linker script that only adds one output section (INSERT BEFORE).
    let release = env::var("PROFILE").as_deref() == Ok("release");
    let lld_target = env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu");
    if !(release && lld_target) {
        return;
    }
    // Relative relocations packed as DT_RELR (glibc 2.36, Debian 12): the
    // agent's ~15,000 pointers into its own image take a few KiB instead of
    // a 370 KiB .rela.dyn that the loader reads, and keeps resident, at
    // every start.
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    let (Ok(dir), Some(out)) = (env::var("CARGO_MANIFEST_DIR"), env::var_os("OUT_DIR")) else {
        return;
    };
    let Ok(list) = fs::read_to_string(PathBuf::from(dir).join(HOT_SYMBOLS)) else {
        return;
    };
    // rustc puts every function in its own section, `.text.<symbol>`. Each
    // line of the list is a symbol, or, where that is unambiguous, a glob
    // with the symbol's hash replaced by `*` (hashes change with dependency
    // versions and compiler flags).
    let mut script = String::from("SECTIONS {\n  .text.hot : {\n");
    let is_pattern = |l: &&str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.$*".contains(c))
    };
    for symbol in list.lines().map(str::trim).filter(is_pattern) {
        // LLVM puts functions it guesses are rarely run (`main`, the
        // config loader) in `.text.unlikely.<symbol>`.
        let _ = writeln!(script, "    *(.text.{symbol} .text.unlikely.{symbol})");
    }
    script.push_str("  }\n}\nINSERT BEFORE .text;\n");
    let path = PathBuf::from(out).join("hot-text.ld");
    if fs::write(&path, script).is_ok() {
        println!(
            "cargo:rustc-link-arg-bin=podroute=-Wl,-T,{}",
            path.display()
        );
    }
}
