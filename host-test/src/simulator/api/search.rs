//! The `/devicesearch` query language and result ordering.
//!
//! A query is free text, field filters such as `hostname:"web*" ip:"10.0.*"`, or both. Free
//! words must each appear (case-insensitively) in the hostname, IP, MAC, label or vendor.
//! Filters on different fields must all match; repeating a field offers alternatives. A filter
//! value matches the whole field, with `*` standing for any run of characters.

use std::cmp::Ordering;
use std::net::Ipv4Addr;

use crate::simulator::data::devices::Device;

/// A field a filter can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Hostname,
    Ip,
    Mac,
    Label,
    Vendor,
    Os,
    Type,
    Tag,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name.to_ascii_lowercase().as_str() {
            "hostname" => Field::Hostname,
            "ip" => Field::Ip,
            "mac" | "macaddress" => Field::Mac,
            "label" | "devicelabel" => Field::Label,
            "vendor" => Field::Vendor,
            "os" => Field::Os,
            "type" => Field::Type,
            "tag" => Field::Tag,
            _ => return None,
        })
    }

    /// The device's values for this field; a device can have several types or tags.
    fn values(self, d: &Device) -> Vec<&str> {
        match self {
            Field::Hostname => d.hostname.as_deref().into_iter().collect(),
            Field::Ip => d.ip.as_deref().into_iter().collect(),
            Field::Mac => d.mac.as_deref().into_iter().collect(),
            Field::Label => d.label.as_deref().into_iter().collect(),
            Field::Vendor => d.vendor.as_deref().into_iter().collect(),
            Field::Os => d.os.as_deref().into_iter().collect(),
            Field::Type => vec![d.typename, d.typelabel],
            Field::Tag => d.tag_names().collect(),
        }
    }
}

/// A parsed search query.
#[derive(Debug, Default)]
pub(crate) struct Query {
    /// Lowercased free words.
    words: Vec<String>,
    /// Each field with its lowercased alternatives.
    filters: Vec<(Field, Vec<String>)>,
}

impl Query {
    /// Parses a query. Anything that is not a known `field:value` is free text, matching the
    /// appliance's habit of ignoring what it does not understand rather than failing.
    pub(crate) fn parse(query: &str) -> Query {
        let mut parsed = Query::default();
        for token in tokens(query) {
            if let Some((name, value)) = token.split_once(':')
                && let Some(field) = Field::parse(name)
            {
                let value = unquote(value).to_lowercase();
                match parsed.filters.iter_mut().find(|(f, _)| *f == field) {
                    Some((_, alternatives)) => alternatives.push(value),
                    None => parsed.filters.push((field, vec![value])),
                }
            } else {
                let word = unquote(&token).to_lowercase();
                if !word.is_empty() {
                    parsed.words.push(word);
                }
            }
        }
        parsed
    }

    /// Whether `device` satisfies the query.
    pub(crate) fn matches(&self, device: &Device) -> bool {
        let free = [&device.hostname, &device.ip, &device.mac, &device.label, &device.vendor];
        let words_match = self.words.iter().all(|word| {
            free.iter().any(|value| value.as_deref().is_some_and(|v| v.to_lowercase().contains(word.as_str())))
        });
        words_match
            && self.filters.iter().all(|(field, alternatives)| {
                let values = field.values(device);
                alternatives.iter().any(|pattern| values.iter().any(|v| glob(pattern, &v.to_lowercase())))
            })
    }
}

/// Splits on whitespace outside double quotes.
pub(super) fn tokens(query: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

pub(super) fn unquote(value: &str) -> &str {
    let value = value.strip_prefix('"').unwrap_or(value);
    value.strip_suffix('"').unwrap_or(value)
}

/// Whole-string match where `*` stands for any run of characters.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and where in the text it started matching, to retry from there.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// A `/devicesearch` sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderBy {
    Priority,
    Hostname,
    Ip,
    Mac,
    Vendor,
    Os,
    FirstSeen,
    LastSeen,
    Label,
    TypeLabel,
}

/// A comparable value of a device field.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Number(i64),
    Text(String),
}

impl OrderBy {
    /// Reads an `orderBy` value (case-insensitively).
    pub(crate) fn parse(name: &str) -> Option<OrderBy> {
        Some(match name.to_ascii_lowercase().as_str() {
            "priority" => OrderBy::Priority,
            "hostname" => OrderBy::Hostname,
            "ip" => OrderBy::Ip,
            "macaddress" => OrderBy::Mac,
            "vendor" => OrderBy::Vendor,
            "os" => OrderBy::Os,
            "firstseen" => OrderBy::FirstSeen,
            "lastseen" => OrderBy::LastSeen,
            "devicelabel" => OrderBy::Label,
            "typelabel" => OrderBy::TypeLabel,
            _ => return None,
        })
    }

    fn key(self, d: &Device) -> Option<Key> {
        let text = |v: &Option<String>| v.as_ref().map(|s| Key::Text(s.to_lowercase()));
        match self {
            OrderBy::Priority => Some(Key::Number(d.priority)),
            OrderBy::Hostname => text(&d.hostname),
            // Numeric, so 10.0.0.9 sorts before 10.0.0.10.
            OrderBy::Ip => {
                d.ip.as_ref().and_then(|ip| ip.parse::<Ipv4Addr>().ok()).map(|ip| Key::Number(u32::from(ip).into()))
            }
            OrderBy::Mac => text(&d.mac),
            OrderBy::Vendor => text(&d.vendor),
            OrderBy::Os => text(&d.os),
            OrderBy::FirstSeen => Some(Key::Number(d.first_seen)),
            OrderBy::LastSeen => Some(Key::Number(d.last_seen)),
            OrderBy::Label => text(&d.label),
            OrderBy::TypeLabel => Some(Key::Text(d.typelabel.to_lowercase())),
        }
    }

    /// Orders two devices; devices without the field come last either way, and ties go by
    /// device id so pages never overlap.
    pub(crate) fn compare(self, a: &Device, b: &Device, descending: bool) -> Ordering {
        let by_field = match (self.key(a), self.key(b)) {
            (Some(x), Some(y)) if descending => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_field.then(a.did.cmp(&b.did))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run_of_characters() {
        assert!(glob("web*", "web-01.dmz.corp.example"));
        assert!(glob("10.0.*", "10.0.2.14"));
        assert!(glob("*corp*", "ws-fin-001.corp.example"));
        assert!(glob("a*b*c", "a-x-b-y-c"));
        assert!(!glob("web*", "ws-web-01"));
        assert!(!glob("web", "web-01"));
        assert!(glob("*", ""));
    }

    #[test]
    fn quoted_values_keep_their_spaces() {
        assert_eq!(tokens(r#"hostname:"web 01" vendor:dell"#), vec![r#"hostname:"web 01""#, "vendor:dell"]);
        let q = Query::parse(r#"hostname:"WEB*" hostname:"dc*" finance"#);
        assert_eq!(q.filters, vec![(Field::Hostname, vec!["web*".to_string(), "dc*".to_string()])]);
        assert_eq!(q.words, vec!["finance"]);
    }

    #[test]
    fn unknown_fields_are_free_text() {
        let q = Query::parse("colour:red");
        assert!(q.filters.is_empty());
        assert_eq!(q.words, vec!["colour:red"]);
    }
}
