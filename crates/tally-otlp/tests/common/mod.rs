//! A real OTLP/HTTP receiver for the tests: it decodes every post with the official
//! generated types (`opentelemetry-proto`), answers as scripted (a status for the next
//! posts, a partial success), and keeps what it accepted.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use prost::Message;
use tally_otlp::opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};

/// How the receiver answers one post.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 200 with an empty response: accepted.
    Accept,
    /// This status, with `Retry-After: 0` for 429/503; the post is not kept.
    Status(u16),
    /// 200 with a partial success rejecting this many points.
    Partial(i64, &'static str),
}

#[derive(Default)]
struct State {
    script: VecDeque<Answer>,
    accepted: Vec<ExportMetricsServiceRequest>,
    posts: u64,
    problems: Vec<String>,
}

/// A receiver on a free local port.
pub struct Receiver {
    pub endpoint: String,
    server: Arc<tiny_http::Server>,
    state: Arc<Mutex<State>>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("a free port"));
        let endpoint = format!("http://{}", server.server_addr().to_ip().expect("an IP address"));
        let state = Arc::new(Mutex::new(State::default()));
        let thread = {
            let (server, state) = (Arc::clone(&server), Arc::clone(&state));
            std::thread::spawn(move || {
                for mut request in server.incoming_requests() {
                    let mut body = Vec::new();
                    let read = request.as_reader().read_to_end(&mut body);
                    let mut state = state.lock().unwrap();
                    state.posts += 1;
                    let problem = if request.url() != "/v1/metrics" {
                        Some(format!("posted to {}", request.url()))
                    } else if !request.headers().iter().any(|h| {
                        h.field.equiv("content-type")
                            && h.value.as_str() == "application/x-protobuf"
                    }) {
                        Some("no content-type: application/x-protobuf".to_owned())
                    } else {
                        read.err().map(|e| e.to_string())
                    };
                    if let Some(p) = problem {
                        state.problems.push(p);
                        let _ = request.respond(tiny_http::Response::empty(400));
                        continue;
                    }
                    let answer = state.script.pop_front().unwrap_or(Answer::Accept);
                    let response = match answer {
                        Answer::Status(status) => {
                            let _ = request.respond(
                                tiny_http::Response::from_string(format!("scripted {status}"))
                                    .with_status_code(status)
                                    .with_header(
                                        "Retry-After: 0".parse::<tiny_http::Header>().unwrap(),
                                    ),
                            );
                            continue;
                        }
                        Answer::Accept => ExportMetricsServiceResponse::default(),
                        Answer::Partial(n, why) => ExportMetricsServiceResponse {
                            partial_success: Some(ExportMetricsPartialSuccess {
                                rejected_data_points: n,
                                error_message: why.to_owned(),
                            }),
                        },
                    };
                    match ExportMetricsServiceRequest::decode(body.as_slice()) {
                        Ok(decoded) => state.accepted.push(decoded),
                        Err(e) => {
                            state.problems.push(format!("undecodable post: {e}"));
                            let _ = request.respond(tiny_http::Response::empty(400));
                            continue;
                        }
                    }
                    let _ = request.respond(
                        tiny_http::Response::from_data(response.encode_to_vec()).with_header(
                            "Content-Type: application/x-protobuf"
                                .parse::<tiny_http::Header>()
                                .unwrap(),
                        ),
                    );
                }
            })
        };
        Receiver { endpoint, server, state, thread: Some(thread) }
    }

    /// Answers the next posts so, in order (then accepts).
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.lock().unwrap().script.extend(answers);
    }

    /// The requests accepted so far, in order.
    pub fn accepted(&self) -> Vec<ExportMetricsServiceRequest> {
        let state = self.state.lock().unwrap();
        assert!(state.problems.is_empty(), "the receiver saw: {:?}", state.problems);
        state.accepted.clone()
    }

    /// Posts received, accepted or not.
    pub fn posts(&self) -> u64 {
        self.state.lock().unwrap().posts
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A listener that accepts connections and never answers: a receiver that hangs.
pub struct BlackHole {
    pub endpoint: String,
    _listener: TcpListener,
}

impl BlackHole {
    pub fn start() -> BlackHole {
        // Connections complete in the kernel's backlog; nobody ever reads or answers.
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        BlackHole { endpoint, _listener: listener }
    }
}
