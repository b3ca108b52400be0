//! Source checks of the C boundary in `src/ffi/`:
//! - every `extern "C"` function's body starts with the one boundary macro `ffi_boundary!`
//!   (`catch_unwind`), so that no panic unwinds into C;
//! - every `unsafe` block has a `// SAFETY:` comment directly above it;
//! - every exported symbol is `#[no_mangle]` and prefixed `scv2_`;
//! - every `extern "system"` (JNI) function of `src/ffi/jni.rs` is `#[no_mangle]`, named
//!   `Java_io_scv2_…`, and its body starts with `jni_boundary!(`, which is built on
//!   `ffi_boundary!` and `EnvUnowned::with_env` (both `catch_unwind`), so no panic unwinds into
//!   the JVM.

use std::path::{Path, PathBuf};

fn ffi_sources() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "no sources in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[test]
fn every_extern_c_function_goes_through_the_boundary_macro() {
    let mut checked = 0;
    for (path, text) in ffi_sources() {
        let mut rest = text.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let after = &rest[at..];
            let name: String = after["extern \"C\" fn ".len()..]
                .chars()
                .take_while(|c| *c == '_' || c.is_ascii_alphanumeric())
                .collect();
            let before = &rest[..at];
            let attrs: Vec<&str> = before.lines().rev().skip(1).take(3).collect();
            assert!(
                attrs.iter().any(|l| l.trim() == "#[no_mangle]"),
                "{}: {name} is not #[no_mangle]",
                path.display()
            );
            assert!(
                name.starts_with("scv2_"),
                "{}: {name} lacks the scv2_ prefix",
                path.display()
            );
            let open = after.find('{').expect("function body");
            let body = after[open + 1..].trim_start();
            assert!(
                body.starts_with("ffi_boundary!("),
                "{}: the body of {name} does not start with ffi_boundary!(",
                path.display()
            );
            checked += 1;
            rest = &after[open..];
        }
    }
    assert!(checked >= 30, "only {checked} extern \"C\" functions found");
}

#[test]
fn every_extern_system_function_goes_through_the_jni_boundary() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi/jni.rs");
    let text = std::fs::read_to_string(&path).unwrap();
    // The boundary macro itself: both catch_unwind layers, nothing else exported around them.
    let def = &text[text
        .find("macro_rules! jni_boundary")
        .expect("jni_boundary! macro")..];
    let def = &def[..def.find("\n}\n").expect("end of jni_boundary!")];
    assert!(
        def.contains("$crate::ffi_boundary!("),
        "jni_boundary! must use ffi_boundary!"
    );
    assert!(
        def.contains(".with_env("),
        "jni_boundary! must use EnvUnowned::with_env"
    );
    // No other way out of the file: neither extern "C" nor a JNI function outside the check.
    assert!(
        !text.contains("extern \"C\" fn "),
        "jni.rs exports an extern \"C\" function"
    );
    let mut checked = 0;
    let mut rest = text.as_str();
    while let Some(at) = rest.find("extern \"system\" fn ") {
        let after = &rest[at..];
        let name: String = after["extern \"system\" fn ".len()..]
            .chars()
            .take_while(|c| *c == '_' || c.is_ascii_alphanumeric())
            .collect();
        let attrs: Vec<&str> = rest[..at].lines().rev().skip(1).take(4).collect();
        assert!(
            attrs.iter().any(|l| l.trim() == "#[no_mangle]"),
            "jni.rs: {name} is not #[no_mangle]"
        );
        assert!(
            name.starts_with("Java_io_scv2_"),
            "jni.rs: {name} is not a JNI function of package io.scv2"
        );
        let open = after.find('{').expect("function body");
        let body = after[open + 1..].trim_start();
        assert!(
            body.starts_with("jni_boundary!("),
            "jni.rs: the body of {name} does not start with jni_boundary!("
        );
        checked += 1;
        rest = &after[open..];
    }
    assert!(
        checked >= 30,
        "only {checked} extern \"system\" functions found"
    );
}

#[test]
fn every_unsafe_block_has_a_safety_comment() {
    for (path, text) in ffi_sources() {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if !code.contains("unsafe {") {
                continue;
            }
            // The comment block directly above the line must contain `SAFETY:`.
            let mut j = i;
            let mut found = false;
            while j > 0 && lines[j - 1].trim_start().starts_with("//") {
                j -= 1;
                if lines[j].trim_start().starts_with("// SAFETY:") {
                    found = true;
                    break;
                }
            }
            assert!(
                found,
                "{}:{}: unsafe block without a `// SAFETY:` comment directly above",
                path.display(),
                i + 1
            );
        }
    }
}

/// Every Rust source under `src/` except `src/ffi/` (and `lib.rs`, which denies it crate-wide).
fn non_ffi_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "ffi") {
                non_ffi_sources(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("src/lib.rs") {
            out.push(p);
        }
    }
}

#[test]
fn unsafe_is_confined_to_the_ffi_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(lib.contains("#![deny(unsafe_code)]"));
    let mut files = Vec::new();
    non_ffi_sources(&src, &mut files);
    assert!(
        files
            .iter()
            .any(|p| p.ends_with("primitives/rustcrypto.rs")),
        "subdirectories are searched"
    );
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("#![forbid(unsafe_code)]"),
            "{} does not forbid unsafe code",
            p.display()
        );
    }
    let (_, m) = ffi_sources()
        .into_iter()
        .find(|(p, _)| p.ends_with("mod.rs"))
        .unwrap();
    assert!(m.contains("#![allow(unsafe_code)]"));
}
