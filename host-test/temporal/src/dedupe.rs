//! Retries that never duplicate a write.
//!
//! Temporal runs an activity at least once: a worker that dies after the appliance applied a
//! write but before it reported the result leaves the activity to time out and run again. For
//! the writes that would then happen twice (a comment, a tag, a watched domain, a manual
//! RESPOND action), every attempt after the first reads the appliance back and, when the
//! change is already there, reports it instead of sending it again. The read is keyed by the
//! activity's identity: the same breach, device or list as the input, the same text or name,
//! and created no earlier than the activity was first scheduled (less [`CLOCK_TOLERANCE_MS`]
//! for the appliance's clock). Acknowledging, pinning, clearing and the other state changes are
//! idempotent and simply run again.

use serde_json::{Value, json};

/// How far the appliance's clock may lag the Temporal server's and a change still count as
/// made by this activity. A change with the same text made this much before the activity was
/// first scheduled is also taken as this activity's: an accepted, documented trade-off.
pub const CLOCK_TOLERANCE_MS: i64 = 120_000;

/// The read that shows whether `action` with `input` was already applied, as (action, input);
/// `None` for actions that are safe to repeat.
pub fn read_back(action: &str, input: &Value) -> Option<(&'static str, Value)> {
    match action {
        "add-model-breach-comment" => Some(("list-model-breach-comments", json!({"pbid": input.get("pbid")?}))),
        "add-ai-analyst-comment" => {
            Some(("list-ai-analyst-comments", json!({"incident_id": input.get("incident_id")?})))
        }
        "add-device-tag" => Some(("list-device-tags", json!({"did": input.get("did")?}))),
        "add-watched-domains" => Some((
            "list-watched-domains",
            match input.get("source") {
                Some(source) => json!({"source": source}),
                None => json!({}),
            },
        )),
        "create-manual-respond-action" => {
            Some(("list-respond-actions", json!({"did": input.get("did")?, "include_cleared": true})))
        }
        _ => None,
    }
}

