//! `http-auth`: a bearer token or Basic credentials, read from the
//! configuration and checked on every request in constant time.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

/// Who may read the pages and the APIs.
#[derive(Clone, PartialEq, Eq)]
pub enum HttpAuth {
    /// `Authorization: Bearer SECRET`, or `token=SECRET` in the query.
    Token(String),
    /// `Authorization: Basic ...` (the browser asks for them).
    Basic { user: String, password: String },
}

/// Never the secrets: a configuration may be logged or printed.
impl fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpAuth::Token(_) => f.write_str("Token(..)"),
            HttpAuth::Basic { user, .. } => write!(f, "Basic {{ user: {user:?}, .. }}"),
        }
    }
}

/// Reads an `http-auth` value: `token:SECRET` or `basic:USER:PASSWORD`
/// (the password may hold colons, the user may not).
pub fn parse_auth(text: &str) -> Result<HttpAuth, String> {
    let text = text.trim();
    let (kind, rest) = text
        .split_once(':')
        .ok_or_else(|| "http-auth must be token:SECRET or basic:USER:PASSWORD".to_owned())?;
    match kind.to_ascii_lowercase().as_str() {
        "token" if rest.is_empty() => Err("http-auth token:SECRET needs a secret".into()),
        "token" => Ok(HttpAuth::Token(rest.to_owned())),
        "basic" => match rest.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                Ok(HttpAuth::Basic {
                    user: user.to_owned(),
                    password: password.to_owned(),
                })
            }
            _ => Err("http-auth basic:USER:PASSWORD needs a user and a password".into()),
        },
        _ => Err(format!(
            "http-auth '{kind}:...' is neither token:SECRET nor basic:USER:PASSWORD"
        )),
    }
}

/// Equal bytes, in a time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// `Authorization: SCHEME VALUE` with the scheme in any case: the value.
fn credentials<'a>(authorization: Option<&'a [u8]>, scheme: &str) -> Option<&'a [u8]> {
    let header = authorization?;
    let n = scheme.len();
    (header.len() > n && header[..n].eq_ignore_ascii_case(scheme.as_bytes()) && header[n] == b' ')
        .then(|| header[n + 1..].trim_ascii())
}

impl HttpAuth {
    /// Whether a request with this `Authorization` header (if any) and
    /// this query string may pass.
    pub fn allows(&self, authorization: Option<&[u8]>, query: &str) -> bool {
        match self {
            HttpAuth::Token(secret) => {
                let header = credentials(authorization, "Bearer")
                    .is_some_and(|given| same(given, secret.as_bytes()));
                // Every `token` of the query is compared: none short-cuts.
                let query = form_urlencoded::parse(query.as_bytes())
                    .filter(|(key, _)| key == "token")
                    .fold(false, |ok, (_, given)| {
                        same(given.as_bytes(), secret.as_bytes()) | ok
                    });
                header | query
            }
            HttpAuth::Basic { user, password } => {
                let Some(encoded) = credentials(authorization, "Basic") else {
                    return false;
                };
                let Ok(decoded) = STANDARD.decode(encoded) else {
                    return false;
                };
                let Some(colon) = decoded.iter().position(|b| *b == b':') else {
                    return false;
                };
                let (given_user, given_password) = (&decoded[..colon], &decoded[colon + 1..]);
                // Both compared, so that a right user takes no longer.
                same(given_user, user.as_bytes()) & same(given_password, password.as_bytes())
            }
        }
    }

    /// The `WWW-Authenticate` challenge of a 401.
    pub fn challenge(&self) -> &'static str {
        match self {
            HttpAuth::Token(_) => "Bearer realm=\"cc_cdr\"",
            HttpAuth::Basic { .. } => "Basic realm=\"cc_cdr\", charset=\"UTF-8\"",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_values_are_read_and_bad_ones_refused() {
        assert_eq!(
            parse_auth("token:s3cret"),
            Ok(HttpAuth::Token("s3cret".into()))
        );
        assert_eq!(
            parse_auth(" basic:ann:pa:ss "),
            Ok(HttpAuth::Basic {
                user: "ann".into(),
                password: "pa:ss".into()
            })
        );
        for bad in [
            "",
            "token:",
            "token",
            "basic:ann",
            "basic::pw",
            "basic:ann:",
            "bearer:x",
        ] {
            assert!(parse_auth(bad).is_err(), "{bad}");
        }
        let debug = format!("{:?}", parse_auth("basic:ann:hidden").unwrap());
        assert!(!debug.contains("hidden"), "{debug}");
        assert!(!format!("{:?}", HttpAuth::Token("hidden".into())).contains("hidden"));
    }

    #[test]
    fn tokens_and_basic_credentials_are_checked() {
        let token = HttpAuth::Token("s3 cret".into());
        assert!(token.allows(Some(b"Bearer s3 cret"), ""));
        assert!(token.allows(Some(b"bearer s3 cret"), ""));
        assert!(token.allows(None, "a=1&token=s3+cret"));
        assert!(token.allows(None, "token=s3%20cret"));
        assert!(token.allows(None, "token=wrong&token=s3%20cret"));
        assert!(!token.allows(Some(b"Bearer s3"), "token=s3"));
        assert!(!token.allows(None, ""));
        assert!(!token.allows(Some(b"Basic czM6Y3JldA=="), ""));

        let basic = parse_auth("basic:ann:pa:ss").unwrap();
        let header = format!("Basic {}", STANDARD.encode("ann:pa:ss"));
        assert!(basic.allows(Some(header.as_bytes()), ""));
        let wrong = format!("Basic {}", STANDARD.encode("ann:pa"));
        assert!(!basic.allows(Some(wrong.as_bytes()), ""));
        assert!(!basic.allows(Some(b"Basic !!!"), ""));
        assert!(!basic.allows(None, "token=pa:ss"));
    }
}
