//! Access tokens that expire: where a connector's bearer comes from when it is not a static
//! token (Salesforce OAuth 2.0), and the single flight that refreshes it.
//!
//! * [`TokenSource`]: `token()` hands out the current [`AccessToken`]; `refresh(stale)` gets a
//!   new one because `stale` was refused (HTTP 401).
//! * [`SingleFlight`]: wraps a source that fetches on every call (one token request each) and
//!   makes it safe to share: the token is cached, and when N concurrent callers see a 401 with
//!   the same stale token, exactly **one** refresh request goes out while the others wait for
//!   it; a caller whose stale token was already replaced gets the new token without
//!   refreshing. A failed refresh is handed to the callers that were waiting for it, so a
//!   refused credential costs one token request, not N (`docs/specs/connector.md` §4.1: "one
//!   refresh per account, shared by concurrent callers").
//!
//! [`crate::VendorClient::with_token_source`] uses a source for the bearer, for the base URL
//! when the token names one (Salesforce `instance_url`), and to refresh once on a 401.

use crate::ConnectorError;
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An access token and where it may be used.
///
/// `Debug` never prints the secret.
#[derive(Clone)]
pub struct AccessToken {
    /// The bearer, sent as `Authorization: Bearer …`.
    pub secret: SecretString,
    /// The API root this token works against, when the token endpoint says (Salesforce
    /// `instance_url`); `None` keeps the client's configured base URL.
    pub base_url: Option<url::Url>,
    /// When the token was issued, UTC epoch ms (Salesforce `issued_at`, else the time it was
    /// received).
    pub issued_at_ms: i64,
}

impl AccessToken {
    /// Whether `self` and `other` are the same token (same bearer).
    pub fn same_as(&self, other: &AccessToken) -> bool {
        self.secret.expose_secret() == other.secret.expose_secret()
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("base_url", &self.base_url.as_ref().map(url::Url::as_str))
            .field("issued_at_ms", &self.issued_at_ms)
            .finish()
    }
}

/// Where a client's bearer comes from.
///
/// Errors are [`ConnectorError`]s: a refused credential is [`ConnectorError::Auth`] (naming the
/// OAuth error, never a token or assertion), an unreachable token endpoint
/// [`ConnectorError::Transient`].
pub trait TokenSource: Send + Sync {
    /// The token to use now (a source that caches returns its cached token; a raw source
    /// fetches one).
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, ConnectorError>>;

    /// A token to replace `stale`, which the vendor refused.
    fn refresh<'a>(
        &'a self,
        stale: &'a AccessToken,
    ) -> BoxFuture<'a, Result<AccessToken, ConnectorError>>;
}

/// A caching, single-flight [`TokenSource`] over a source that fetches on every call.
///
/// Cheap to share behind an `Arc`; see the module docs.
pub struct SingleFlight<S> {
    inner: S,
    /// The cached token, read without waiting for a fetch in flight.
    current: std::sync::Mutex<Option<AccessToken>>,
    /// Completed fetch attempts (successful or not); callers note it before queueing.
    attempts: AtomicU64,
    /// Held while a fetch is in flight; holds the last failure and the token it tried to
    /// replace (`None`: the first fetch).
    flight: tokio::sync::Mutex<Option<(Option<AccessToken>, ConnectorError)>>,
    /// Token requests started through this wrapper (first fetches and refreshes).
    fetches: AtomicU64,
}

impl<S: TokenSource> SingleFlight<S> {
    /// Wraps `inner` (whose `token()` and `refresh()` each make one token request).
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            current: std::sync::Mutex::new(None),
            attempts: AtomicU64::new(0),
            flight: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How many token requests went through this wrapper so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The cached token, if any (no request).
    fn cached(&self) -> Option<AccessToken> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn store(&self, token: Option<AccessToken>) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = token;
    }

    /// Fetches under the flight lock, unless, while this caller waited, a fetch replaced
    /// `stale` (then its token is returned) or failed to (then its error is).
    async fn fetch(&self, stale: Option<&AccessToken>) -> Result<AccessToken, ConnectorError> {
        let seen_attempt = self.attempts.load(Ordering::SeqCst);
        let mut failed = self.flight.lock().await;
        match (self.cached(), stale) {
            (Some(current), Some(stale)) if !current.same_as(stale) => return Ok(current),
            (Some(current), None) => return Ok(current),
            _ => {}
        }
        if self.attempts.load(Ordering::SeqCst) != seen_attempt {
            if let Some((tried, err)) = failed.as_ref() {
                let same = match (tried, stale) {
                    (Some(a), Some(b)) => a.same_as(b),
                    (None, None) => true,
                    _ => false,
                };
                if same {
                    return Err(err.clone());
                }
            }
        }
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let result = match stale {
            Some(stale) => self.inner.refresh(stale).await,
            None => self.inner.token().await,
        };
        let outcome = match result {
            Ok(token) => {
                self.store(Some(token.clone()));
                *failed = None;
                Ok(token)
            }
            Err(err) => {
                *failed = Some((stale.cloned(), err.clone()));
                Err(err)
            }
        };
        self.attempts.fetch_add(1, Ordering::SeqCst);
        outcome
    }
}

