//! How a URL is shown anywhere it could be read (logs, errors, the state
//! store, metrics): scheme, host and port, then `…`.
//!
//! Owns the one redaction rule. Webhook URLs carry their token in the path
//! (Slack `/services/T…/B…/secret`, Discord `/api/webhooks/id/token`, Teams
//! workflow signatures in the query) and any URL may carry `user:password@`;
//! none of that is ever printed.

/// `https://hooks.slack.com/…`: scheme, host and port, never user info, path
/// or query. A URL without a host shows only its scheme.
pub fn url(u: &url::Url) -> String {
    match u.host_str() {
        Some(h) => match u.port() {
            Some(p) => format!("{}://{h}:{p}/…", u.scheme()),
            None => format!("{}://{h}/…", u.scheme()),
        },
        None => format!("{}:…", u.scheme()),
    }
}

/// A source's URL as errors and logs show it: whole (which feed failed
/// matters), but without `user:password@` and with the values of query
/// parameters that name a secret (`key`, `token`, `secret`, `password`,
/// `sig`, `auth`…) replaced by `…`. A string that does not parse as a URL
/// is shown as it is.
pub fn for_log(u: impl AsRef<str>) -> String {
    let Ok(mut url) = url::Url::parse(u.as_ref()) else {
        return u.as_ref().to_string();
    };
    if !url.username().is_empty() || url.password().is_some() {
        // Cannot fail on a URL that has a host (it had user info).
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let secret = [
                    "key", "token", "secret", "password", "passwd", "sig", "auth",
                ]
                .iter()
                .any(|w| lower.contains(w));
                (
                    k.into_owned(),
                    if secret {
                        "…".to_string()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// [`url`] of a string that may not parse: an unparsable one shows as `…`.
pub fn url_str(s: &str) -> String {
    url::Url::parse(s).map_or_else(|_| "…".to_string(), |u| url(&u))
}

/// `text` with every `http(s)://` URL in it redacted, for error messages
/// written by libraries that print the URL they were given.
pub fn urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = find_scheme(rest) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ']'))
            .unwrap_or(tail.len());
        out.push_str(&url_str(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn find_scheme(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    match (lower.find("http://"), lower.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_scheme_and_host_only() {
        for (raw, want) in [
            (
                "https://hooks.slack.com/services/T000/B000/XXXXsecret",
                "https://hooks.slack.com/…",
            ),
            (
                "https://user:pa55@feeds.example.org:8443/x?token=t",
                "https://feeds.example.org:8443/…",
            ),
            ("http://127.0.0.1:9/hook", "http://127.0.0.1:9/…"),
            ("mailto:a@b.org", "mailto:…"),
        ] {
            assert_eq!(url(&raw.parse().unwrap()), want, "{raw}");
        }
        assert_eq!(url_str("not a url"), "…");
    }

    #[test]
    fn redacts_urls_inside_messages() {
        assert_eq!(
            urls_in(
                "error sending request for url (https://discord.com/api/webhooks/1/tok): refused"
            ),
            "error sending request for url (https://discord.com/…): refused"
        );
        assert_eq!(urls_in("no url here"), "no url here");
    }
}

#[cfg(test)]
mod for_log_tests {
    use super::for_log;

    #[test]
    fn source_urls_lose_credentials_and_secret_query_values_only() {
        assert_eq!(
            for_log("https://user:hunter2@feeds.example/a/b.xml?q=acme&api_key=abc123&Token=t0"),
            "https://feeds.example/a/b.xml?q=acme&api_key=%E2%80%A6&Token=%E2%80%A6"
        );
        assert_eq!(
            for_log("https://news.example/rss?hl=fr"),
            "https://news.example/rss?hl=fr"
        );
        assert_eq!(for_log("not a url"), "not a url");
    }
}
