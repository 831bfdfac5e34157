//! Bad input for every action, derived from the manifest's input schemas: each malformed value
//! is refused as invalid-input naming its field, nothing reaches the appliance, and hostile
//! strings that are valid input are percent-encoded on the wire rather than changing the query.

use super::support::*;

fn actions() -> Vec<Value> {
    MANIFEST["actions"].as_array().unwrap().clone()
}

/// A value of the wrong type for a property of this schema.
fn wrong_value(property: &Value) -> Value {
    let types: Vec<&str> = match &property["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.contains(&"object") { json!("not an object") } else { json!({"not": "a scalar"}) }
}

#[tokio::test]
async fn every_action_refuses_malformed_input_naming_the_field_and_sends_nothing() {
    let (sim, conn) = simulator().await;
    let mut checked = 0;
    for action in actions() {
        let name = action["name"].as_str().unwrap();
        let schema = &action["input"];
        let mut cases = vec![(json!({"zz_unknown_property": 1}), "zz_unknown_property".to_owned())];
        if let Some(first) = schema["required"].as_array().and_then(|r| r.first()).and_then(Value::as_str) {
            cases.push((json!({}), first.to_owned()));
        }
        for (property, definition) in schema["properties"].as_object().into_iter().flatten() {
            cases.push((json!({ property.as_str(): wrong_value(definition) }), property.clone()));
            if definition["type"] == "integer" {
                cases.push((json!({ property.as_str(): -1.5 }), property.clone()));
            }
        }
        for (input, field) in cases {
            let err = invoke(&conn, name, input.clone()).await.expect_err("malformed input must be refused");
            assert_eq!(err.case(), "invalid-input", "{name} {input}: {}", err.message());
            assert!(err.message().contains(&field), "{name} {input}: the message does not name `{field}`: {}", err.message());
            checked += 1;
        }
    }
    assert!(checked > 200, "only {checked} cases");
    assert!(sim.requests().is_empty(), "malformed input reached the appliance: {:?}", sim.requests().first().map(|r| r.path_and_query.clone()));
}

#[tokio::test]
async fn hostile_strings_are_refused_or_encoded_never_injected() {
    let (sim, conn) = simulator().await;
    let hostile = ["x&injected=1", "x#fragment", "line\nbreak", "a b%20c", "nul\u{0}byte", "ünïcødé ✓", "' OR 1=1 --"];
    let mut sent = 0;
    for action in actions() {
        let name = action["name"].as_str().unwrap();
        let schema = &action["input"];
        let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for (property, definition) in schema["properties"].as_object().into_iter().flatten() {
            let is_string = definition["type"] == "string";
            // Only properties that make a complete input on their own can reach the wire.
            if !is_string || required.iter().any(|r| *r != property.as_str()) || action["read_only"] != true {
                continue;
            }
            for text in hostile {
                let before = sim.requests().len();
                match HOST.invoke(&conn, name, &json!({ property.as_str(): text }).to_string()).await.expect("no trap") {
                    Err(e) if e.case() == "invalid-input" => assert!(e.message().contains(property.as_str()), "{name}: {}", e.message()),
                    _ => {}
                }
                for r in &sim.requests()[before..] {
                    sent += 1;
                    let pq = &r.path_and_query;
                    assert!(!pq.contains("&injected=") && !pq.contains('#') && !pq.contains('\n') && !pq.contains(' '), "{name}: {pq}");
                }
            }
        }
    }
    assert!(sent > 0, "no hostile string reached the wire, so nothing was checked");
}
