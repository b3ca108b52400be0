//! The files the boundary generates from the core, and the check that they are up to date:
//!
//! - `ffi/src/c/generated.rs`: the C ABI's status codes (from `scv2::ALL_ERRORS`) and the lengths
//!   the core defines (body offset, key, IV, id lengths) and the token table's capacity;
//! - `bindings/kotlin/.../Status.kt`: the Kotlin `Status` enum (from `scv2::ALL_ERRORS`);
//! - `bindings/kotlin/.../Native.kt`: the `external fun` declarations between the markers (from
//!   the JNI table, `scv2_ffi::natives::DECLARATIONS`);
//! - `bindings/swift/Sources/SecureChannel/Scv2Error.swift`: the Swift `Scv2Error` enum.
//!
//! Each test renders its file in memory and fails when the checked-in one differs;
//! `scripts/gen-header.sh` runs them with `SCV2_BLESS=1`, which writes the files instead (the
//! libsignal `--verify` pattern).

use std::fmt::Write as _;
use std::path::PathBuf;

use scv2::{Error, ALL_ERRORS};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Compare `rendered` with the checked-in `path` (relative to the repository), or write it with
/// `SCV2_BLESS=1`.
fn check(path: &str, rendered: &str) {
    let path = root().join(path);
    if std::env::var_os("SCV2_BLESS").is_some() {
        std::fs::write(&path, rendered).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != rendered {
        let line = checked_in
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_string(), |n| format!("line {}", n + 1));
        panic!(
            "{} is out of date (first difference at {line}); run scripts/gen-header.sh",
            path.display()
        );
    }
}

/// Replace the text between `begin` and `end` (marker lines kept) in `text`.
fn splice(text: &str, begin: &str, end: &str, body: &str) -> String {
    let b = text
        .find(begin)
        .unwrap_or_else(|| panic!("marker {begin:?} missing"));
    let b = b + begin.len();
    let e = text[b..]
        .find(end)
        .unwrap_or_else(|| panic!("marker {end:?} missing"))
        + b;
    format!("{}\n{}{}", &text[..b], body, &text[e..])
}

/// `SCV2_MALFORMED_ENVELOPE`, ...
fn c_name(e: Error) -> String {
    format!("SCV2_{}", e.name().to_ascii_uppercase())
}

/// What the C ABI adds to the core's description of an error.
fn c_note(e: Error) -> &'static str {
    match e {
        Error::BufferTooSmall => " In the C ABI, `*out_len` holds the size needed.",
        Error::PayloadTooLarge => " In the C ABI, decided before the pointer is read.",
        Error::InvalidArgument => " In the C ABI, also a NULL pointer where one is required.",
        Error::InvalidState => {
            " In the C ABI, also an unknown or already answered sequence number, or a full table \
             of outstanding requests."
        }
        Error::Internal => " A caught panic is reported as this too.",
        _ => "",
    }
}

