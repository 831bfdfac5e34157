//! Model components: what a model measures and which filters must match, and the
//! `triggeredComponents` entries a breach records when they do.

use serde_json::{Value, json};

use crate::simulator::rng::Rng;

/// The kinds of behaviour the simulated models watch for. Each kind is one model component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    RareExternal,
    DataTransfer,
    Beacon,
    WatchedDomain,
    DnsVolume,
    SelfSignedTls,
    Rdp,
    Ssh,
    FailedConnections,
    Download,
    UserAgent,
    PortScan,
    SmbRewrites,
    AuthFailures,
    Tor,
    RemoteTool,
    Cleartext,
    PeerToPeer,
    InternalTransfer,
    SaasLogin,
    SaasInboxRule,
    SaasDownloads,
    SystemNotice,
}

/// A metric as `/metrics` names it.
struct Metric {
    mlid: u64,
    name: &'static str,
    label: &'static str,
}

/// What a filter's trigger value is drawn from when the component fires.
enum Trigger {
    /// The filter's own argument (an "is" or "matches" filter).
    Argument,
    /// A number in the range, inclusive.
    Number(i64, i64),
    /// One of a few values.
    OneOf(&'static [&'static str]),
    /// A rarely seen external hostname.
    RareHost,
    /// An external IP address (documentation ranges only).
    ExternalIp,
    /// An internal address.
    InternalIp,
}

/// One filter of a component.
struct Filter {
    filter_type: &'static str,
    comparator: &'static str,
    argument: Option<&'static str>,
    trigger: Trigger,
}

/// A component definition: metric, threshold, interval (s) and filters. Display filters
/// (comparator `display`) only add context to the alert, so they take no part in the logic.
/// The filter tables are `const` blocks because a `const fn` call is never promoted to a
/// `'static` value on its own.
struct Spec {
    metric: Metric,
    threshold: u64,
    interval: u64,
    filters: &'static [Filter],
}

const fn filter(
    filter_type: &'static str,
    comparator: &'static str,
    argument: Option<&'static str>,
    trigger: Trigger,
) -> Filter {
    Filter { filter_type, comparator, argument, trigger }
}

const fn display(filter_type: &'static str, trigger: Trigger) -> Filter {
    Filter { filter_type, comparator: "display", argument: None, trigger }
}

