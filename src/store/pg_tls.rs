//! PostgreSQL over TLS: libpq's `sslmode`, `sslrootcert`, `sslcert` and
//! `sslkey` in `db-dsn` (URL query or key=value), which tokio-postgres does
//! not read itself, and the OpenSSL connector that enforces them.
//!
//! OpenSSL because FreeSWITCH links it already: the module uses the same
//! `libssl.so` the switch has loaded (no second TLS stack in the process),
//! and takes the system's OpenSSL updates and CA store with it.

use std::path::PathBuf;

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// TLS if the server offers it, unverified; the default, as in libpq.
    #[default]
    Prefer,
    /// TLS or nothing; unverified (verified as `verify-ca` when
    /// `sslrootcert` is given, as libpq does).
    Require,
    /// The server's certificate must chain to `sslrootcert` (or the
    /// system's CAs).
    VerifyCa,
    /// As `verify-ca`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode '{other}' is not one of disable, prefer, require, verify-ca, \
                     verify-full"
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// The TLS keywords of a DSN.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

const KEYWORDS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey"];

impl TlsOptions {
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "sslmode" => self.mode = SslMode::parse(value)?,
            "sslrootcert" => self.root_cert = Some(PathBuf::from(value)),
            "sslcert" => self.cert = Some(PathBuf::from(value)),
            "sslkey" => self.key = Some(PathBuf::from(value)),
            _ => {}
        }
        Ok(())
    }

    /// Whether the server's certificate is checked against a CA.
    fn verifies(&self) -> bool {
        match self.mode {
            SslMode::VerifyCa | SslMode::VerifyFull => true,
            SslMode::Require => self.root_cert.is_some(),
            SslMode::Disable | SslMode::Prefer => false,
        }
    }

    /// tokio-postgres's own mode: whether TLS is tried, and required.
    pub fn client_mode(&self) -> tokio_postgres::config::SslMode {
        match self.mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }

    /// What the options are, for log lines.
    pub fn describe(&self) -> String {
        let mut text = format!("sslmode={}", self.mode.as_str());
        for (name, path) in [
            ("sslrootcert", &self.root_cert),
            ("sslcert", &self.cert),
            ("sslkey", &self.key),
        ] {
            if let Some(path) = path {
                text.push_str(&format!(", {name}={}", path.display()));
            }
        }
        text
    }

    /// The connector that makes TLS as these options say.
    pub fn connector(&self) -> Result<MakeTlsConnector, String> {
        let mut builder = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| format!("cannot set up TLS: {e}"))?;
        if self.verifies() {
            builder.set_verify(SslVerifyMode::PEER);
            match &self.root_cert {
                Some(ca) => builder.set_ca_file(ca).map_err(|e| {
                    format!("db-dsn sslrootcert {}: cannot read it: {e}", ca.display())
                })?,
                None => builder
                    .set_default_verify_paths()
                    .map_err(|e| format!("cannot read the system's CA certificates: {e}"))?,
            }
        } else {
            builder.set_verify(SslVerifyMode::NONE);
        }
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                builder.set_certificate_chain_file(cert).map_err(|e| {
                    format!("db-dsn sslcert {}: cannot read it: {e}", cert.display())
                })?;
                builder
                    .set_private_key_file(key, SslFiletype::PEM)
                    .map_err(|e| format!("db-dsn sslkey {}: cannot read it: {e}", key.display()))?;
            }
            (None, None) => {}
            _ => return Err("db-dsn: sslcert and sslkey go together".to_owned()),
        }
        let mut connector = MakeTlsConnector::new(builder.build());
        if self.mode != SslMode::VerifyFull {
            connector.set_callback(|config, _| {
                config.set_verify_hostname(false);
                Ok(())
            });
        }
        Ok(connector)
    }
}

/// Splits the TLS keywords out of a DSN: the DSN without them (for
/// tokio-postgres), and the options.
pub fn split(dsn: &str) -> Result<(String, TlsOptions), String> {
    let mut options = TlsOptions::default();
    let dsn = dsn.trim();
    if dsn.starts_with("postgresql://") || dsn.starts_with("postgres://") {
        let Some((base, query)) = dsn.split_once('?') else {
            return Ok((dsn.to_owned(), options));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if KEYWORDS.contains(&key) {
                options.set(key, &percent_decode(value)?)?;
            } else {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, options));
    }
    let mut kept = Vec::new();
    for (key, value, raw) in key_values(dsn)? {
        if KEYWORDS.contains(&key.as_str()) {
            options.set(&key, &value)?;
        } else {
            kept.push(raw);
        }
    }
    Ok((kept.join(" "), options))
}

