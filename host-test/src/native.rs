//! A native (non-wasm) transport for the connector's own code: the same signing, request
//! building and response mapping as the component, over a keep-alive hyper client. Benchmarks
//! use it as the "native client" baseline.

use bytes::Bytes;
use darktrace_connector::{Error, Result, Transport, WireRequest, WireResponse};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A blocking [`Transport`] driving a pooled HTTP/1.1 client on a tokio runtime. Call it from
/// threads outside the runtime (e.g. `spawn_blocking`).
pub struct NativeTransport {
    client: Client<HttpConnector, Full<Bytes>>,
    handle: tokio::runtime::Handle,
}

impl NativeTransport {
    /// A transport using the current tokio runtime.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        NativeTransport {
            client: Client::builder(TokioExecutor::new()).build(connector),
            handle: tokio::runtime::Handle::current(),
        }
    }
}

impl Default for NativeTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport for NativeTransport {
    fn send(&self, request: &WireRequest, max_body_bytes: u64) -> Result<WireResponse> {
        let mut builder = http::Request::builder().method(request.method.as_str()).uri(&request.url);
        // The request's headers carry `Content-Length` for a body (see `ApiRequest::sign`); a
        // `Full` body has the same exact length, so hyper frames it with that length, never chunked.
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        let body = Full::new(Bytes::from(request.body.clone().unwrap_or_default()));
        let http_request = builder.body(body).map_err(|e| Error::Other(format!("cannot build the request: {e}")))?;
        self.handle.block_on(async {
            let response = self
                .client
                .request(http_request)
                .await
                .map_err(|e| Error::Transport(format!("request failed: {e}")))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let limit = usize::try_from(max_body_bytes).unwrap_or(usize::MAX);
            let body = Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        Error::ResponseTooLarge(format!(
                            "the answer is larger than the {max_body_bytes} byte limit; narrow the request"
                        ))
                    } else {
                        Error::Transport(format!("reading the answer failed: {e}"))
                    }
                })?
                .to_bytes()
                .to_vec();
            Ok(WireResponse { status, headers, body })
        })
    }
}
