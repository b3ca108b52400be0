//! `interop-peer`: one side of a live SCv2 exchange over stdin/stdout, built with either crypto
//! backend, so that `tests/backend_interop.rs` (built with the other one) can run a real
//! handshake and request across backends. Random keys and ephemerals (no test-vector
//! constructors): this is the production path of both backends.
//!
//! `interop-peer server <suite id>` or `interop-peer client <suite id>`; one line per message,
//! `<tag> <hex>` (see `scv2_test_support::interop`). Exits non-zero on any error.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let role = args.first().map(String::as_str).unwrap_or("");
    let suite = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .and_then(scv2::Suite::from_id)
        .unwrap_or_else(|| {
            eprintln!("usage: interop-peer server|client <suite id>");
            std::process::exit(2)
        });
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut output = std::io::stdout();
    let r = match role {
        "server" => scv2_test_support::interop::serve(suite, &mut input, &mut output),
        "client" => scv2_test_support::interop::call(suite, &mut input, &mut output),
        _ => Err("role must be server or client".to_owned()),
    };
    if let Err(e) = r {
        eprintln!("interop-peer {role}: {e}");
        std::process::exit(1);
    }
}
