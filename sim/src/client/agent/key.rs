//! The pool key of a request: scheme, host and port, as `http://server:80`.
//!
//! Made once per distinct URI authority rather than once per request: nearly every request of a
//! run goes to the same host, and formatting the key (with the port looked up and parsed) was
//! about 1,800 instructions a request, 1 % of a pool-stall run.

use std::cell::RefCell;
use std::rc::Rc;

use http::Uri;

/// The pool key of a URI: scheme, host and port.
pub(super) fn pool_key(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    format!("{scheme}://{}:{port}", uri.host().unwrap_or(""))
}

/// The last key made, with the scheme and authority it was made from (compared byte for byte:
/// the key keeps the host's spelling).
#[derive(Default)]
pub(super) struct KeyCache(RefCell<Option<Made>>);

/// A key and what it was made from.
struct Made {
    scheme: Option<String>,
    authority: String,
    key: Rc<str>,
}

impl KeyCache {
    /// [`pool_key`] of `uri`, shared.
    pub(super) fn key(&self, uri: &Uri) -> Rc<str> {
        let scheme = uri.scheme_str();
        let authority = uri.authority().map_or("", |a| a.as_str());
        let mut last = self.0.borrow_mut();
        match &*last {
            Some(m) if m.scheme.as_deref() == scheme && m.authority == authority => m.key.clone(),
            _ => {
                let key: Rc<str> = pool_key(uri).into();
                *last = Some(Made {
                    scheme: scheme.map(str::to_string),
                    authority: authority.to_string(),
                    key: key.clone(),
                });
                key
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{pool_key, KeyCache};

    #[test]
    fn the_cached_key_is_the_key_of_each_uri() {
        let cache = KeyCache::default();
        for uri in [
            "http://server/a",
            "http://server/b",
            "http://server:8080/",
            "https://server/",
            "http://Server/",
            "http://server/a",
        ] {
            let uri: http::Uri = uri.parse().unwrap();
            assert_eq!(&*cache.key(&uri), pool_key(&uri), "{uri}");
        }
    }
}