/// A %-escaped URL value (as FreeSWITCH's event text is escaped, so the
/// capture reader's decoder serves).
fn percent_decode(text: &str) -> Result<String, String> {
    String::from_utf8(crate::domain::capture::url_decode(text))
        .map_err(|_| format!("not UTF-8 in the connection URL: {text}"))
}

/// The `key=value` pairs of a libpq key=value string (values plain or in
/// single quotes with `\'` and `\\`), each with its raw text.
fn key_values(dsn: &str) -> Result<Vec<(String, String, String)>, String> {
    let chars: Vec<char> = dsn.chars().collect();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i == chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && chars[i] != '=' && !chars[i].is_whitespace() {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if chars.get(i) != Some(&'=') {
            return Err(format!("'{key}' has no '=' in the connection string"));
        }
        i += 1;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if chars.get(i) == Some(&'\'') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("'{key}': unterminated quote")),
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        if let Some(c) = chars.get(i + 1) {
                            value.push(*c);
                        }
                        i += 2;
                    }
                    Some(c) => {
                        value.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                value.push(chars[i]);
                i += 1;
            }
        }
        let raw: String = chars[start..i].iter().collect();
        pairs.push((key, value, raw));
    }
    Ok(pairs)
}

/// A key=value DSN with its password shown as `***` (the whole string, if
/// it cannot be read, is shown only up to the first `password`).
pub fn redact_key_values(dsn: &str) -> String {
    match key_values(dsn) {
        Ok(pairs) => pairs
            .into_iter()
            .map(|(key, _, raw)| {
                if key == "password" {
                    "password=***".to_owned()
                } else {
                    raw
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        Err(_) => match dsn.find("password") {
            Some(at) => format!("{}password=***", &dsn[..at]),
            None => dsn.to_owned(),
        },
    }
}

/// `password` added to a DSN, as libpq would read it there.
pub fn with_password(dsn: &str, password: &str) -> String {
    let dsn = dsn.trim();
    if dsn.starts_with("postgresql://") || dsn.starts_with("postgres://") {
        let encoded: String = password
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let joiner = if dsn.contains('?') { '&' } else { '?' };
        format!("{dsn}{joiner}password={encoded}")
    } else {
        let quoted = password.replace('\\', "\\\\").replace('\'', "\\'");
        format!("{dsn} password='{quoted}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_keywords_come_out_of_both_forms() {
        let (rest, tls) = split(
            "postgresql://u@db:5432/cc?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgresql://u@db:5432/cc?application_name=x");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        let (rest, tls) = split(
            "host=db user=u sslmode=verify-ca sslrootcert='/my dir/ca.pem' sslcert=/c sslkey=/k",
        )
        .unwrap();
        assert_eq!(rest, "host=db user=u");
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/my dir/ca.pem")));
        assert_eq!(
            (tls.cert, tls.key),
            (Some(PathBuf::from("/c")), Some(PathBuf::from("/k")))
        );
        let (rest, tls) = split("postgresql://u@db/cc").unwrap();
        assert_eq!(
            (rest.as_str(), tls.mode),
            ("postgresql://u@db/cc", SslMode::Prefer)
        );
        assert!(
            split("host=db sslmode=maybe")
                .unwrap_err()
                .contains("sslmode 'maybe'")
        );
        assert!(split("host=db sslmode").is_err());
    }

    #[test]
    fn a_password_is_added_so_that_the_dsn_reads_it() {
        use std::str::FromStr;
        for dsn in [
            "postgresql://u@db/cc",
            "postgresql://u@db/cc?connect_timeout=3",
            "host=db user=u",
        ] {
            let with = with_password(dsn, "s3 cr'e\\t&=?%");
            let config = tokio_postgres::Config::from_str(&with).unwrap();
            assert_eq!(
                config.get_password(),
                Some(&b"s3 cr'e\\t&=?%"[..]),
                "{with}"
            );
        }
    }
}
