//! `manifests/darktrace.json` is generated output: the output schemas and their field docs come
//! from the WIT (read with `wit-parser`), everything else from the per-action table
//! `manifests/catalogue.json`. This test fails when the committed manifest differs from what
//! the two give; regenerate it with
//!
//! ```text
//! UPDATE_MANIFEST=1 cargo test -p darktrace-connector --test generated_manifest
//! ```
//!
//! Each WIT record an output uses becomes one entry of the manifest's `$defs`, referred to with
//! `$ref` wherever the record appears. WIT has no words for some of what the schemas say (a
//! string field holding a JSON document, a date-time format, a range narrower than the integer
//! type): those go in the catalogue's `fields`, by record and field name.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use wit_parser::{Resolve, Type, TypeDefKind, TypeId};

const SCHEMA: &str = "https://json-schema.org/draft/2020-12/schema";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The WIT package and what the generator needs from the catalogue.
struct Generator {
    resolve: Resolve,
    package: wit_parser::PackageId,
    /// Extra schema keywords per record field: `fields.<record>.<field>`.
    fields: Map<String, Value>,
    /// The `$defs` written so far, by record name.
    defs: Map<String, Value>,
}

impl Generator {
    fn new(catalogue: &Value) -> Generator {
        let wit = repo().join("wit");
        let mut deps = Vec::new();
        for entry in std::fs::read_dir(wit.join("deps")).expect("read wit/deps") {
            deps.push(package_group(&entry.expect("a wit/deps entry").path()));
        }
        let mut resolve = Resolve::default();
        let package = resolve.push_groups(package_group(&wit), deps).expect("resolve wit/");
        let fields = catalogue["fields"].as_object().cloned().unwrap_or_default();
        Generator { resolve, package, fields, defs: Map::new() }
    }

    /// The WIT function of `action` (any interface but `generic`).
    fn function(&self, action: &str) -> &wit_parser::Function {
        self.resolve.packages[self.package]
            .interfaces
            .iter()
            .filter(|(name, _)| name.as_str() != "generic")
            .find_map(|(_, id)| self.resolve.interfaces[*id].functions.get(action))
            .unwrap_or_else(|| panic!("the catalogue names `{action}`, which no WIT interface declares"))
    }

    /// The JSON input properties `action`'s WIT parameters give: a record parameter's fields, any
    /// other parameter by its name (the connection aside), `-` as `_`.
    fn input_names(&self, action: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for param in self.function(action).params.iter().filter(|p| p.name != "connection") {
            match self.record(&param.ty) {
                Some(record) => names.extend(record.fields.iter().map(|f| f.name.replace('-', "_"))),
                None => {
                    names.insert(param.name.replace('-', "_"));
                }
            }
        }
        names
    }

    /// The record `ty` is (through aliases), if it is one.
    fn record(&self, ty: &Type) -> Option<&wit_parser::Record> {
        let Type::Id(id) = ty else { return None };
        match &self.resolve.types[*id].kind {
            TypeDefKind::Record(r) => Some(r),
            TypeDefKind::Type(t) => self.record(t),
            _ => None,
        }
    }

    /// The schema of the `ok` type of `action`'s `result<T, error>`.
    fn output(&mut self, action: &str) -> Value {
        let result = self.function(action).result.unwrap_or_else(|| panic!("`{action}` returns nothing"));
        let Type::Id(id) = result else { panic!("`{action}` does not return a result") };
        let TypeDefKind::Result(r) = &self.resolve.types[id].kind else {
            panic!("`{action}` does not return a result")
        };
        let ok = r.ok.unwrap_or_else(|| panic!("`{action}` returns result<_, error> without a value"));
        self.schema(&ok)
    }

    fn schema(&mut self, ty: &Type) -> Value {
        match ty {
            Type::Bool => json!({"type": "boolean"}),
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => json!({"type": "integer", "minimum": 0}),
            Type::S8 | Type::S16 | Type::S32 | Type::S64 => json!({"type": "integer"}),
            Type::F32 | Type::F64 => json!({"type": "number"}),
            Type::Char | Type::String => json!({"type": "string"}),
            Type::ErrorContext => panic!("an output holds an error-context"),
            Type::Id(id) => self.typedef(*id),
        }
    }

