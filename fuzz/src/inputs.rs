//! One valid input per action, written for these harnesses: `response_parsing` sends it and
//! fuzzes the answer, and the seed corpus of `invoke_input` starts from it.

/// Every action with an input it accepts, so the call reaches the transport.
pub const VALID_INPUTS: &[(&str, &str)] = &[
    ("test-connection", "{}"),
    ("list-model-breaches", r#"{"start":"2024-01-15T00:00:00Z","end":1705311000000,"min_score":0.5,"minimal":false}"#),
    ("get-model-breach", r#"{"pbid":12345}"#),
    ("acknowledge-model-breach", r#"{"pbid":12345}"#),
    ("unacknowledge-model-breach", r#"{"pbid":12345}"#),
    ("add-model-breach-comment", r#"{"pbid":12345,"message":"Seen by the fuzz harness"}"#),
    ("list-model-breach-comments", r#"{"pbid":12345}"#),
    ("get-device", r#"{"did":42}"#),
    ("search-devices", r#"{"query":"hostname:\"web*\"","count":10,"offset":0}"#),
    ("get-model-breach-connections", r#"{"pbid":12345,"count":5}"#),
    ("list-comments", r#"{"start":1705300000000,"end":1705311000000}"#),
    ("list-ai-analyst-incidents", r#"{"include_acknowledged":true,"min_score":10}"#),
    ("get-ai-analyst-incident", r#"{"uuid":"0b7e2c44-51d3-4a8e-9f10-6a2b3c4d5e6f"}"#),
    ("list-ai-analyst-groups", r#"{"critical":true}"#),
    ("get-ai-analyst-group", r#"{"group_id":"g0b7e2c44-51d3-4a8e-9f10-6a2b3c4d5e6f"}"#),
    ("acknowledge-ai-analyst-incident", r#"{"uuids":["0b7e2c44-51d3-4a8e-9f10-6a2b3c4d5e6f"]}"#),
    ("unacknowledge-ai-analyst-incident", r#"{"uuids":["0b7e2c44-51d3-4a8e-9f10-6a2b3c4d5e6f"]}"#),
    (
        "pin-ai-analyst-incident",
        r#"{"uuids":["0b7e2c44-51d3-4a8e-9f10-6a2b3c4d5e6f","1c8f3d55-62e4-4b9f-a021-7b3c4d5e6f70"]}"#,
    ),
    ("unpin-ai-analyst-incident", r#"{"uuids":["0b7e2c44-51d3-4a8e-9f10-6a2b3c4d5e6f"]}"#),
    ("add-ai-analyst-comment", r#"{"incident_id":"0b7e2c44-51d3-4a8e-9f10-6a2b3c4d5e6f","message":"Triaged"}"#),
    ("list-ai-analyst-comments", r#"{"incident_id":"0b7e2c44-51d3-4a8e-9f10-6a2b3c4d5e6f"}"#),
    ("start-ai-analyst-investigation", r#"{"did":42,"investigate_time":"2024-01-15T10:30:00Z"}"#),
    ("get-ai-analyst-investigation", r#"{"investigation_id":"inv-7"}"#),
    ("list-devices", r#"{"seen_since":"5hour","count":10}"#),
    ("get-device-summary", r#"{"did":42}"#),
    ("list-similar-devices", r#"{"did":42,"count":3}"#),
    ("get-device-connection-info", r#"{"did":42,"data_type":"sizeout","external_domain":"example.com"}"#),
    ("list-device-events", r#"{"did":42,"event_type":"notice","count":20}"#),
    ("update-device", r#"{"did":42,"label":"Build server","priority":2}"#),
    ("list-tags", r#"{"name":"Critical"}"#),
    ("list-device-tags", r#"{"did":42}"#),
    ("list-tagged-devices", r#"{"tag":"Critical"}"#),
    ("add-device-tag", r#"{"did":42,"tag":"Under review","duration_seconds":3600}"#),
    ("remove-device-tag", r#"{"did":42,"tag":"Under review"}"#),
    ("get-endpoint-details", r#"{"hostname":"cdn.example.net","devices":true}"#),
    ("list-models", "{}"),
    ("get-model", r#"{"pid":17}"#),
    ("get-model-component", r#"{"cid":900}"#),
    ("get-enums", r#"{"section":"countries"}"#),
    ("advanced-search", r#"{"query":"@type:\"dns\"","start":1705300000000,"end":1705311000000,"size":10}"#),
    ("list-subnets", r#"{"seen_since_seconds":3600}"#),
    ("list-respond-actions", r#"{"did":42,"include_history":true}"#),
    ("activate-respond-action", r#"{"codeid":501,"reason":"Confirmed by analyst"}"#),
    ("clear-respond-action", r#"{"codeid":501,"reason":"False positive"}"#),
    ("extend-respond-action", r#"{"codeid":501,"extend_by_seconds":600,"reason":"Still investigating"}"#),
    ("reactivate-respond-action", r#"{"codeid":501,"duration_seconds":3600,"reason":"Seen again"}"#),
    (
        "create-manual-respond-action",
        r#"{"did":42,"action":"quarantine","duration_seconds":3600,"reason":"Ransomware suspected"}"#,
    ),
    ("get-respond-summary", "{}"),
    ("list-watched-domains", r#"{"source":"SOAR"}"#),
    (
        "add-watched-domains",
        r#"{"entries":["evil.example.com","10.1.2.0/24"],"description":"From a playbook","source":"SOAR"}"#,
    ),
    ("remove-watched-domains", r#"{"entries":["evil.example.com"]}"#),
    ("get-status", "{}"),
    ("get-summary-statistics", "{}"),
    ("poll-model-breaches", r#"{"max_items":5}"#),
    ("poll-ai-analyst-incidents", r#"{"max_items":5,"overlap_seconds":60}"#),
];

/// The valid input of `action`; panics for an action this table lacks, which a test catches.
pub fn valid_input(action: &str) -> &'static str {
    VALID_INPUTS
        .iter()
        .find(|(name, _)| *name == action)
        .map(|(_, input)| *input)
        .unwrap_or_else(|| panic!("no valid input for `{action}`: add one to fuzz/src/inputs.rs"))
}