// The catalogue reads best as a table, one filter per line, so rustfmt leaves it alone.
#[rustfmt::skip]
fn spec(kind: Kind) -> Spec {
    use Trigger::*;
    const EXTERNAL: Metric = Metric { mlid: 1, name: "externalconnections", label: "External Connections" };
    const EXTERNAL_DATA: Metric = Metric { mlid: 4, name: "externaldata", label: "External Data Transfer" };
    const INTERNAL: Metric = Metric { mlid: 2, name: "internalconnections", label: "Internal Connections" };
    const INTERNAL_DATA: Metric = Metric { mlid: 5, name: "internaldata", label: "Internal Data Transfer" };
    const DNS: Metric = Metric { mlid: 11, name: "dnsrequests", label: "DNS Requests" };
    const HTTP: Metric = Metric { mlid: 17, name: "httprequests", label: "HTTP Requests" };
    const NOTICES: Metric = Metric { mlid: 23, name: "notices", label: "Notices" };
    const SAAS: Metric = Metric { mlid: 206, name: "saas::loginsuccess", label: "SaaS Login Success" };
    const SAAS_ACTIONS: Metric = Metric { mlid: 211, name: "saas::resourcemodified", label: "SaaS Resource Modified" };

    const PORTS: &[&str] = &["443", "8443", "80", "4444", "8080"];
    const COUNTRIES: &[&str] = &["Brazil", "Vietnam", "Nigeria", "Romania", "Peru"];

    match kind {
        Kind::RareExternal => Spec { metric: EXTERNAL, threshold: 0, interval: 3600, filters: const { &[
            filter("Rare external endpoint", ">", Some("95"), Number(95, 100)),
            filter("Direction", "is", Some("out"), Argument),
            display("Connection hostname", RareHost),
            display("Destination IP", ExternalIp),
        ] } },
        Kind::DataTransfer => Spec { metric: EXTERNAL_DATA, threshold: 50_000_000, interval: 3600, filters: const { &[
            filter("Individual size up", ">", Some("10000000"), Number(10_000_000, 900_000_000)),
            filter("Rare external endpoint", ">", Some("90"), Number(90, 100)),
            display("Connection hostname", RareHost),
        ] } },
        Kind::Beacon => Spec { metric: EXTERNAL, threshold: 0, interval: 86400, filters: const { &[
            filter("Beaconing score", ">=", Some("80"), Number(80, 100)),
            filter("Rare domain", ">", Some("90"), Number(90, 100)),
            filter("Destination port", "in", Some("80,443,8080"), OneOf(&["443", "80", "8080"])),
            display("Connection hostname", RareHost),
        ] } },
        Kind::WatchedDomain => Spec { metric: DNS, threshold: 0, interval: 0, filters: const { &[
            filter("Watched domain", "is", Some("true"), Argument),
            display("DNS host lookup", RareHost),
        ] } },
        Kind::DnsVolume => Spec { metric: DNS, threshold: 400, interval: 3600, filters: const { &[
            filter("DNS host lookup", "matches regular expression", Some("^[a-z0-9]{30,}\\."), RareHost),
            filter("Unusual DNS query length", ">", Some("60"), Number(61, 120)),
        ] } },
        Kind::SelfSignedTls => Spec { metric: EXTERNAL, threshold: 0, interval: 3600, filters: const { &[
            filter("SSL self-signed", "is", Some("true"), Argument),
            filter("Application protocol", "is", Some("SSL"), Argument),
            display("Destination IP", ExternalIp),
        ] } },
        Kind::Rdp => Spec { metric: INTERNAL, threshold: 0, interval: 3600, filters: const { &[
            filter("Destination port", "=", Some("3389"), Argument),
            filter("Unusual connection", ">", Some("90"), Number(90, 100)),
            display("Destination IP", InternalIp),
        ] } },
        Kind::Ssh => Spec { metric: EXTERNAL, threshold: 0, interval: 3600, filters: const { &[
            filter("Application protocol", "is", Some("SSH"), Argument),
            filter("Rare external IP", ">", Some("95"), Number(95, 100)),
            display("Destination IP", ExternalIp),
        ] } },
        Kind::FailedConnections => Spec { metric: EXTERNAL, threshold: 20, interval: 600, filters: const { &[
            filter("Connection status", "is", Some("Failed"), Argument),
            filter("Destination port", "in", Some("443,4444,8080"), OneOf(PORTS)),
            display("Destination IP", ExternalIp),
        ] } },
        Kind::Download => Spec { metric: HTTP, threshold: 0, interval: 3600, filters: const { &[
            filter("MIME type", "matches", Some("application/x-dosexec"), Argument),
            filter("Rare domain", ">", Some("95"), Number(95, 100)),
            display("URI", OneOf(&["/update/setup.exe", "/dl/invoice.js", "/files/patch.ps1"])),
            display("Connection hostname", RareHost),
        ] } },
        Kind::UserAgent => Spec { metric: HTTP, threshold: 0, interval: 3600, filters: const { &[
            filter("New user agent", "is", Some("true"), Argument),
            display("User agent", OneOf(&["python-requests/2.31.0", "curl/8.5.0", "Go-http-client/1.1", "Nmap Scripting Engine"])),
            display("Connection hostname", RareHost),
        ] } },
        Kind::PortScan => Spec { metric: INTERNAL, threshold: 100, interval: 300, filters: const { &[
            filter("Unique ports", ">", Some("100"), Number(101, 3000)),
            filter("Connection status", "is", Some("Failed"), Argument),
        ] } },
        Kind::SmbRewrites => Spec { metric: INTERNAL, threshold: 50, interval: 600, filters: const { &[
            filter("Application protocol", "is", Some("SMB"), Argument),
            filter("SMB rename with new extension", ">", Some("50"), Number(51, 900)),
            display("Destination IP", InternalIp),
        ] } },
        Kind::AuthFailures => Spec { metric: NOTICES, threshold: 30, interval: 900, filters: const { &[
            filter("Message", "contains", Some("KERBEROS_PREAUTH_FAILED"), Argument),
            filter("Unique credentials", ">", Some("10"), Number(11, 80)),
        ] } },
        Kind::Tor => Spec { metric: EXTERNAL, threshold: 0, interval: 3600, filters: const { &[
            filter("Tor exit node", "is", Some("true"), Argument),
            display("Destination IP", ExternalIp),
        ] } },
        Kind::RemoteTool => Spec { metric: EXTERNAL, threshold: 0, interval: 86400, filters: const { &[
            filter("Hostname", "matches", Some("*.remote-support.example"), RareHost),
            display("Destination port", OneOf(&["443", "5938"])),
        ] } },
        Kind::Cleartext => Spec { metric: INTERNAL, threshold: 0, interval: 3600, filters: const { &[
            filter("Application protocol", "in", Some("FTP,TELNET,HTTP"), OneOf(&["FTP", "TELNET", "HTTP"])),
            filter("Cleartext password", "is", Some("true"), Argument),
        ] } },
        Kind::PeerToPeer => Spec { metric: EXTERNAL, threshold: 0, interval: 3600, filters: const { &[
            filter("Application protocol", "is", Some("BITTORRENT"), Argument),
            display("Destination IP", ExternalIp),
        ] } },
        Kind::InternalTransfer => Spec { metric: INTERNAL_DATA, threshold: 2_000_000_000, interval: 3600, filters: const { &[
            filter("Individual size down", ">", Some("1000000000"), Number(1_000_000_000, 9_000_000_000)),
            filter("Unusual connection", ">", Some("80"), Number(80, 100)),
            display("Destination IP", InternalIp),
        ] } },
        Kind::SaasLogin => Spec { metric: SAAS, threshold: 0, interval: 3600, filters: const { &[
            filter("Unusual country for user", ">", Some("90"), Number(90, 100)),
            display("Country", OneOf(COUNTRIES)),
            display("Source IP", ExternalIp),
        ] } },
        Kind::SaasInboxRule => Spec { metric: SAAS_ACTIONS, threshold: 0, interval: 3600, filters: const { &[
            filter("Event", "is", Some("New-InboxRule"), Argument),
            filter("Forwarding address domain", "is external", None, RareHost),
        ] } },
        Kind::SaasDownloads => Spec { metric: SAAS_ACTIONS, threshold: 100, interval: 3600, filters: const { &[
            filter("Event", "is", Some("FileDownloaded"), Argument),
            filter("Unique files", ">", Some("100"), Number(101, 1500)),
        ] } },
        Kind::SystemNotice => Spec { metric: NOTICES, threshold: 0, interval: 300, filters: const { &[
            filter("Message", "contains", Some("system:"), OneOf(&["system:probe traffic dropped", "system:sensor heartbeat missed"])),
        ] } },
    }
}

