//! Live interoperation across crypto backends, in two processes: this test binary (built with
//! one backend) plays each role of a real exchange (random keys and ephemerals: the production
//! path) against the `interop-peer` binary of `tests/support` built with the other backend, for
//! both suites. The peer says which backend it runs; the test refuses a peer of its own backend,
//! so a pass means the two backends really talked.
//!
//! Ignored unless `SCV2_INTEROP_PEER` names the peer binary (scripts/test.sh builds it for the
//! other backend and copies it aside, since both builds write `target/debug/interop-peer`):
//!
//! ```text
//! cargo build -p scv2-test-support --bin interop-peer --features aws-lc
//! cp target/debug/interop-peer target/interop-peer-aws-lc
//! SCV2_INTEROP_PEER=target/interop-peer-aws-lc cargo test -p scv2 --test backend_interop -- --ignored
//! ```
//! (and the other way round with `--features aws-lc` on the test and none on the peer).

use std::io::{BufReader, Write};
use std::process::{Command, Stdio};

use scv2::Suite;
use scv2_test_support::interop::{call, serve};

fn peer_path() -> std::path::PathBuf {
    let p = std::env::var_os("SCV2_INTEROP_PEER").expect("SCV2_INTEROP_PEER: the peer binary");
    let p = std::path::PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        // Relative to the workspace root (where scripts/test.sh runs).
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
    }
}

/// Run `role` in the peer and the other role here.
fn exchange(suite: Suite, peer_role: &str) {
    let mut child = Command::new(peer_path())
        .args([peer_role, &suite.id().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn interop-peer");
    let mut to_peer = child.stdin.take().expect("stdin");
    let mut from_peer = BufReader::new(child.stdout.take().expect("stdout"));
    let ours = if peer_role == "server" {
        call(suite, &mut from_peer, &mut to_peer)
    } else {
        serve(suite, &mut from_peer, &mut to_peer)
    };
    to_peer.flush().ok();
    drop(to_peer);
    let status = child.wait().expect("wait");
    let peer_backend = ours.unwrap_or_else(|e| {
        panic!(
            "{suite} ({}) against a peer {peer_role}: {e}",
            scv2::primitives::BACKEND
        )
    });
    assert_ne!(
        peer_backend,
        scv2::primitives::BACKEND,
        "the peer runs the same backend as this test: build it with the other one"
    );
    assert!(status.success(), "peer {peer_role} ({peer_backend}) failed");
    eprintln!(
        "{suite}: {} {} <-> {peer_role} {peer_backend}: ok",
        if peer_role == "server" {
            "client"
        } else {
            "server"
        },
        scv2::primitives::BACKEND
    );
}

#[test]
#[ignore = "needs SCV2_INTEROP_PEER (a peer built with the other backend; see the file's header)"]
fn live_exchanges_across_backends_both_roles_both_suites() {
    for suite in Suite::ALL {
        exchange(suite, "server");
        exchange(suite, "client");
    }
}
