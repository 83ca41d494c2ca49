//! The control address (plain HTTP, loopback): `POST|GET /_sim/faults`,
//! `GET|DELETE /_sim/requests`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::state::{Fault, State};

/// Accepts control connections until `stop` fires.
pub(super) async fn serve(listener: TcpListener, state: Arc<State>, stop: watch::Receiver<bool>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let (state, mut stop) = (state.clone(), stop.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
            tokio::select! {
                _ = http1::Builder::new().serve_connection(TokioIo::new(tcp), service) => {}
                _ = stop.changed() => {}
            }
        });
    }
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn fault_json(f: &Fault) -> String {
    serde_json::to_string(f).unwrap_or_default()
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let resp = match (&parts.method, parts.uri.path()) {
        (&Method::GET, "/_sim/faults") => reply(StatusCode::OK, fault_json(&state.fault())),
        (&Method::POST, "/_sim/faults") => {
            let body = Limited::new(body, 64 * 1024)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<Fault>(&body) {
                Ok(f) => match f.refusal(state.platform()) {
                    None => {
                        state.set_fault(f);
                        reply(StatusCode::OK, fault_json(&f))
                    }
                    Some(why) => {
                        reply(StatusCode::BAD_REQUEST, json!({ "error": why }).to_string())
                    }
                },
                Err(e) => reply(
                    StatusCode::BAD_REQUEST,
                    json!({ "error": e.to_string() }).to_string(),
                ),
            }
        }
        (&Method::GET, "/_sim/requests") => reply(
            StatusCode::OK,
            serde_json::to_string(&state.requests()).unwrap_or_default(),
        ),
        (&Method::DELETE, "/_sim/requests") => {
            state.clear_requests();
            reply(StatusCode::NO_CONTENT, String::new())
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": "unknown control endpoint"}).to_string(),
        ),
    };
    Ok(resp)
}