/// The result to report for `action` when `read` (the answer of [`read_back`]'s action) shows
/// the change is already applied since `since_ms` (epoch ms, the activity's first scheduling);
/// `None` when it is not, and the write must be sent.
pub fn applied_result(action: &str, input: &Value, read: &Value, since_ms: i64) -> Option<Value> {
    let since = since_ms - CLOCK_TOLERANCE_MS;
    let items = |v: &Value| v.as_array().cloned().unwrap_or_default();
    match action {
        "add-model-breach-comment" | "add-ai-analyst-comment" => {
            let message = input.get("message")?.as_str()?;
            // The newest matching comment: the one this activity wrote.
            items(read).into_iter().rev().find(|c| {
                c.get("message").and_then(Value::as_str) == Some(message)
                    && c.get("time").and_then(Value::as_i64).is_some_and(|t| t >= since)
            })
        }
        "add-device-tag" => {
            let tag = input.get("tag")?.as_str()?;
            let found = items(read).into_iter().find(|t| t.get("name").and_then(Value::as_str) == Some(tag))?;
            Some(json!({
                "did": input.get("did")?,
                "tag": tag,
                "tid": found.get("tid").cloned().unwrap_or(Value::Null),
                "state": "tagged",
                "raw": found.get("raw").cloned().unwrap_or(Value::Null),
            }))
        }
        "add-watched-domains" => {
            let wanted: Vec<String> = input
                .get("entries")?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .map(|e| e.trim().to_lowercase())
                .collect();
            let present: Vec<String> = items(read)
                .iter()
                .filter_map(|e| e.get("name").and_then(Value::as_str))
                .map(str::to_lowercase)
                .collect();
            if wanted.is_empty() || !wanted.iter().all(|w| present.contains(w)) {
                return None;
            }
            let mut entries = wanted;
            entries.dedup();
            Some(json!({"added": 0, "updated": 0, "removed": 0, "entries": entries, "raw": {"deduplicated": true}}))
        }
        "create-manual-respond-action" => {
            let reason = input.get("reason")?.as_str()?;
            let did = input.get("did")?.as_u64()?;
            let actions = read.get("actions").map(items).unwrap_or_default();
            let found = actions.into_iter().rev().find(|a| {
                a.get("manual") == Some(&Value::Bool(true))
                    && a.get("did").and_then(Value::as_u64) == Some(did)
                    && a.get("triggerer_reason").and_then(Value::as_str) == Some(reason)
                    && a.get("start").and_then(Value::as_i64).is_some_and(|t| t >= since)
            })?;
            Some(json!({
                "codeid": found.get("codeid")?,
                "state": "created",
                "duration_seconds": input.get("duration_seconds").cloned().unwrap_or(Value::Null),
                "expires": found.get("expires").cloned().unwrap_or(Value::Null),
                "expires_iso": found.get("expires_iso").cloned().unwrap_or(Value::Null),
                "raw": found.get("raw").cloned().unwrap_or_else(|| json!({})),
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULED: i64 = 1_700_000_000_000;

    #[test]
    fn a_comment_already_written_since_scheduling_is_reported_not_resent() {
        let input = json!({"pbid": 5, "message": "seen"});
        assert_eq!(read_back("add-model-breach-comment", &input).unwrap().0, "list-model-breach-comments");
        let mine = json!({"pbid": 5, "message": "seen", "username": "api", "time": SCHEDULED + 900});
        let read = json!([{"message": "seen", "time": SCHEDULED - 86_400_000}, mine.clone()]);
        assert_eq!(applied_result("add-model-breach-comment", &input, &read, SCHEDULED), Some(mine));
    }

    #[test]
    fn an_older_comment_with_the_same_text_does_not_count() {
        let input = json!({"pbid": 5, "message": "seen"});
        let read =
            json!([{"message": "seen", "time": SCHEDULED - 86_400_000}, {"message": "other", "time": SCHEDULED}]);
        assert_eq!(applied_result("add-model-breach-comment", &input, &read, SCHEDULED), None);
    }

    #[test]
    fn a_tag_already_on_the_device_is_reported_as_tagged() {
        let input = json!({"did": 3, "tag": "triaged"});
        let read = json!([{"tid": 12, "name": "triaged", "raw": {"tid": 12}}]);
        let result = applied_result("add-device-tag", &input, &read, SCHEDULED).unwrap();
        assert_eq!(result, json!({"did": 3, "tag": "triaged", "tid": 12, "state": "tagged", "raw": {"tid": 12}}));
        assert_eq!(applied_result("add-device-tag", &input, &json!([]), SCHEDULED), None);
    }

    #[test]
    fn watched_domains_count_as_applied_only_when_every_entry_is_there() {
        let input = json!({"entries": ["Evil.example ", "bad.example"]});
        let some = json!([{"name": "evil.example"}]);
        assert_eq!(applied_result("add-watched-domains", &input, &some, SCHEDULED), None);
        let all = json!([{"name": "evil.example"}, {"name": "bad.example"}]);
        assert!(applied_result("add-watched-domains", &input, &all, SCHEDULED).is_some());
    }

    #[test]
    fn a_manual_respond_action_is_matched_by_device_reason_and_start() {
        let input = json!({"did": 9, "action": "quarantine", "duration_seconds": 600, "reason": "triage 42"});
        let action = |reason: &str, start: i64| {
            json!({"codeid": 77, "manual": true, "did": 9, "triggerer_reason": reason, "start": start,
                   "expires": start + 600_000, "expires_iso": "x", "raw": {}})
        };
        let read = json!({"actions": [action("triage 42", SCHEDULED + 10)], "devices": []});
        assert_eq!(applied_result("create-manual-respond-action", &input, &read, SCHEDULED).unwrap()["codeid"], 77);
        let other = json!({"actions": [action("something else", SCHEDULED + 10)], "devices": []});
        assert_eq!(applied_result("create-manual-respond-action", &input, &other, SCHEDULED), None);
    }

    #[test]
    fn idempotent_actions_need_no_read_back() {
        for action in ["acknowledge-model-breach", "pin-ai-analyst-incident", "get-device", "clear-respond-action"] {
            assert!(read_back(action, &json!({"pbid": 1})).is_none(), "{action}");
        }
    }
}
