//! Generates bindings for the connector world with a trapping stub for every typed function,
//! minus the stub of the generic entry, which `src/lib.rs` writes by hand. Generating from
//! `wit/` keeps this component exporting exactly the connector world as the WIT grows.

use std::path::PathBuf;

use anyhow::Context as _;
use wit_bindgen_core::WorldGenerator as _;
use wit_bindgen_core::wit_parser::Resolve;

fn main() -> anyhow::Result<()> {
    let wit = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../../wit");
    println!("cargo:rerun-if-changed={}", wit.display());

    let mut resolve = Resolve::default();
    let (package, _) = resolve.push_path(&wit).context("parsing the connector's WIT")?;
    let world = resolve.select_world(&[package], Some("connector"))?;
    let opts = wit_bindgen_rust::Opts { stubs: true, generate_all: true, ..Default::default() };
    let mut files = wit_bindgen_core::Files::default();
    opts.build().generate(&mut resolve, world, &mut files)?;
    let (_, source) = files.iter().next().context("wit-bindgen produced no file")?;

    let mut file: syn::File = syn::parse_str(std::str::from_utf8(source)?).context("parsing the generated bindings")?;
    file.items.retain(|item| !is_generic_stub(item) && !is_stub_export(item));
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("connector.rs");
    std::fs::write(&out, prettyplease::unparse(&file))?;
    Ok(())
}

/// `impl exports::darktrace::connector::generic::Guest for Stub { .. }`
fn is_generic_stub(item: &syn::Item) -> bool {
    let syn::Item::Impl(imp) = item else { return false };
    imp.trait_.as_ref().is_some_and(|(path, _)| {
        let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        names.ends_with(&["generic".to_owned(), "Guest".to_owned()])
    })
}

/// `export!(Stub);`, which would export the stub of the generic entry too.
fn is_stub_export(item: &syn::Item) -> bool {
    matches!(item, syn::Item::Macro(m) if m.mac.path.is_ident("export"))
}
