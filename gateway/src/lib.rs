//! The reference SCv2 gateway: `GET /web/v1/secure-channel/public-key`,
//! `POST /web/v1/secure-channel/session`, `POST /web/v1/secure-channel/session/close` and
//! `POST /web/v1/system/auth/password/init`, with SQLite storage, plus the client used by the
//! `scv2` CLI. See `gateway/README.md`.

#![forbid(unsafe_code)]

pub mod client;
pub mod clock;
pub mod cors;
pub mod demo;
pub mod i18n;
pub mod inspect;
pub mod keyfile;
pub mod password;
pub mod ratelimit;
pub mod server;
pub mod store;
pub mod validate;
pub mod webdemo;

pub use client::{CallResult, ClientOptions, ScClient};
pub use clock::{Clock, ManualClock, SystemClock};
pub use server::{start, Gateway, GatewayConfig};
