//! A component that exports the connector world and misbehaves on purpose: the host's sandbox
//! tests load it in place of the connector and require each misbehaviour to end in a typed
//! host error, after which the same host keeps serving calls.
//!
//! Each action name given to the generic `invoke` is one misbehaviour; every typed function is
//! a generated stub that traps (see `build.rs`). Built for `wasm32-wasip2` by the sandbox tests.

mod bindings {
    include!(concat!(env!("OUT_DIR"), "/connector.rs"));
}

use std::io::Write as _;
use std::time::Duration;

use bindings::Stub;
use bindings::exports::darktrace::connector::generic::Guest;
use bindings::exports::darktrace::connector::types::{Connection, Error};
use bindings::wasi::http::{outgoing_handler, types as ht};

bindings::export!(Stub with_types_in bindings);

/// The generated `Stub` traps in every typed function; its generic entry misbehaves on request.
impl Guest for Stub {
    fn describe() -> String {
        r#"{"id": "hostile", "version": "0.0.0"}"#.to_owned()
    }

    fn invoke(connection: Connection, action: String, input: String) -> Result<String, Error> {
        match action.as_str() {
            // Behaves: proves the host still serves this component after a misbehaviour.
            "ping" => Ok(r#"{"ok": true}"#.to_owned()),
            // `input` is a URL other than the connection's API address.
            "reach-elsewhere" => {
                let http = get(&input);
                let tcp = connect_tcp(&input);
                // Pretends all went well: the host must not take the component's word for it.
                Ok(format!(r#"{{"http": {http:?}, "tcp": {tcp:?}}}"#))
            }
            // The API address itself, to show the same request is allowed where the policy permits.
            "reach-api" => Ok(format!(r#"{{"http": {:?}}}"#, get(&connection.api_address))),
            // Looks for the host's files and environment; the sandbox gives it none.
            "read-host" => {
                let file = std::fs::read_to_string("/etc/passwd")
                    .map_or_else(|e| format!("refused: {e}"), |_| "read".to_owned());
                let dir = std::fs::read_dir("/").map_or_else(|e| format!("refused: {e}"), |_| "listed".to_owned());
                let env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                Ok(format!(r#"{{"file": {file:?}, "dir": {dir:?}, "env": {env:?}}}"#))
            }
            "allocate-forever" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![0xA5; 1024 * 1024]);
                    std::hint::black_box(&hoard);
                }
            }
            "loop-forever" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "sleep-forever" => {
                std::thread::sleep(Duration::from_secs(24 * 3600));
                Ok("{}".to_owned())
            }
            "trap" => core::arch::wasm32::unreachable(),
            "panic" => panic!("hostile component panicking on purpose"),
            "flood-stderr" => {
                let line = [b'x'; 4096];
                let mut stderr = std::io::stderr();
                // 64 MiB of output; a host that kept it all would balloon.
                for _ in 0..16 * 1024 {
                    if stderr.write_all(&line).is_err() {
                        break;
                    }
                }
                Ok(r#"{"flooded": true}"#.to_owned())
            }
            // Makes the host hold header maps: `input` is `count,bytes`; creates `count` fields
            // resources with one header of `bytes` each, all kept alive. Answers how many bytes
            // the host accepted; a host without limits accepts them all.
            "hoard-fields" => {
                let (count, bytes) = input.split_once(',').unwrap_or(("8192", "120000"));
                let (count, bytes): (usize, usize) = (count.parse().unwrap_or(0), bytes.parse().unwrap_or(0));
                let value = vec![b'a'; bytes];
                let mut hoard = Vec::new();
                let mut accepted: u64 = 0;
                for i in 0..count {
                    let fields = ht::Fields::new();
                    if fields.append(&format!("x-{i}"), &value).is_ok() {
                        accepted += value.len() as u64;
                    }
                    hoard.push(fields);
                }
                Ok(format!(r#"{{"fields": {}, "bytes": {accepted}}}"#, hoard.len()))
            }
            // Starts `input` (a number) GETs to the API address at once and reads none of their
            // bodies; answers how many got a response and how many were refused.
            "hold-requests" => {
                let wanted: usize = input.trim().parse().unwrap_or(16);
                let futures: Vec<_> = (0..wanted).filter_map(|_| start_get(&connection.api_address)).collect();
                let (mut answered, mut refused, mut held) = (0, 0, Vec::new());
                for future in &futures {
                    loop {
                        match future.get() {
                            Some(Ok(Ok(response))) => {
                                answered += 1;
                                held.push(response);
                                break;
                            }
                            Some(_) => {
                                refused += 1;
                                break;
                            }
                            None => future.subscribe().block(),
                        }
                    }
                }
                Ok(format!(r#"{{"answered": {answered}, "refused": {refused}}}"#))
            }
            "answer-not-json" => Ok("<html>this is not JSON</html>".to_owned()),
            // SAFETY: deliberately breaks `String`'s invariant; that is the misbehaviour under test,
            // and the bytes never reach Rust code that relies on it before crossing the boundary.
            "answer-invalid-utf8" => Ok(unsafe { String::from_utf8_unchecked(vec![b'{', 0xFF, 0xFE, b'}']) }),
            other => Err(Error::InvalidInput(format!("the hostile test component has no action `{other}`"))),
        }
    }
}

/// Tries a GET through wasi:http and says what happened.
fn get(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return format!("not a URL: {url}") };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let request = ht::OutgoingRequest::new(ht::Fields::new());
    let scheme = if scheme == "https" { ht::Scheme::Https } else { ht::Scheme::Http };
    if request.set_scheme(Some(&scheme)).is_err()
        || request.set_authority(Some(authority)).is_err()
        || request.set_path_with_query(Some(path)).is_err()
    {
        return "could not build the request".to_owned();
    }
    let future = match outgoing_handler::handle(request, None) {
        Ok(future) => future,
        Err(code) => return format!("refused at once: {code:?}"),
    };
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return format!("status {}", response.status()),
            Some(Ok(Err(code))) => return format!("failed: {code:?}"),
            Some(Err(())) => return "answer already taken".to_owned(),
            None => future.subscribe().block(),
        }
    }
}

/// Starts a GET to `url` through wasi:http without waiting for it.
fn start_get(url: &str) -> Option<ht::FutureIncomingResponse> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let request = ht::OutgoingRequest::new(ht::Fields::new());
    let scheme = if scheme == "https" { ht::Scheme::Https } else { ht::Scheme::Http };
    request.set_scheme(Some(&scheme)).ok()?;
    request.set_authority(Some(authority)).ok()?;
    request.set_path_with_query(Some("/status")).ok()?;
    outgoing_handler::handle(request, None).ok()
}

/// Tries a raw TCP connection to the URL's authority, around wasi:http.
fn connect_tcp(url: &str) -> String {
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest.split('/').next().unwrap_or(rest));
    match std::net::TcpStream::connect(authority) {
        Ok(_) => "connected".to_owned(),
        Err(e) => format!("refused: {e}"),
    }
}
