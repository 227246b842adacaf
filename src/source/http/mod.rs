//! The one HTTP client every source kind fetches through, and its politeness.
//!
//! A source kind builds a [`Request`] (method, URL, headers, auth, `Accept`,
//! body, validators, timeout, body cap) and hands it to
//! [`HttpClient::send`]; feeds use the shortcut [`HttpClient::fetch`]
//! (conditional GET with a feed-shaped `Accept`). Whatever the request, it
//! goes through, in order:
//!
//! 1. **robots.txt** of its origin, cached (`robots.rs`);
//! 2. **the host's rate limit**: [`REQUESTS_PER_SECOND_PER_HOST`], or one
//!    request per `Crawl-delay` when robots.txt asks for slower; requests
//!    wait their turn in the host's queue for up to their timeout, or up to
//!    the source's interval when the poll loop polls ([`patiently`]); a
//!    request whose turn would come later fails at once with the retryable
//!    [`FetchError::Throttled`] (`pacing.rs`);
//! 3. **the host's concurrency cap**, [`MAX_REQUESTS_PER_HOST`] in flight;
//! 4. **the exchange** (`client.rs`): a total timeout, compressed transfer,
//!    a body cap enforced while streaming, at most [`MAX_REDIRECTS`]
//!    redirects and only to http(s), `Retry-After` read on errors.
//!
//! Failures are [`FetchError`]s, classified for the poll loop (`errors.rs`):
//! retryable or not, a fixed reason label, the wait asked for.
//!
//! Deliberately not here: parsing bodies (each kind's file in `source/`),
//! scheduling and backoff (`source/poll.rs`), storing the cursor (the state
//! store). The robots.txt cache and the limiters live in memory: a restart
//! reads robots.txt again.
//!
//! Invariants: a request never takes longer than its `timeout` once it holds
//! its per-host permit, and never waits longer than `timeout` (or the
//! patience of its poll) for its turn under the rate limit (so a request,
//! robots.txt included, is bounded by a few of those plus the permit queue); never buffers more than
//! `max_body_bytes` of body; the per-host and per-origin maps only grow with
//! the hosts of configured sources.

mod client;
mod errors;
mod pacing;
mod robots;

pub use client::{
    ACCEPT_ANY, ACCEPT_FEED, ACCEPT_JSON, Auth, CONNECT_TIMEOUT, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_TIMEOUT, Fetched, HttpClient, MAX_REDIRECTS, Request, Validators,
};
pub use errors::FetchError;
pub use pacing::{
    HostRate, MAX_CRAWL_DELAY, MAX_REQUESTS_PER_HOST, REQUESTS_PER_SECOND_PER_HOST, patiently,
};
pub use robots::{ROBOTS_MAX_BYTES, ROBOTS_MIN_TTL, ROBOTS_RETRY, ROBOTS_TTL};