/// Rare external names: reserved example domains, so nothing here can ever resolve.
pub(crate) const RARE_HOSTS: &[&str] = &[
    "cdn-sync.example.net",
    "a83f1c0e9b2d.example.org",
    "update-check.example.com",
    "files.share-drop.example",
    "telemetry.fastcdn.example",
    "login-verify.example.org",
    "img.static-assets.example",
    "x9q2.dyn.example.net",
];

/// The component of a model: its ids and kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Component {
    pub(crate) cid: u64,
    pub(crate) chid: u64,
    pub(crate) kind: Kind,
    /// First filter id of the component (`cfid`); later filters count up from it.
    pub(crate) first_cfid: u64,
}

impl Component {
    /// How many filters the component has.
    pub(crate) fn filter_count(&self) -> u64 {
        spec(self.kind).filters.len() as u64
    }

    /// The component definition as `/components/{cid}` returns it: the metric by id only, and
    /// the filters with their arguments but no trigger values.
    pub(crate) fn definition(&self) -> Value {
        let spec = spec(self.kind);
        let mut letters = ('A'..='Z').map(String::from);
        let mut shown = 0;
        let mut logic_ids = Vec::new();
        let filters: Vec<Value> = spec
            .filters
            .iter()
            .zip(self.first_cfid..)
            .map(|(f, cfid)| {
                let id = if f.comparator == "display" {
                    shown += 1;
                    format!("d{shown}")
                } else {
                    let id = letters.next().unwrap_or_default();
                    logic_ids.push(id.clone());
                    id
                };
                let arguments = f.argument.map_or_else(|| json!({}), |a| json!({ "value": argument_value(a) }));
                json!({ "id": id, "cfid": cfid, "cid": self.cid, "chid": self.chid, "filtertype": f.filter_type,
                    "comparator": f.comparator, "arguments": arguments })
            })
            .collect();
        json!({
            "cid": self.cid, "chid": self.chid, "mlid": spec.metric.mlid, "threshold": spec.threshold,
            "interval": spec.interval, "logic": { "data": and_chain(&logic_ids), "version": "v0.1" },
            "filters": filters, "active": true,
        })
    }

