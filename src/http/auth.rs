//! Who may call the API: bearer tokens, read-only or admin, from the
//! environment variable or file the `[api]` section names (read once at
//! start-up, never inline in the config), compared in constant time.
//!
//! Rules: a client on a loopback address is trusted as admin unless
//! `api.trust_loopback = false` (set it behind a reverse proxy on the same
//! host, where every client looks local); any other client shows
//! `Authorization: Bearer <token>`: the read token reads `/api/*`, the
//! admin token also reloads (`POST /-/reload`). `/metrics`, `/healthz` and
//! the page's static files carry no mention and need no token.
//!
//! It does not decide what a route needs (the router does).

use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};

use crate::config::ApiConfig;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Access {
    /// Read mentions, watches, alerts and stats.
    Read,
    /// Also reload the rules.
    Admin,
}

impl Access {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Admin => "admin",
        }
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No token, or not one of ours: 401.
    Unauthorized,
    /// A valid token that does not allow this: 403.
    Forbidden,
}

/// The configured tokens, as SHA-256 digests (so that comparing them
/// takes the same time whatever the lengths).
#[derive(Clone, Default)]
pub(crate) struct Auth {
    read: Option<[u8; 32]>,
    admin: Option<[u8; 32]>,
    trust_loopback: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("read", &self.read.is_some())
            .field("admin", &self.admin.is_some())
            .field("trust_loopback", &self.trust_loopback)
            .finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equal digests, in time independent of where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token held by environment variable `env` or file `file` (trimmed),
/// if either is configured; `key` names the config key in errors.
fn secret(env: Option<&str>, file: Option<&Path>, key: &str) -> anyhow::Result<Option<String>> {
    let value = match (env, file) {
        (Some(var), _) => std::env::var(var).with_context(|| {
            format!("api.{key}_env names {var}, which is not set: export it (or use {key}_file)")
        })?,
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read api.{key}_file {}", path.display()))?,
        (None, None) => return Ok(None),
    };
    let value = value.trim().to_string();
    anyhow::ensure!(
        !value.is_empty(),
        "the api.{key} token is empty: put a long random string there (e.g. `openssl rand -hex 32`)"
    );
    Ok(Some(value))
}

impl Auth {
    /// Reads the tokens the `[api]` section names.
    pub(crate) fn from_config(c: &ApiConfig) -> anyhow::Result<Auth> {
        let read = secret(c.token_env.as_deref(), c.token_file.as_deref(), "token")?;
        let admin = secret(
            c.admin_token_env.as_deref(),
            c.admin_token_file.as_deref(),
            "admin_token",
        )?;
        Ok(Auth {
            read: read.as_deref().map(digest),
            admin: admin.as_deref().map(digest),
            trust_loopback: c.trust_loopback,
        })
    }

    /// Whether any token is configured.
    pub(crate) fn has_tokens(&self) -> bool {
        self.read.is_some() || self.admin.is_some()
    }

    /// What a client at `peer` with these request headers may do.
    pub(crate) fn access(&self, peer: IpAddr, headers: &HeaderMap) -> Option<Access> {
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        if let Some(t) = bearer {
            let d = digest(t);
            // Both compared every time: no early exit on the admin match.
            let admin = self.admin.is_some_and(|a| same(&a, &d));
            let read = self.read.is_some_and(|r| same(&r, &d));
            if admin {
                return Some(Access::Admin);
            }
            if read {
                return Some(Access::Read);
            }
        }
        (self.trust_loopback && is_loopback(peer)).then_some(Access::Admin)
    }

    /// Whether a client at `peer` with these headers may do what `need`
    /// asks.
    pub(crate) fn check(
        &self,
        peer: IpAddr,
        headers: &HeaderMap,
        need: Access,
    ) -> Result<Access, Refusal> {
        match self.access(peer, headers) {
            None => Err(Refusal::Unauthorized),
            Some(a) if a < need => Err(Refusal::Forbidden),
            Some(a) => Ok(a),
        }
    }
}

/// 127.0.0.0/8, ::1, and IPv4-mapped loopback (`::ffff:127.0.0.1`).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth(trust_loopback: bool) -> Auth {
        Auth {
            read: Some(digest("r-token")),
            admin: Some(digest("a-token")),
            trust_loopback,
        }
    }

    fn headers(v: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = v {
            h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn check(a: &Auth, peer: &str, header: Option<&str>, need: Access) -> Result<Access, Refusal> {
        a.check(peer.parse().unwrap(), &headers(header), need)
    }

    #[test]
    fn tokens_and_loopback_decide_access() {
        use Access::*;
        use Refusal::*;
        let a = auth(true);
        let remote = "203.0.113.7";
        assert_eq!(check(&a, remote, None, Read), Err(Unauthorized));
        assert_eq!(
            check(&a, remote, Some("Bearer nope"), Read),
            Err(Unauthorized)
        );
        assert_eq!(
            check(&a, remote, Some("Basic r-token"), Read),
            Err(Unauthorized)
        );
        assert_eq!(check(&a, remote, Some("Bearer r-token"), Read), Ok(Read));
        assert_eq!(check(&a, remote, Some("bearer  r-token "), Read), Ok(Read));
        assert_eq!(
            check(&a, remote, Some("Bearer r-token"), Admin),
            Err(Forbidden)
        );
        assert_eq!(check(&a, remote, Some("Bearer a-token"), Admin), Ok(Admin));
        assert_eq!(check(&a, remote, Some("Bearer a-token"), Read), Ok(Admin));
        for local in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(check(&a, local, None, Admin), Ok(Admin), "{local}");
        }
        let strict = auth(false);
        assert_eq!(check(&strict, "127.0.0.1", None, Read), Err(Unauthorized));
        assert_eq!(
            check(&strict, "::1", Some("Bearer r-token"), Read),
            Ok(Read)
        );
        // A prefix or an extension of a token is not the token.
        assert_eq!(
            check(&strict, "::1", Some("Bearer r-toke"), Read),
            Err(Unauthorized)
        );
        assert_eq!(
            check(&strict, "::1", Some("Bearer r-tokenx"), Read),
            Err(Unauthorized)
        );
    }

    #[test]
    fn no_token_configured_refuses_every_remote_client() {
        let a = Auth {
            trust_loopback: true,
            ..Auth::default()
        };
        assert!(!a.has_tokens());
        assert_eq!(
            check(&a, "198.51.100.1", Some("Bearer "), Access::Read),
            Err(Refusal::Unauthorized)
        );
    }

    #[test]
    fn secrets_come_from_files_trimmed_and_never_empty() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "s3cret\n").unwrap();
        assert_eq!(
            secret(None, Some(&f), "token").unwrap().as_deref(),
            Some("s3cret")
        );
        std::fs::write(&f, " \n").unwrap();
        let e = secret(None, Some(&f), "token").unwrap_err();
        assert!(format!("{e:#}").contains("empty"), "{e:#}");
        let e = secret(Some("VEILLEUR_TEST_SURELY_UNSET_VAR"), None, "admin_token").unwrap_err();
        assert!(format!("{e:#}").contains("not set"), "{e:#}");
        assert_eq!(secret(None, None, "token").unwrap(), None);
    }

    #[test]
    fn equal_digests_only() {
        let (a, b) = (digest("x"), digest("y"));
        assert!(same(&a, &a));
        assert!(!same(&a, &b));
    }
}
