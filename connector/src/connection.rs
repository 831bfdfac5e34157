//! Connection parameters, checked and normalised once before any request.

use std::fmt;

use crate::error::{Error, Result};

/// A checked connection: where the appliance is, the token pair and its [`Settings`].
///
/// `Debug` never shows the private token.
#[derive(Clone, PartialEq)]
pub struct Connection {
    scheme: &'static str,
    authority: String,
    public_token: String,
    private_token: String,
    settings: Settings,
}

/// Per-connection settings that most connections leave unset (the WIT `connection` record's
/// optional fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    /// Seconds to add to this machine's clock when signing, for an appliance whose clock is
    /// known to differ; positive when the appliance is ahead. -86400 to 86400.
    pub clock_offset_seconds: Option<i32>,
    /// Most sends of one request that fails with 429, 500, 502 or 503, the first included;
    /// only requests safe to repeat are sent again. 1 to 10.
    pub max_attempts: Option<u8>,
    /// Most seconds spent waiting between the attempts of one request. 0 to 300.
    pub max_retry_wait_seconds: Option<u16>,
}

impl Settings {
    /// Refuses values outside their ranges, naming the field.
    pub fn check(&self) -> Result<()> {
        let out_of_range = |field: &str, value: i64, range: &str| {
            Err(Error::InvalidConnection(format!(
                "{field} is {value}; give a value from {range}, or leave it unset for the default"
            )))
        };
        if let Some(v) = self.clock_offset_seconds
            && !(-86_400..=86_400).contains(&v)
        {
            return out_of_range("clock_offset_seconds", v.into(), "-86400 to 86400 (one day)");
        }
        if let Some(v) = self.max_attempts
            && !(1..=10).contains(&v)
        {
            return out_of_range("max_attempts", v.into(), "1 (no retry) to 10");
        }
        if let Some(v) = self.max_retry_wait_seconds
            && v > 300
        {
            return out_of_range("max_retry_wait_seconds", v.into(), "0 to 300");
        }
        Ok(())
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("base_url", &self.base_url())
            .field("public_token", &self.public_token)
            .field("private_token", &"<redacted>")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Connection {
    /// Checks and normalises connection parameters.
    ///
    /// `api_address` may be `host`, `host:port`, `https://host[:port]` or `http://host[:port]`,
    /// with or without a trailing `/`; without a scheme `https` is assumed.
    pub fn new(api_address: &str, public_token: &str, private_token: &str) -> Result<Self> {
        let (scheme, authority) = parse_address(api_address)?;
        check_token("public token", public_token)?;
        check_token("private token", private_token)?;
        Ok(Connection {
            scheme,
            authority,
            public_token: public_token.to_owned(),
            private_token: private_token.to_owned(),
            settings: Settings::default(),
        })
    }

    /// The same connection with `settings`, once they are checked.
    pub fn with_settings(mut self, settings: Settings) -> Result<Self> {
        settings.check()?;
        self.settings = settings;
        Ok(self)
    }

    /// The connection's settings.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// `host[:port]`, as sent in the request's authority.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// `scheme://host[:port]`, with no trailing `/`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// The public token.
    pub fn public_token(&self) -> &str {
        &self.public_token
    }

    /// The private token; only the signing code should need it.
    pub(crate) fn private_token(&self) -> &str {
        &self.private_token
    }
}

fn parse_address(raw: &str) -> Result<(&'static str, String)> {
    let bad = |why: &str| {
        Error::InvalidConnection(format!(
            "api address `{}` {why}; give `host`, `host:port` or `https://host[:port]`",
            raw.trim()
        ))
    };
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(Error::InvalidConnection(
            "api address is empty; give the appliance's `host`, `host:port` or `https://host[:port]`".into(),
        ));
    }
    let (scheme, rest) = match trimmed.split_once("://") {
        Some((s, rest)) => match s.to_ascii_lowercase().as_str() {
            "https" => ("https", rest),
            "http" => ("http", rest),
            _ => return Err(bad("has an unsupported scheme (only https and http work)")),
        },
        None => ("https", trimmed),
    };
    if rest.contains(['/', '?', '#']) {
        return Err(bad("has a path, query or fragment: the API lives at the root of the host"));
    }
    if rest.contains('@') {
        return Err(bad("has user information: tokens go in the token fields"));
    }
    let (host, port) = split_host_port(rest).ok_or_else(|| bad("is not a valid host and port"))?;
    let host_ok = if host.starts_with('[') {
        host.len() > 2 && host[1..host.len() - 1].chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    } else {
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    };
    if !host_ok {
        return Err(bad("has an invalid host name"));
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err(bad("has a port outside 1..65535")),
        }
    }
    Ok((scheme, rest.to_ascii_lowercase()))
}

/// Splits `host[:port]`, where host may be a bracketed IPv6 literal.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if s.starts_with('[') {
        let close = s.find(']')?;
        let (host, rest) = s.split_at(close + 1);
        match rest {
            "" => Some((host, None)),
            _ => Some((host, Some(rest.strip_prefix(':')?))),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => Some((h, Some(p))),
            None => Some((s, None)),
        }
    }
}

fn check_token(which: &str, token: &str) -> Result<()> {
    if token.is_empty() {
        return Err(Error::InvalidConnection(format!(
            "the {which} is empty; create a token pair on the appliance (System Config > API Access) and give both halves"
        )));
    }
    // Header values cannot carry these, and a pasted token with a stray newline is a common mistake.
    if token.chars().any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii()) {
        return Err(Error::InvalidConnection(format!(
            "the {which} contains whitespace or non-ASCII characters; paste it again without spaces or line breaks"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(addr: &str) -> Result<String> {
        Connection::new(addr, "pub", "priv").map(|c| c.base_url())
    }

    #[test]
    fn every_documented_address_form_is_accepted() {
        assert_eq!(base("dt.example.com").unwrap(), "https://dt.example.com");
        assert_eq!(base("10.0.0.5:8443").unwrap(), "https://10.0.0.5:8443");
        assert_eq!(base("https://dt.example.com/").unwrap(), "https://dt.example.com");
        assert_eq!(base(" HTTPS://DT.example.com:443// ").unwrap(), "https://dt.example.com:443");
        assert_eq!(base("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(base("[::1]:8443").unwrap(), "https://[::1]:8443");
    }

    #[test]
    fn malformed_addresses_are_invalid_connections() {
        for addr in ["", "ftp://x", "https://x/api", "x:0", "x:99999", "user@x", "bad host", "x?y"] {
            let err = base(addr).unwrap_err();
            assert_eq!(err.case(), "invalid-connection", "{addr}: {err}");
        }
    }

    #[test]
    fn tokens_with_whitespace_or_empty_are_refused() {
        assert!(Connection::new("x", "", "p").is_err());
        assert!(Connection::new("x", "a", "p\n").is_err());
    }

    #[test]
    fn debug_redacts_private_token() {
        let c = Connection::new("x", "pub-token", "very-secret-token").unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("pub-token"));
        assert!(!shown.contains("very-secret-token"));
    }
}
