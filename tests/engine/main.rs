//! The event-driven engine (turmoil-net under one paused tokio runtime): every tokio timer
//! jumps, whoever made it; TCP retransmits lost packets on simulated time and pushes back on a
//! reader that stops reading.
//!
//! - `user_timers.rs` — your own server's raw `tokio::time::sleep`, a 20-hour idle in your own
//!   client code.
//! - `tcp.rs` — packet loss recovered by retransmission, a blocked writer, SYN retries.

mod tcp;
mod user_timers;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;