    fn typedef(&mut self, id: TypeId) -> Value {
        let def = &self.resolve.types[id];
        match def.kind.clone() {
            TypeDefKind::Type(t) => self.schema(&t),
            TypeDefKind::Option(t) => nullable(self.schema(&t)),
            TypeDefKind::List(t) => json!({"type": "array", "items": self.schema(&t)}),
            TypeDefKind::Enum(e) => {
                json!({"type": "string", "enum": e.cases.iter().map(|c| c.name.clone()).collect::<Vec<_>>()})
            }
            TypeDefKind::Record(record) => {
                let name = def.name.clone().expect("a named record");
                if !self.defs.contains_key(&name) {
                    // Claimed before the fields are walked, so a record cannot recurse forever.
                    self.defs.insert(name.clone(), Value::Null);
                    let docs = docs(&def.docs);
                    let extra = self.fields.get(&name).cloned().unwrap_or_default();
                    let mut properties = Map::new();
                    for field in &record.fields {
                        let mut property = Map::new();
                        property.insert("description".into(), json!(docs_of(&field.docs, &name, &field.name)));
                        let Value::Object(schema) = self.schema(&field.ty) else { unreachable!() };
                        property.extend(schema);
                        if let Some(Value::Object(more)) = extra.get(&field.name) {
                            // A catalogue `type` for a WIT string: `invoke` answers the document
                            // itself where the typed export gives its text.
                            if more.contains_key("type")
                                && let Some(Value::String(doc)) = property.get_mut("description")
                            {
                                *doc = doc.replace(", as JSON text", "").replace(" as JSON text", "");
                            }
                            property.extend(more.clone());
                        }
                        properties.insert(field.name.replace('-', "_"), Value::Object(property));
                    }
                    if let Some(unknown) =
                        extra.as_object().and_then(|e| e.keys().find(|k| !record.fields.iter().any(|f| f.name == **k)))
                    {
                        panic!("catalogue fields.{name}.{unknown}: no such field in the WIT record");
                    }
                    let required: Vec<Value> = properties.keys().map(|k| json!(k)).collect();
                    let mut schema = Map::new();
                    if let Some(docs) = docs {
                        schema.insert("description".into(), json!(docs));
                    }
                    schema.insert("type".into(), json!("object"));
                    schema.insert("additionalProperties".into(), json!(false));
                    schema.insert("required".into(), Value::Array(required));
                    schema.insert("properties".into(), Value::Object(properties));
                    self.defs.insert(name.clone(), Value::Object(schema));
                }
                json!({"$ref": format!("#/$defs/{name}")})
            }
            other => panic!("no JSON schema mapping for WIT type {other:?} in an output"),
        }
    }
}

/// The `.wit` files of one directory, parsed as one package (without wit-parser's `std`
/// feature, which reads directories but changes the features of crates wasmtime shares).
fn package_group(dir: &Path) -> wit_parser::UnresolvedPackageGroup {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wit"))
        .collect();
    files.sort();
    let mut sources = wit_parser::SourceMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        sources.push_str(&file.display().to_string(), text);
    }
    sources.parse().unwrap_or_else(|(_, e)| panic!("parse {}: {e:?}", dir.display()))
}

/// The same schema also allowing `null`.
fn nullable(schema: Value) -> Value {
    let mut schema = schema;
    match schema.get_mut("type") {
        Some(Value::String(t)) => {
            let t = t.clone();
            schema["type"] = json!([t, "null"]);
            schema
        }
        Some(Value::Array(types)) => {
            types.push(json!("null"));
            schema
        }
        _ => json!({"anyOf": [schema, {"type": "null"}]}),
    }
}

/// A doc comment as one line of text.
fn docs(docs: &wit_parser::Docs) -> Option<String> {
    docs.contents.as_deref().map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn docs_of(d: &wit_parser::Docs, record: &str, field: &str) -> String {
    docs(d).unwrap_or_else(|| panic!("WIT field {record}.{field} has no doc comment"))
}

/// The manifest the WIT and the catalogue give.
fn generate() -> Value {
    let catalogue: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("manifests/catalogue.json")).expect("read manifests/catalogue.json"),
    )
    .expect("manifests/catalogue.json is JSON");
    let mut generator = Generator::new(&catalogue);
    let mut manifest = Map::new();
    let head = catalogue["manifest"].as_object().expect("catalogue.manifest");
    for (key, value) in head {
        manifest.insert(key.clone(), value.clone());
        if key == "name" {
            manifest.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
        }
        if key == "vendor" {
            manifest
                .insert("wit_package".into(), json!(generator.resolve.packages[generator.package].name.to_string()));
        }
    }
    let mut actions = Vec::new();
    for entry in catalogue["actions"].as_array().expect("catalogue.actions") {
        let name = entry["name"].as_str().expect("an action name");
        let mut action = Map::new();
        for key in ["name", "title", "description", "category", "read_only", "destructive"] {
            action.insert(
                key.into(),
                entry.get(key).unwrap_or_else(|| panic!("{name}: no `{key}` in the catalogue")).clone(),
            );
        }
        let input = &entry["input"];
        // The input schemas are the catalogue's own (WIT parameters carry no docs, and the JSON
        // input takes the appliance's words for enums), but their properties are the WIT's.
        let properties: BTreeSet<String> =
            input["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
        assert_eq!(properties, generator.input_names(name), "{name}: catalogue input properties vs WIT parameters");
        action.insert(
            "input".into(),
            json!({
                "$schema": SCHEMA,
                "type": "object",
                "additionalProperties": false,
                "required": input.get("required").cloned().unwrap_or(json!([])),
                "properties": input.get("properties").cloned().unwrap_or(json!({})),
            }),
        );
        let generated = generator.output(name);
        let mut output = Map::new();
        output.insert("$schema".into(), json!(SCHEMA));
        // An output the WIT carries as text (a JSON document) is described in the catalogue.
        match entry.get("output") {
            Some(Value::Object(given)) => output.extend(given.clone()),
            _ => output.extend(generated.as_object().cloned().unwrap_or_default()),
        }
        action.insert("output".into(), Value::Object(output));
        actions.push(Value::Object(action));
    }
    manifest.insert("actions".into(), Value::Array(actions));
    let mut defs: Vec<(String, Value)> = generator.defs.into_iter().collect();
    defs.sort_by(|a, b| a.0.cmp(&b.0));
    manifest.insert("$defs".into(), Value::Object(defs.into_iter().collect()));
    Value::Object(manifest)
}

#[test]
fn the_manifest_is_what_the_wit_and_the_catalogue_generate() {
    let text = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
    let path = repo().join("manifests/darktrace.json");
    if std::env::var_os("UPDATE_MANIFEST").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == text,
        "manifests/darktrace.json is stale: run `UPDATE_MANIFEST=1 cargo test -p darktrace-connector --test generated_manifest`"
    );
}
