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
            assert!(
                err.message().contains(&field),
                "{name} {input}: the message does not name `{field}`: {}",
                err.message()
            );
            checked += 1;
        }
    }
    assert!(checked > 200, "only {checked} cases");
    assert!(
        sim.requests().is_empty(),
        "malformed input reached the appliance: {:?}",
        sim.requests().first().map(|r| r.path_and_query.clone())
    );
}

#[tokio::test]
async fn hostile_strings_are_refused_or_encoded_never_injected() {
    let (sim, conn) = simulator().await;
    let hostile = ["x&injected=1", "x#fragment", "line\nbreak", "a b%20c", "nul\u{0}byte", "ünïcødé ✓", "' OR 1=1 --"];
    let mut sent = 0;
    for action in actions() {
        let name = action["name"].as_str().unwrap();
        let schema = &action["input"];
        let required: Vec<&str> =
            schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for (property, definition) in schema["properties"].as_object().into_iter().flatten() {
            let is_string = definition["type"] == "string";
            // Only properties that make a complete input on their own can reach the wire.
            if !is_string || required.iter().any(|r| *r != property.as_str()) || action["read_only"] != true {
                continue;
            }
            for text in hostile {
                let before = sim.requests().len();
                match HOST.invoke(&conn, name, &json!({ property.as_str(): text }).to_string()).await.expect("no trap")
                {
                    Err(e) if e.case() == "invalid-input" => {
                        assert!(e.message().contains(property.as_str()), "{name}: {}", e.message())
                    }
                    _ => {}
                }
                for r in &sim.requests()[before..] {
                    sent += 1;
                    let pq = &r.path_and_query;
                    assert!(
                        !pq.contains("&injected=") && !pq.contains('#') && !pq.contains('\n') && !pq.contains(' '),
                        "{name}: {pq}"
                    );
                }
            }
        }
    }
    assert!(sent > 0, "no hostile string reached the wire, so nothing was checked");
}

/// Whether the schema allows a string.
fn takes_string(definition: &Value) -> bool {
    definition["type"] == "string" || definition["type"].as_array().is_some_and(|ts| ts.contains(&json!("string")))
}

#[tokio::test]
async fn huge_strings_are_refused_naming_the_field_and_send_nothing() {
    let (sim, conn) = simulator().await;
    let huge = "A".repeat(1024 * 1024);
    let mut checked = 0;
    for action in actions() {
        let name = action["name"].as_str().unwrap();
        for (property, definition) in action["input"]["properties"].as_object().into_iter().flatten() {
            if !takes_string(definition) {
                continue;
            }
            let err = invoke(&conn, name, json!({ property.as_str(): huge }))
                .await
                .expect_err("a 1 MiB string must be refused");
            assert_eq!(err.case(), "invalid-input", "{name}.{property}: {}", err.message());
            assert!(
                err.message().contains(&format!("`{property}`")) && err.message().contains("too long"),
                "{name}: {}",
                err.message()
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} string properties");
    let whole =
        HOST.invoke(&conn, "search-devices", &json!({"query": "x".repeat(5 * 1024 * 1024)}).to_string()).await.unwrap();
    assert!(whole.unwrap_err().message().contains("at most 4 MiB"));
    assert!(sim.requests().is_empty(), "an oversized input reached the appliance");
}

#[tokio::test]
async fn long_values_are_refused_by_their_field_limits_and_never_oversize_a_request() {
    let (sim, conn) = simulator().await;
    // Within the input limit, but longer than a request line an appliance accepts once encoded.
    let long = "é".repeat(10 * 1024);
    let mut refused = 0;
    for action in actions().into_iter().filter(|a| a["read_only"] == true) {
        let name = action["name"].as_str().unwrap();
        for (property, definition) in action["input"]["properties"].as_object().into_iter().flatten() {
            if !takes_string(definition) {
                continue;
            }
            if let Err(e) = invoke(&conn, name, json!({ property.as_str(): long })).await {
                assert_eq!(e.case(), "invalid-input", "{name}.{property}: {}", e.message());
                refused += usize::from(e.message().starts_with(&format!("`{property}`")));
            }
        }
    }
    assert!(refused > 20, "only {refused} long values were refused naming their field");
    for r in sim.requests() {
        assert!(
            r.path_and_query.len() <= 8 * 1024,
            "{} bytes sent: {}",
            r.path_and_query.len(),
            &r.path_and_query[..80]
        );
    }
}
