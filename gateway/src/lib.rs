//! The reference SCv2 gateway: `GET /web/v1/secure-channel/public-key` (the key of the
//! preferred suite), `GET /web/v1/secure-channel/public-keys` (every live key, of both suites:
//! X25519 and the hybrid X25519MLKEM768), `POST /web/v1/secure-channel/session`, `POST /web/v1/secure-channel/session/close` and
//! `POST /web/v1/system/auth/password/init`, with SQLite storage (one gateway) or PostgreSQL
//! (several gateways on one database), optionally in front of an existing API as a terminating
//! reverse proxy, plus the client used by the `scv2` CLI. See
//! `gateway/README.md`.
//!
//! Layout: [`config`] (settings and defaults), [`startup`] (keys, database, start and stop),
//! [`net`] (connections and timeouts), [`answer`] (request context and answers), [`headers`]
//! (header checks), [`channel`] (open / commit / retransmit, for any SCv2 route), [`handlers`]
//! and [`password_init`] (the routes), [`limits`] and [`ratelimit`] (rate limits),
//! [`sessions`] (live sessions), [`store`] (the storage interface, SQLite and PostgreSQL),
//! [`health`] (`/healthz`, `/readyz`, `/metrics`), [`files`] (file modes and the database lock),
//! [`client_ip`] (who the client is); proxy mode: [`config_file`] (`scv2 serve --config`),
//! [`routes`] (the route table and its limits), [`proxy`] (the upstream client and forwarding),
//! [`answer_headers`] (response headers kept, sealed, with cached answers).

#![forbid(unsafe_code)]

pub mod answer;
pub mod answer_headers;
pub mod app;
pub mod bench;
pub mod channel;
pub mod client;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod config_file;
pub mod cors;
pub mod demo;
pub mod files;
pub mod handlers;
pub mod headers;
pub mod health;
pub mod i18n;
pub mod inspect;
pub mod keyfile;
pub mod limits;
pub mod net;
pub mod password;
pub mod password_init;
pub mod paths;
pub mod proxy;
pub mod ratelimit;
pub mod routes;
pub mod sessions;
pub mod startup;
pub mod store;
pub mod util;
pub mod validate;
pub mod webdemo;

pub use app::MetricsSnapshot;
pub use client::{CallResult, ClientOptions, ScClient};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{GatewayConfig, Timeouts};
pub use startup::{start, Gateway};
