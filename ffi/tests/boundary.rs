//! Source checks of the boundary (`ffi/src/`) and of the core's `unsafe` ban:
//! - every `extern "C"` function (the C shells, `ffi/src/c/`) is `#[no_mangle]`, prefixed
//!   `scv2_`, and its body starts with the one boundary macro `ffi_boundary!` (`catch_unwind`),
//!   so that no panic unwinds into C;
//! - every JNI function is made by the `natives!` table macro (`ffi/src/natives.rs`), whose
//!   expansion puts the body inside `jni_boundary!` (one `catch_unwind`); no other file declares
//!   an `extern "system"` function, and the JNI side never calls the C exports;
//! - every `unsafe` block has a `// SAFETY:` comment directly above it;
//! - the safe rooms (`bridge/`, `handles.rs`) forbid `unsafe`, and the core crate forbids it as a
//!   whole.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn sources(dir: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&root().join(dir), &mut files);
    files.sort();
    assert!(!files.is_empty(), "no sources in {dir}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// The code of a line (without a trailing `//` comment).
fn code(line: &str) -> &str {
    line.split("//").next().unwrap_or_default()
}

#[test]
fn every_extern_c_function_goes_through_the_boundary_macro() {
    let mut checked = 0;
    for (path, text) in sources("ffi/src") {
        let mut rest = text.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let in_c = path.starts_with(root().join("ffi/src/c"));
            assert!(in_c, "{}: extern \"C\" outside ffi/src/c/", path.display());
            let after = &rest[at..];
            let name: String = after["extern \"C\" fn ".len()..]
                .chars()
                .take_while(|c| *c == '_' || c.is_ascii_alphanumeric())
                .collect();
            let attrs: Vec<&str> = rest[..at].lines().rev().skip(1).take(3).collect();
            assert!(
                attrs.iter().any(|l| l.trim() == "#[no_mangle]"),
                "{}: {name} is not #[no_mangle]",
                path.display()
            );
            assert!(name.starts_with("scv2_"), "{name} lacks the scv2_ prefix");
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
    assert!(checked >= 45, "only {checked} extern \"C\" functions found");
}

#[test]
fn every_jni_function_is_made_by_the_table_macro_inside_the_boundary() {
    let natives = root().join("ffi/src/natives.rs");
    for (path, text) in sources("ffi/src") {
        let lines = text
            .lines()
            .filter(|l| code(l).contains("extern \"system\""));
        let n = lines.count();
        if path == natives {
            assert_eq!(
                n, 1,
                "natives.rs: one extern \"system\" fn, inside natives!"
            );
        } else {
            assert_eq!(
                n,
                0,
                "{}: extern \"system\" outside the table",
                path.display()
            );
        }
    }
    let text = std::fs::read_to_string(&natives).unwrap();
    let def = &text[text.find("macro_rules! natives").expect("natives!")..];
    let def = &def[..def.find("\n}\n").expect("end of natives!")];
    let f = &def[def.find("extern \"system\" fn $name(").expect("the fn")..];
    let body = &f[f.find('{').unwrap() + 1..];
    assert!(
        body.trim_start().starts_with("jni_boundary!("),
        "the natives! functions must start with jni_boundary!("
    );
    assert!(def.contains("#[export_name = concat!(\"Java_io_scv2_\""));
    // The boundary itself: one catch_unwind around the body, every failure thrown.
    let jni = std::fs::read_to_string(root().join("ffi/src/jni/mod.rs")).unwrap();
    let b = &jni[jni
        .find("macro_rules! jni_boundary")
        .expect("jni_boundary!")..];
    let b = &b[..b.find("\n}\n").expect("end of jni_boundary!")];
    assert!(
        b.contains("catch_unwind"),
        "jni_boundary! must catch panics"
    );
    assert!(b.contains("env.fail("), "jni_boundary! must throw failures");
    // JNI sits beside the C layer: it never calls an exported C function.
    for file in ["ffi/src/natives.rs", "ffi/src/jni/mod.rs"] {
        let t = std::fs::read_to_string(root().join(file)).unwrap();
        for line in t.lines().map(code) {
            assert!(
                !line.contains("scv2_client_") && !line.contains("scv2_server_")
                    || line.contains("Handle<scv2_")
                    || line.contains("Owned<scv2_"),
                "{file} calls the C ABI: {line}"
            );
        }
    }
    assert!(scv2_ffi::natives::DECLARATIONS.len() >= 35);
}

#[test]
fn every_unsafe_block_has_a_safety_comment() {
    let mut files = sources("ffi/src");
    files.extend(sources("tests/support/src"));
    for (path, text) in files {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !code(line).contains("unsafe {") {
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

#[test]
fn unsafe_is_confined_to_the_boundary() {
    // The core: forbidden crate-wide, and never re-allowed.
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    assert!(lib.contains("#![forbid(unsafe_code)]"));
    for (path, text) in sources("src") {
        assert!(
            !text.contains("allow(unsafe_code)") && !text.contains("unsafe {"),
            "{} has unsafe code",
            path.display()
        );
    }
    // The boundary's safe rooms.
    let mut safe = sources("ffi/src/bridge");
    safe.push((
        root().join("ffi/src/handles.rs"),
        std::fs::read_to_string(root().join("ffi/src/handles.rs")).unwrap(),
    ));
    for (path, text) in safe {
        assert!(
            text.contains("#![forbid(unsafe_code)]"),
            "{} does not forbid unsafe code",
            path.display()
        );
    }
}
