//! Which `Host` and `Origin` headers the RPC answers: the defence against a web page in the
//! operator's browser driving the API (cross-origin WebSocket, or HTTP through DNS rebinding).
//!
//! The rules follow geth's `--http.vhosts` / `--ws.origins` (op-node's own server has no such
//! filter; its library defaults to `*`, which is what made the attack possible):
//! - `Host`: a local name (`localhost`), a loopback IP, the bind IP (any IP when bound to
//!   `0.0.0.0` / `::`), or a name on the `--rpc.vhosts` list. DNS rebinding needs a *name* that
//!   resolves to the node, so IP literals are safe; other names are refused. No `Host` at all is
//!   refused (browsers always send one).
//! - `Origin`: absent (every non-browser client), a local page (`http://localhost`, a loopback
//!   IP), or one on the `--rpc.origins` list. `null` (sandboxed frames, `file://`) is refused.
//!
//! `*` on either list allows everything. Policy only: [`RequestFilter::check`] takes the two
//! header values and answers; the HTTP layer (`crate::http`) applies it to every request,
//! WebSocket upgrades included.

use std::net::IpAddr;

use jsonrpsee::server::middleware::http::Authority;

/// An allow-list from a flag: `*`, or names / origins compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowList {
    /// Only the built-in local names.
    #[default]
    LocalOnly,
    /// The local names and these entries (lower-case, no trailing `/`).
    Also(Vec<String>),
    /// Everything (`*`).
    Any,
}

impl AllowList {
    /// Reads a flag's entries: empty entries are skipped, `*` anywhere means [`AllowList::Any`].
    pub fn from_entries<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Vec::new();
        for entry in entries {
            let entry = entry
                .as_ref()
                .trim()
                .trim_end_matches('/')
                .to_ascii_lowercase();
            if entry == "*" {
                return Self::Any;
            }
            if !entry.is_empty() {
                list.push(entry);
            }
        }
        if list.is_empty() {
            Self::LocalOnly
        } else {
            Self::Also(list)
        }
    }

    fn listed(&self, candidates: &[&str]) -> bool {
        match self {
            Self::LocalOnly => false,
            Self::Any => true,
            Self::Also(list) => list
                .iter()
                .any(|entry| candidates.iter().any(|c| c.eq_ignore_ascii_case(entry))),
        }
    }
}

/// Why a request was refused (sent as the body of the HTTP 403 response).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// No usable `Host` (or `:authority`).
    #[error("missing or malformed Host header")]
    MissingHost,
    /// The host is a name not on the allow-list.
    #[error("Host {0:?} is not allowed (see --rpc.vhosts)")]
    Host(String),
    /// The page's origin is not on the allow-list.
    #[error("Origin {0:?} is not allowed (see --rpc.origins)")]
    Origin(String),
}

/// The `Host` / `Origin` policy of one server.
#[derive(Debug, Clone)]
pub struct RequestFilter {
    bind: IpAddr,
    vhosts: AllowList,
    origins: AllowList,
}

/// `[::1]` → `::1`; names stay as they are.
fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn is_local_name(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
}

impl RequestFilter {
    /// The policy of a server bound to `bind`.
    pub const fn new(bind: IpAddr, vhosts: AllowList, origins: AllowList) -> Self {
        Self {
            bind,
            vhosts,
            origins,
        }
    }