/// Wrap `text` into `//`-style comment lines of at most 100 columns.
fn wrap(prefix: &str, text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(prefix);
    for word in text.split_whitespace() {
        if line.len() > prefix.len() && line.len() + 1 + word.len() > 100 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(prefix);
        }
        if line.len() > prefix.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn render_c_constants() -> String {
    let mut s = String::from(
        "//! Generated from the core by `ffi/tests/generated.rs` (`scripts/gen-header.sh`); do not \
         edit.\n//! The status codes are `scv2::ALL_ERRORS`; the lengths are the core's constants \
         and the token\n//! table's capacity. A test fails when this file differs from what they \
         say.\n\nuse super::scv2_status;\n",
    );
    for e in ALL_ERRORS {
        s.push('\n');
        s.push_str(&wrap("/// ", &format!("{}{}", e.doc(), c_note(e))));
        let _ = writeln!(s, "pub const {}: scv2_status = {};", c_name(e), e.code());
    }
    let lengths: [(&str, usize, &str); 6] = [
        (
            "SCV2_MAX_OUTSTANDING",
            scv2_ffi::table::MAX_OUTSTANDING,
            "The most requests a session handle tracks at once: requests sealed by a client \
             session and not yet answered (`scv2_client_open_response` succeeded) or forgotten \
             (`scv2_client_forget_request`), or requests opened by a server session and not yet \
             answered (`scv2_server_seal_response` succeeded) or forgotten. The table is \
             allocated once when the session handle is created and never grows; when it is full, \
             sealing (client) or opening (server) returns `SCV2_INVALID_STATE` and changes \
             nothing.",
        ),
        (
            "SCV2_BODY_OFFSET",
            scv2::BODY_OFFSET_IN_PLACE,
            "Where the body starts inside the buffer of the in-place calls (after the 4-byte \
             header and the 12-byte IV).",
        ),
        (
            "SCV2_KEY_LEN",
            scv2::primitives::X25519_LEN,
            "Length of an X25519 public or private key.",
        ),
        (
            "SCV2_IV1_LEN",
            scv2::primitives::NONCE_LEN,
            "Length of `iv1` (test-vector entry points).",
        ),
        (
            "SCV2_MAX_KEY_ID_LEN",
            scv2::MAX_KEY_ID_LEN,
            "The longest key id (bytes).",
        ),
        (
            "SCV2_MAX_SESSION_ID_LEN",
            scv2::MAX_SESSION_ID_LEN,
            "The longest session id (bytes).",
        ),
    ];
    for (name, value, doc) in lengths {
        s.push('\n');
        s.push_str(&wrap("/// ", doc));
        let _ = writeln!(s, "pub const {name}: usize = {value};");
    }
    for suite in scv2::Suite::ALL {
        let name = format!(
            "SCV2_SUITE_{}",
            suite.name().split('-').next().unwrap_or_default()
        );
        s.push('\n');
        s.push_str(&wrap(
            "/// ",
            &format!(
                "The suite {} (SPEC.md), as the `suite` argument of the `*_suite*` functions: \
                 public key {} bytes, private key {} bytes.",
                suite.name(),
                suite.public_key_len(),
                suite.private_key_len()
            ),
        ));
        let _ = writeln!(s, "pub const {name}: u32 = {};", suite.id());
    }
    s
}

#[test]
fn c_constants_are_the_cores() {
    check("ffi/src/c/generated.rs", &render_c_constants());
}

/// `snake_case` → `camelCase`.
fn camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `MALFORMED_ENVELOPE`-style name of an error.
fn screaming(e: Error) -> String {
    e.name().to_ascii_uppercase()
}

/// One Kotlin declaration of a native method, wrapped at 100 columns (4-space indent).
fn kotlin_declaration(d: &scv2_ffi::natives::Declaration) -> String {
    let params: Vec<String> = d
        .params
        .iter()
        .map(|(n, t)| format!("{}: {t}", camel(n)))
        .collect();
    let ret = if d.ret == "Unit" {
        String::new()
    } else {
        format!(": {}", d.ret)
    };
    let one_line = format!(
        "    @JvmStatic external fun {}({}){ret}",
        d.name,
        params.join(", ")
    );
    if one_line.len() <= 100 {
        return one_line + "\n";
    }
    format!(
        "    @JvmStatic external fun {}(\n        {}\n    ){ret}\n",
        d.name,
        params.join(", ")
    )
}

fn kdoc(indent: &str, text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let one = format!("{indent}/** {text} */");
    if one.len() <= 100 {
        return one + "\n";
    }
    let mut s = format!("{indent}/**\n");
    s.push_str(&wrap(&format!("{indent} * "), &text));
    s.push_str(&format!("{indent} */\n"));
    s
}

const NATIVE_KT: &str = "bindings/kotlin/src/main/kotlin/io/scv2/Native.kt";
const NATIVE_BEGIN: &str =
    "    // BEGIN GENERATED from the JNI table ffi/src/natives.rs (scripts/gen-header.sh); do not edit.";
const NATIVE_END: &str = "    // END GENERATED";

fn render_native_kt() -> String {
    let mut body = String::new();
    for d in scv2_ffi::natives::DECLARATIONS
        .iter()
        .filter(|d| d.class == "Native")
    {
        body.push('\n');
        body.push_str(&kdoc("    ", d.doc));
        body.push_str(&kotlin_declaration(d));
    }
    let text = std::fs::read_to_string(root().join(NATIVE_KT)).unwrap();
    splice(&text, NATIVE_BEGIN, NATIVE_END, &body)
}

#[test]
fn kotlin_native_declarations_are_the_jni_tables() {
    check(NATIVE_KT, &render_native_kt());
}

/// The test-only natives are declared by the Kotlin tests (`TestSupport.kt`, not generated): each
/// must match the table, name and types.
#[test]
fn kotlin_test_natives_match_the_jni_table() {
    let text = std::fs::read_to_string(
        root().join("bindings/kotlin/src/test/kotlin/io/scv2/TestSupport.kt"),
    )
    .unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut checked = 0;
    for d in scv2_ffi::natives::DECLARATIONS
        .iter()
        .filter(|d| d.class == "TestVectorsNative")
    {
        let at = flat
            .find(&format!("external fun {}(", d.name))
            .unwrap_or_else(|| panic!("TestSupport.kt lacks {}", d.name));
        let rest = &flat[at..];
        let close = rest.find(')').unwrap();
        let params: Vec<&str> = rest[rest.find('(').unwrap() + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.split(':').nth(1).unwrap().trim())
            .collect();
        let want: Vec<&str> = d.params.iter().map(|(_, t)| *t).collect();
        assert_eq!(params, want, "{}", d.name);
        let ret = rest[close + 1..]
            .trim_start()
            .strip_prefix(':')
            .map(|r| r.split_whitespace().next().unwrap())
            .unwrap_or("Unit");
        assert_eq!(ret, d.ret, "{}", d.name);
        checked += 1;
    }
    assert_eq!(checked, 4);
}

const STATUS_KT: &str = "bindings/kotlin/src/main/kotlin/io/scv2/Status.kt";

fn render_status_kt() -> String {
    let mut s = String::from(
        "package io.scv2\n\n\
         // Generated from the core's error table (scv2::ALL_ERRORS) by ffi/tests/generated.rs\n\
         // (scripts/gen-header.sh); do not edit.\n\n\
         /**\n \
         * Every status code of the C ABI (`include/scv2.h`), with its stable snake_case name.\n \
         *\n \
         * The numbers are the Rust core's `scv2::Error::code()`; they are never renumbered. Codes 16..254\n \
         * are reserved: [fromCode] returns null for them (treat any unknown code as a failure).\n \
         */\n\
         enum class Status(val code: Int, val wireName: String) {\n",
    );
    for (i, e) in ALL_ERRORS.iter().enumerate() {
        s.push_str(&kdoc("    ", e.doc()));
        let sep = if i + 1 == ALL_ERRORS.len() { ";" } else { "," };
        let _ = writeln!(
            s,
            "    {}({}, \"{}\"){sep}",
            screaming(*e),
            e.code(),
            e.name()
        );
    }
    s.push_str(
        "\n    companion object {\n        \
         /** The status with this code, or null for a code this version does not know. */\n        \
         @JvmStatic\n        \
         fun fromCode(code: Int): Status? = values().firstOrNull { it.code == code }\n    \
         }\n}\n",
    );
    s
}

#[test]
fn kotlin_status_enum_is_the_cores() {
    check(STATUS_KT, &render_status_kt());
}

const SWIFT_ERRORS: &str = "bindings/swift/Sources/SecureChannel/Scv2Error.swift";

/// The Swift case name: `malformedEnvelope`, and `` `internal` `` (a keyword).
fn swift_case(e: Error) -> String {
    let c = camel(e.name());
    if c == "internal" {
        "`internal`".to_string()
    } else {
        c
    }
}

fn render_swift_errors() -> String {
    let mut s = String::from(
        "// Generated from the core's error table (scv2::ALL_ERRORS) by ffi/tests/generated.rs\n\
         // (scripts/gen-header.sh); do not edit.\n\
         import CScv2\n\
         import Foundation\n\n\
         /// A failure reported by the library: one case per status code of the C ABI (`SCV2_*`), plus\n\
         /// `unknown` for a code this binding does not know (codes are never reused; treat it as a failure).\n\
         public enum Scv2Error: Error, Hashable, Sendable, CustomStringConvertible, LocalizedError {\n",
    );
    for e in ALL_ERRORS {
        s.push_str(&wrap("    /// ", &format!("{}: {}", e.code(), e.doc())));
        let _ = writeln!(s, "    case {}", swift_case(e));
    }
    s.push_str("    /// A status code this binding does not know.\n    case unknown(UInt32)\n\n");
    s.push_str("    /// Every known case, in code order.\n    public static let allKnown: [Scv2Error] = [\n");
    for e in ALL_ERRORS {
        let _ = writeln!(s, "        .{},", swift_case(e).trim_matches('`'));
    }
    s.push_str("    ]\n\n");
    s.push_str(
        "    /// The error of a non-zero status code (0, `SCV2_OK`, is not an error: it maps to `.unknown(0)`).\n    \
         public init(code: UInt32) {\n        switch code {\n",
    );
    for e in ALL_ERRORS {
        let _ = writeln!(
            s,
            "        case UInt32({}): self = .{}",
            c_name(e),
            swift_case(e).trim_matches('`')
        );
    }
    s.push_str("        default: self = .unknown(code)\n        }\n    }\n\n");
    s.push_str(
        "    /// The C status code.\n    public var code: UInt32 {\n        switch self {\n",
    );
    for e in ALL_ERRORS {
        let _ = writeln!(
            s,
            "        case .{}: return UInt32({})",
            swift_case(e).trim_matches('`'),
            c_name(e)
        );
    }
    s.push_str("        case .unknown(let code): return code\n        }\n    }\n\n");
    s.push_str(
        "    /// The library's stable snake_case name of the code (\"decryption_failed\", ...; \"unknown\").\n    \
         public var name: String { Scv2.statusName(code) }\n\n    \
         public var description: String { \"scv2 error \\(code) (\\(name))\" }\n\n    \
         public var errorDescription: String? { description }\n}\n",
    );
    s
}

#[test]
fn swift_error_enum_is_the_cores() {
    check(SWIFT_ERRORS, &render_swift_errors());
}