    /// A `triggeredComponents` entry for this component firing at `time` (ms).
    pub(crate) fn triggered(&self, rng: &mut Rng, cbid: u64, time: i64) -> Value {
        let spec = spec(self.kind);
        let mut letters = ('A'..='Z').map(String::from);
        let mut shown = 0;
        let mut logic_ids = Vec::new();
        let filters: Vec<Value> = spec
            .filters
            .iter()
            .zip(self.first_cfid..)
            .map(|(f, cfid)| {
                let id = if f.comparator == "display" {
                    shown += 1;
                    format!("d{shown}")
                } else {
                    let id = letters.next().unwrap_or_default();
                    logic_ids.push(id.clone());
                    id
                };
                let arguments = f.argument.map_or_else(|| json!({}), |a| json!({ "value": argument_value(a) }));
                json!({ "cfid": cfid, "id": id, "filterType": f.filter_type, "arguments": arguments,
                    "comparatorType": f.comparator, "trigger": { "value": trigger_value(rng, f) } })
            })
            .collect();
        let size = if spec.threshold > 0 { spec.threshold + rng.range(1, 40) as u64 } else { 1 };
        json!({
            "time": time, "cbid": cbid, "cid": self.cid, "chid": self.chid, "size": size,
            "threshold": spec.threshold, "interval": spec.interval,
            "logic": { "data": and_chain(&logic_ids), "version": "v0.1" },
            "metric": { "mlid": spec.metric.mlid, "name": spec.metric.name, "label": spec.metric.label },
            "triggeredFilters": filters,
        })
    }
}

/// Numeric arguments are JSON numbers on the appliance, everything else a string.
fn argument_value(argument: &str) -> Value {
    argument.parse::<i64>().map_or_else(|_| json!(argument), |n| json!(n))
}

/// Trigger values are strings, as the appliance reports them even for numeric filters.
fn trigger_value(rng: &mut Rng, f: &Filter) -> String {
    match &f.trigger {
        Trigger::Argument => f.argument.unwrap_or("true").to_owned(),
        Trigger::Number(lo, hi) => rng.range(*lo, *hi).to_string(),
        Trigger::OneOf(values) => rng.pick(values).to_string(),
        Trigger::RareHost => rng.pick(RARE_HOSTS).to_string(),
        Trigger::ExternalIp => {
            let net = rng.pick(&["192.0.2", "198.51.100", "203.0.113"]);
            format!("{net}.{}", rng.range(1, 254))
        }
        Trigger::InternalIp => format!("10.0.1.{}", rng.range(10, 60)),
    }
}

/// The component logic: every non-display filter must match, as a left-leaning AND tree.
fn and_chain(ids: &[String]) -> Value {
    match ids {
        [] => json!({}),
        [only] => json!({ "left": only }),
        [first, rest @ ..] => {
            let right = rest.iter().rev().skip(1).fold(
                json!(rest[rest.len() - 1]),
                |right, left| json!({ "left": left, "operator": "AND", "right": right }),
            );
            json!({ "left": first, "operator": "AND", "right": right })
        }
    }
}

/// Attack-phase tags for models built from a kind, as model authors tag them.
pub(crate) fn attack_phase(kind: Kind) -> &'static str {
    match kind {
        Kind::Beacon | Kind::WatchedDomain | Kind::SelfSignedTls | Kind::Tor | Kind::DnsVolume => "AP: C2 Comms",
        Kind::DataTransfer | Kind::SaasDownloads | Kind::InternalTransfer => "AP: Exfiltration",
        Kind::Rdp | Kind::SmbRewrites | Kind::Ssh => "AP: Lateral Movement",
        Kind::PortScan | Kind::AuthFailures => "AP: Reconnaissance",
        Kind::Download | Kind::UserAgent => "AP: Tooling",
        Kind::SaasLogin | Kind::SaasInboxRule => "AP: Initial Access",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_logic_ands_every_non_display_filter() {
        let ids: Vec<String> = ["A", "B", "C"].map(String::from).to_vec();
        assert_eq!(
            and_chain(&ids),
            json!({ "left": "A", "operator": "AND", "right": { "left": "B", "operator": "AND", "right": "C" } })
        );
        assert_eq!(and_chain(&ids[..1]), json!({ "left": "A" }));
    }
}