impl<S: TokenSource> TokenSource for SingleFlight<S> {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, ConnectorError>> {
        Box::pin(async move {
            match self.cached() {
                Some(token) => Ok(token),
                None => self.fetch(None).await,
            }
        })
    }

    fn refresh<'a>(
        &'a self,
        stale: &'a AccessToken,
    ) -> BoxFuture<'a, Result<AccessToken, ConnectorError>> {
        Box::pin(self.fetch(Some(stale)))
    }
}

/// A [`TokenSource`] shared by every clone of a client.
pub type SharedTokenSource = Arc<dyn TokenSource>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Issues `token-1`, `token-2`, … (one per call), slowly, so callers overlap.
    struct Counting {
        issued: AtomicU64,
        fail: bool,
    }

    impl Counting {
        fn issue(&self) -> BoxFuture<'_, Result<AccessToken, ConnectorError>> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
                if self.fail {
                    return Err(ConnectorError::Auth {
                        vendor: "test",
                        status: 400,
                        message: "invalid_grant".into(),
                    });
                }
                Ok(AccessToken {
                    secret: SecretString::from(format!("token-{n}")),
                    base_url: None,
                    issued_at_ms: n as i64,
                })
            })
        }
    }

    impl TokenSource for Counting {
        fn token(&self) -> BoxFuture<'_, Result<AccessToken, ConnectorError>> {
            self.issue()
        }
        fn refresh<'a>(
            &'a self,
            _stale: &'a AccessToken,
        ) -> BoxFuture<'a, Result<AccessToken, ConnectorError>> {
            self.issue()
        }
    }

    fn source(fail: bool) -> Arc<SingleFlight<Counting>> {
        Arc::new(SingleFlight::new(Counting {
            issued: AtomicU64::new(0),
            fail,
        }))
    }

    #[tokio::test]
    async fn fifty_callers_with_one_stale_token_cause_one_refresh() {
        let src = source(false);
        let first = src.token().await.unwrap();
        assert_eq!(first.secret.expose_secret(), "token-1");
        let calls = (0..50).map(|_| {
            let src = src.clone();
            let stale = first.clone();
            tokio::spawn(async move { src.refresh(&stale).await })
        });
        let results = futures::future::join_all(calls).await;
        for r in results {
            let token = r.unwrap().unwrap();
            assert_eq!(token.secret.expose_secret(), "token-2");
        }
        assert_eq!(src.inner().issued.load(Ordering::SeqCst), 2);
        assert_eq!(src.fetches(), 2);
        // A late caller with the old stale token gets the new one without a request.
        let late = src.refresh(&first).await.unwrap();
        assert_eq!(late.secret.expose_secret(), "token-2");
        assert_eq!(src.fetches(), 2);
        // The current token refused in turn: one more request.
        let third = src.refresh(&late).await.unwrap();
        assert_eq!(third.secret.expose_secret(), "token-3");
    }

    #[tokio::test]
    async fn concurrent_first_use_fetches_once() {
        let src = source(false);
        let calls = (0..20).map(|_| {
            let src = src.clone();
            tokio::spawn(async move { src.token().await })
        });
        for r in futures::future::join_all(calls).await {
            assert_eq!(r.unwrap().unwrap().secret.expose_secret(), "token-1");
        }
        assert_eq!(src.fetches(), 1);
    }

    #[tokio::test]
    async fn a_failed_refresh_is_shared_by_its_waiters() {
        let src = source(true);
        let stale = AccessToken {
            secret: SecretString::from("old"),
            base_url: None,
            issued_at_ms: 0,
        };
        let calls = (0..30).map(|_| {
            let src = src.clone();
            let stale = stale.clone();
            tokio::spawn(async move { src.refresh(&stale).await })
        });
        for r in futures::future::join_all(calls).await {
            let err = r.unwrap().unwrap_err();
            assert!(
                matches!(err, ConnectorError::Auth { status: 400, .. }),
                "{err}"
            );
        }
        assert_eq!(src.inner().issued.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn debug_hides_the_secret() {
        let t = AccessToken {
            secret: SecretString::from("00Dxx!very-secret"),
            base_url: Some("https://x.my.salesforce.com".parse().unwrap()),
            issued_at_ms: 1,
        };
        let text = format!("{t:?}");
        assert!(!text.contains("very-secret") && text.contains("my.salesforce.com"));
    }
}
