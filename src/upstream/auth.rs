//! The session cookie's lifecycle (wsusss.md §2.1): GetAuthConfig → GetAuthorizationCookie →
//! GetCookie, done lazily by the first call, refreshed (with `oldCookie`) when less than five
//! minutes are left, and redone when the USS rejects the cookie. Handshakes are serialized
//! so that many concurrent calls hitting an expired cookie cause one handshake, not many.

use super::messages::{self, AuthorizationCookie, Cookie};
use super::transport::join_service_url;
use super::{Counters, Error, Inner};
use std::sync::{Mutex, MutexGuard, PoisonError};
use time::OffsetDateTime;

/// Refresh the cookie when less than this is left (spec: MUST NOT use an expired cookie).
const REFRESH_MARGIN: time::Duration = time::Duration::minutes(5);

#[derive(Default)]
pub(super) struct Auth {
    /// Short critical sections only, never held across an await.
    state: Mutex<State>,
    /// Held for the whole handshake: one re-auth at a time.
    gate: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    /// DssAuth service URL discovered by GetAuthConfig.
    auth_url: Option<String>,
    auth_cookie: Option<AuthorizationCookie>,
    cookie: Option<Cookie>,
    /// Bumped whenever a new cookie is installed, so that a rejection reported by a call
    /// that used an older cookie does not throw away a fresh one.
    generation: u64,
    /// The last cookie was dropped (rejected or forgotten): the next handshake is a re-auth.
    dropped: bool,
}

/// The cookie a call uses, and which one it was.
pub(super) struct Session {
    pub cookie: Cookie,
    pub generation: u64,
}

impl Auth {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh(&self) -> Option<Session> {
        let st = self.state();
        let cookie = st.cookie.as_ref()?;
        (cookie.expires - OffsetDateTime::now_utc() >= REFRESH_MARGIN).then(|| Session {
            cookie: cookie.clone(),
            generation: st.generation,
        })
    }

    /// The USS rejected the cookie of `generation`: drop it (and, for
    /// `InvalidAuthorizationCookie`, the authorization cookie and auth URL too).
    pub(super) fn invalidate(&self, generation: u64, everything: bool) {
        let mut st = self.state();
        if st.generation != generation {
            return; // someone already replaced it
        }
        if st.cookie.take().is_some() {
            st.dropped = true;
        }
        if everything {
            st.auth_cookie = None;
            st.auth_url = None;
        }
    }

    pub(super) fn forget(&self) {
        let mut st = self.state();
        if st.cookie.is_some() || st.auth_cookie.is_some() {
            st.dropped = true;
        }
        st.cookie = None;
        st.auth_cookie = None;
        st.auth_url = None;
    }
}

impl Inner {
    /// A cookie with at least five minutes left, doing whatever handshake that takes.
    pub(super) async fn session(&self) -> Result<Session, Error> {
        if let Some(s) = self.auth.fresh() {
            return Ok(s);
        }
        let _gate = self.auth.gate.lock().await;
        // Another call may have finished a handshake while we waited.
        if let Some(s) = self.auth.fresh() {
            return Ok(s);
        }
        let (auth_url, auth_cookie, old) = {
            let mut st = self.auth.state();
            if std::mem::take(&mut st.dropped) {
                Counters::bump(&self.stats.reauths, 1);
            }
            (
                st.auth_url.clone(),
                st.auth_cookie.clone(),
                st.cookie.clone(),
            )
        };
        let cookie = self.handshake(auth_url, auth_cookie, old).await?;
        let mut st = self.auth.state();
        st.generation += 1;
        st.cookie = Some(cookie.clone());
        Ok(Session {
            cookie,
            generation: st.generation,
        })
    }

    /// GetCookie with the authorization cookie we hold; if the USS refuses that (or we hold
    /// none), start over from GetAuthConfig.
    async fn handshake(
        &self,
        auth_url: Option<String>,
        auth_cookie: Option<AuthorizationCookie>,
        old: Option<Cookie>,
    ) -> Result<Cookie, Error> {
        let mut auth_url = auth_url;
        if let Some(ac) = &auth_cookie {
            match self.get_cookie(ac, old.as_ref()).await {
                Err(e) if e.fault_code() == Some("InvalidAuthorizationCookie") => {
                    tracing::warn!(cause = %e, "upstream refused our authorization cookie; starting over");
                    let mut st = self.auth.state();
                    st.auth_cookie = None;
                    st.auth_url = None;
                    auth_url = None;
                }
                other => return other,
            }
        }
        let auth_url = match auth_url {
            Some(url) => url,
            None => {
                let service = self
                    .transport
                    .call(
                        &messages::GET_AUTH_CONFIG,
                        &self.server_sync_url,
                        messages::get_auth_config(),
                        self.opts.timeout,
                        messages::parse_auth_config,
                    )
                    .await?;
                let url = join_service_url(&self.base, &service)?;
                self.auth.state().auth_url = Some(url.clone());
                url
            }
        };
        let ac = self
            .transport
            .call(
                &messages::GET_AUTHORIZATION_COOKIE,
                &auth_url,
                messages::get_authorization_cookie(&self.opts.account_name, self.opts.server_id),
                self.opts.timeout,
                messages::parse_authorization_cookie,
            )
            .await?;
        self.auth.state().auth_cookie = Some(ac.clone());
        self.get_cookie(&ac, None).await
    }

    /// GetCookie; a refresh sends the current cookie as `oldCookie`, and if the USS will not
    /// take that one any more, asks again without it.
    async fn get_cookie(
        &self,
        ac: &AuthorizationCookie,
        old: Option<&Cookie>,
    ) -> Result<Cookie, Error> {
        let send = |old: Option<&Cookie>| {
            self.transport.call(
                &messages::GET_COOKIE,
                &self.server_sync_url,
                messages::get_cookie(ac, old, &self.opts.protocol_version),
                self.opts.timeout,
                messages::parse_cookie,
            )
        };
        match send(old).await {
            Err(e)
                if old.is_some()
                    && matches!(e.fault_code(), Some("InvalidCookie" | "CookieExpired")) =>
            {
                send(None).await
            }
            other => other,
        }
    }
}