    /// Checks a request's `Host` (already parsed, `None` when absent or malformed) and its
    /// `Origin` header value (`None` when absent).
    pub fn check(&self, host: Option<&Authority>, origin: Option<&str>) -> Result<(), FilterError> {
        let host = host.ok_or(FilterError::MissingHost)?;
        if !self.host_allowed(&host.host) {
            return Err(FilterError::Host(host.host.clone()));
        }
        match origin {
            None => Ok(()),
            Some(origin) if self.origin_allowed(origin) => Ok(()),
            Some(origin) => Err(FilterError::Origin(origin.to_owned())),
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let bare = strip_brackets(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return ip.is_loopback() || ip == self.bind || self.bind.is_unspecified();
        }
        is_local_name(bare) || self.vhosts.listed(&[bare])
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let trimmed = origin.trim().trim_end_matches('/');
        if matches!(self.origins, AllowList::Any) {
            return true;
        }
        // `null` and anything that is not scheme://host[:port] never passes the local rule.
        let Ok(authority) = Authority::try_from(trimmed) else {
            return self.origins.listed(&[trimmed]);
        };
        let bare = strip_brackets(&authority.host);
        let local = is_local_name(bare)
            || bare
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || (ip == self.bind && !ip.is_unspecified()));
        local || self.origins.listed(&[trimmed, bare])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(s: &str) -> Authority {
        Authority::try_from(s).expect("authority")
    }

    fn loopback() -> RequestFilter {
        RequestFilter::new(
            IpAddr::from([127, 0, 0, 1]),
            AllowList::LocalOnly,
            AllowList::LocalOnly,
        )
    }

    #[test]
    fn local_hosts_pass_and_foreign_names_are_refused() {
        let f = loopback();
        for ok in [
            "127.0.0.1:9545",
            "localhost:9545",
            "LOCALHOST",
            "[::1]:9545",
        ] {
            assert_eq!(f.check(Some(&auth(ok)), None), Ok(()), "{ok}");
        }
        for bad in [
            "evil.example:9545",
            "localhost.evil.example",
            "10.0.0.1:9545",
        ] {
            assert!(
                matches!(f.check(Some(&auth(bad)), None), Err(FilterError::Host(_))),
                "{bad}"
            );
        }
        assert_eq!(f.check(None, None), Err(FilterError::MissingHost));
    }

    #[test]
    fn unspecified_bind_accepts_any_ip_literal_but_not_names() {
        let f = RequestFilter::new(
            IpAddr::from([0, 0, 0, 0]),
            AllowList::LocalOnly,
            AllowList::LocalOnly,
        );
        assert_eq!(f.check(Some(&auth("10.1.2.3:9545")), None), Ok(()));
        assert!(f.check(Some(&auth("node.example:9545")), None).is_err());
    }

    #[test]
    fn vhosts_list_and_wildcard() {
        let listed = RequestFilter::new(
            IpAddr::from([127, 0, 0, 1]),
            AllowList::from_entries(["Node.Internal", ""]),
            AllowList::LocalOnly,
        );
        assert_eq!(listed.check(Some(&auth("node.internal:1")), None), Ok(()));
        assert!(listed.check(Some(&auth("other.internal:1")), None).is_err());
        let any = RequestFilter::new(
            IpAddr::from([127, 0, 0, 1]),
            AllowList::from_entries(["a", "*"]),
            AllowList::LocalOnly,
        );
        assert_eq!(any.check(Some(&auth("whatever.example")), None), Ok(()));
    }

    #[test]
    fn foreign_and_null_origins_are_refused_local_ones_pass() {
        let f = loopback();
        let host = auth("127.0.0.1:9545");
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "https://[::1]:8080/",
        ] {
            assert_eq!(f.check(Some(&host), Some(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "null",
            "http://localhost.evil.example",
            "",
        ] {
            assert!(
                matches!(f.check(Some(&host), Some(bad)), Err(FilterError::Origin(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn origins_list_matches_full_origin_or_host() {
        let f = RequestFilter::new(
            IpAddr::from([127, 0, 0, 1]),
            AllowList::LocalOnly,
            AllowList::from_entries(["https://dash.example/", "ops.example"]),
        );
        let host = auth("127.0.0.1:9545");
        assert_eq!(f.check(Some(&host), Some("https://dash.example")), Ok(()));
        assert_eq!(
            f.check(Some(&host), Some("http://ops.example:8080")),
            Ok(())
        );
        assert!(f.check(Some(&host), Some("http://dash.example")).is_err());
        let any = RequestFilter::new(
            IpAddr::from([127, 0, 0, 1]),
            AllowList::LocalOnly,
            AllowList::Any,
        );
        assert_eq!(any.check(Some(&host), Some("null")), Ok(()));
    }
}
