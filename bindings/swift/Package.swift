// swift-tools-version:5.9
//
// SecureChannel: Swift bindings of scv2 (Secure Channel v2) over its C ABI (include/scv2.h).
//
// Targets
// - CScv2: a system-library target; Sources/CScv2/module.modulemap maps the repository's
//   include/scv2.h (not a copy) and links the static library `scv2` (libscv2.a).
// - SecureChannel: the Swift API (handle-owning classes, `throws Scv2Error`, `Data` in and out).
// - SecureChannelTests: XCTest; reads tests/vectors/scv2-x25519.json and
//   tests/vectors/scv2-x25519mlkem768.json of the repository and calls the test-vector entry
//   points, so it needs a library built with `--features test-vectors`.
//
// Build and test (scripts/test-swift.sh does this on Linux, in a Debian 13 chroot):
//   cargo build --features test-vectors            # -> target/debug/libscv2.a
//   swift build --build-tests -Xlinker -L<dir of libscv2.a>
//   swift test --skip-build
// Put only libscv2.a in that directory (a libscv2.so beside it would be linked instead).
// For Apple platforms, scripts/build-xcframework.sh packages the library as an XCFramework.
import PackageDescription

let package = Package(
    name: "SecureChannel",
    platforms: [.macOS(.v10_15), .iOS(.v13)],
    products: [
        .library(name: "SecureChannel", targets: ["SecureChannel"]),
    ],
    targets: [
        .systemLibrary(name: "CScv2", path: "Sources/CScv2"),
        .target(
            name: "SecureChannel",
            dependencies: ["CScv2"],
            linkerSettings: [
                // What a Rust staticlib needs from the C library on Linux (rustc --print native-static-libs).
                .linkedLibrary("gcc_s", .when(platforms: [.linux])),
                .linkedLibrary("util", .when(platforms: [.linux])),
                .linkedLibrary("rt", .when(platforms: [.linux])),
                .linkedLibrary("pthread", .when(platforms: [.linux])),
                .linkedLibrary("m", .when(platforms: [.linux])),
                .linkedLibrary("dl", .when(platforms: [.linux])),
            ]
        ),
        .testTarget(
            name: "SecureChannelTests",
            dependencies: ["SecureChannel", "CScv2"],
            // The test-vector entry points of scv2.h are declared under #ifdef SCV2_TEST_VECTORS.
            swiftSettings: [.unsafeFlags(["-Xcc", "-DSCV2_TEST_VECTORS"])]
        ),
    ]
)
