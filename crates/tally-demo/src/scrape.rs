//! The demo scraping its own `/metrics`, as Prometheus would: a plain HTTP/1.0 GET over a
//! `TcpStream`, and the overall request count read back from the text.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::view::OVERALL;

/// How long a scrape may take, connecting, sending and reading.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A `/metrics` response's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scraped {
    /// The value of `inference_total_inferences_total` in the body.
    pub total_inferences: u64,
    /// Bytes of body.
    pub bytes: usize,
    /// The value of `resources_response_size_bytes_count` (the bytes histogram's count).
    pub responses: Option<u64>,
    /// Which of the float and unit-carrying series ([`UNIT_SERIES`]) the body lacks.
    pub missing: Vec<&'static str>,
}

/// Series the resources set must show on `/metrics`, named by their declared units.
pub const UNIT_SERIES: [&str; 4] = [
    "resources_gpu_utilization_ratio ",
    "resources_gpu_busy_seconds_total ",
    "resources_cache_fill_ratio ",
    "resources_response_size_bytes_bucket{",
];

/// GETs `http://addr/metrics` (Prometheus text) and reads the overall request count.
///
/// # Errors
///
/// What failed, in words: the connection, the status, or a body without the count.
pub fn scrape(addr: SocketAddr) -> Result<Scraped, String> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    // HTTP/1.0: the server answers with a plain body and closes the connection.
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\nAccept: text/plain\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| format!("send the request: {e}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| format!("read the response: {e}"))?;
    let response =
        String::from_utf8(response).map_err(|_| "the response is not UTF-8".to_owned())?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {} bytes", response.len()))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("status line {status:?}, not 200"));
    }
    let sample = format!("{OVERALL}_total_inferences_total ");
    let total_inferences = body
        .lines()
        .find_map(|line| line.strip_prefix(&sample))
        .ok_or_else(|| format!("no `{}` sample in the body", sample.trim_end()))?
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("`{}` is not an integer", sample.trim_end()))?;
    let responses = body
        .lines()
        .find_map(|line| line.strip_prefix("resources_response_size_bytes_count "))
        .and_then(|v| v.trim().parse().ok());
    let missing =
        UNIT_SERIES.into_iter().filter(|s| !body.lines().any(|l| l.starts_with(s))).collect();
    Ok(Scraped { total_inferences, bytes: body.len(), responses, missing })
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    fn serve_once(response: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // Read the whole request, so that closing does not reset the connection.
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "the request ends with an empty line");
                request.extend_from_slice(&buf[..n]);
            }
            conn.write_all(response.as_bytes()).unwrap();
        });
        addr
    }

    #[test]
    fn reads_the_total_from_prometheus_text() {
        let addr = serve_once(
            "HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\n# TYPE inference_total_inferences_total counter\ninference_total_inferences_total 1234\n",
        );
        assert_eq!(scrape(addr).unwrap().total_inferences, 1234);
    }

    #[test]
    fn a_non_200_answer_is_an_error() {
        let addr = serve_once("HTTP/1.0 503 Service Unavailable\r\n\r\n");
        let err = scrape(addr).unwrap_err();
        assert!(err.contains("503"), "{err}");
    }
}
