//! A small fault-injecting HTTP proxy on 127.0.0.1, put in front of a real storage server
//! (moto, fake-gcs-server, Azurite) to make it fail the way real clouds fail: an error status
//! for one kind of request, or an answer rewritten on its way back.
//!
//! Each request is read whole (head and body), logged as `METHOD target`, and then either
//! answered by the proxy or sent upstream on a fresh connection with `Connection: close`;
//! the upstream answer is read to its end and passed back, also with `Connection: close`, so
//! every request has a connection of its own and framing never has to be tracked across
//! requests. The proxy runs until dropped; its threads end with it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The header names, lower case.
    pub headers: Vec<String>,
    /// The headers as `(name in lower case, value trimmed)`.
    pub values: Vec<(String, String)>,
    /// The body as sent by the client, when it is at most 64 KiB (larger ones, the parts of
    /// an upload, are not kept).
    pub body: Vec<u8>,
    /// The SHA-256 of the body as sent by the client, in lower-case hex.
    pub body_sha256: String,
}

impl Request {
    /// The value of the header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.values, name)
    }
}

/// The value of the header `name` (any case) among `(name, value)` pairs, if there.
/// (The HTTP stub's requests look theirs up with it too.)
pub fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What to do with one request.
#[derive(Clone, Copy)]
pub enum Action {
    /// Send it upstream and pass the answer back.
    Forward,
    /// Answer with this status and a small body; nothing goes upstream.
    Fail(u16),
    /// Reset the connection (RST) without an answer; nothing goes upstream.
    Reset,
    /// Send it upstream, and pass back the answer as this function rewrites it (the whole
    /// response, head and body, as bytes).
    Rewrite(fn(Vec<u8>) -> Vec<u8>),
    /// Send it upstream, pass back the first this many bytes of the answer (head included),
    /// then send nothing more while holding the connection open (until the client goes or
    /// the proxy is dropped): a download that stalls half-way.
    StallAfter(usize),
    /// Send it upstream with one byte of its body changed (the middle one, inverted), the
    /// head as it was: bytes damaged on the way, which a store that checks nothing stores.
    CorruptBody,
    /// Send it upstream with its body as this function rewrites it (`Content-Length`
    /// adjusted), and pass the answer back.
    RewriteBody(fn(Vec<u8>) -> Vec<u8>),
}

type Rule = dyn Fn(&Request) -> Action + Send + Sync;

/// A running proxy.
pub struct FaultProxy {
    addr: SocketAddr,
    /// `https` when it terminates TLS.
    scheme: &'static str,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Request>>>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`127.0.0.1:port`) that applies `rule` to each request.
    pub fn start(
        upstream: &str,
        rule: impl Fn(&Request) -> Action + Send + Sync + 'static,
    ) -> Self {
        Self::start_with(upstream, None, rule)
    }

    /// Starts a proxy that takes https (with this server configuration) and sends plain
    /// http upstream: what a store behind TLS receives, seen and rewritten in between.
    pub fn start_tls(
        upstream: &str,
        tls: crate::vault_stand_in::TlsServerConfig,
        rule: impl Fn(&Request) -> Action + Send + Sync + 'static,
    ) -> Self {
        Self::start_with(upstream, Some(tls), rule)
    }

    fn start_with(
        upstream: &str,
        tls: Option<crate::vault_stand_in::TlsServerConfig>,
        rule: impl Fn(&Request) -> Action + Send + Sync + 'static,
    ) -> Self {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rule: Arc<Rule> = Arc::new(rule);
        let upstream = upstream.to_string();
        let accept = {
            let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let (rule, seen, upstream) =
                        (Arc::clone(&rule), Arc::clone(&seen), upstream.clone());
                    let tls = tls.clone();
                    std::thread::spawn(move || {
                        if client
                            .set_read_timeout(Some(Duration::from_secs(30)))
                            .is_err()
                        {
                            return;
                        }
                        let _ = match tls {
                            None => serve(client, &upstream, rule.as_ref(), &seen),
                            Some(config) => {
                                let Ok(connection) = rustls::ServerConnection::new(config) else {
                                    return;
                                };
                                let client = rustls::StreamOwned::new(connection, client);
                                serve(client, &upstream, rule.as_ref(), &seen)
                            }
                        };
                    });
                }
            })
        };
        Self {
            addr,
            scheme,
            stop,
            seen,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:port` (`https://` for [`FaultProxy::start_tls`]).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

/// Reads one HTTP message head: the lines up to the empty one; `None` if the peer sent none.
/// (The HTTP stub reads its requests with it too.)
pub fn read_head(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

fn header<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines.iter().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads a request body framed by Content-Length or chunked encoding, raw.
fn read_body(reader: &mut impl BufRead, head: &[String]) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if header(head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            if size == 0 {
                return Ok(body);
            }
        }
    }
    let length = header(head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    body.resize(length, 0);
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// Joins a head with `Connection: close` in place of any Connection header.
fn head_bytes(head: &[String]) -> Vec<u8> {
    let mut out = String::new();
    for line in head {
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// A client connection, plain or TLS.
trait Client: Read + Write {
    /// Ends the connection after the answer.
    fn close(&mut self) -> std::io::Result<()>;
    /// Resets it (RST) without an answer.
    fn reset(&self);
}

impl Client for TcpStream {
    fn close(&mut self) -> std::io::Result<()> {
        self.shutdown(Shutdown::Both)
    }

    fn reset(&self) {
        crate::vault_stand_in::reset(self);
    }
}

impl Client for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn close(&mut self) -> std::io::Result<()> {
        self.conn.send_close_notify();
        self.flush()?;
        self.sock.shutdown(Shutdown::Both)
    }

    fn reset(&self) {
        crate::vault_stand_in::reset(&self.sock);
    }
}

fn serve(
    mut client: impl Client,
    upstream: &str,
    rule: &Rule,
    seen: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    let (head, body) = {
        // The whole request is read before anything is written back.
        let mut reader = BufReader::new(&mut client);
        let Some(head) = read_head(&mut reader)? else {
            return Ok(());
        };
        let body = read_body(&mut reader, &head)?;
        (head, body)
    };
    let mut parts = head[0].split_whitespace();
    let request = Request {
        method: parts.next().unwrap_or("").to_string(),
        target: parts.next().unwrap_or("").to_string(),
        headers: head[1..]
            .iter()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, _)| k.trim().to_ascii_lowercase())
            .collect(),
        values: head[1..]
            .iter()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect(),
        body_sha256: {
            use sha2::Digest;
            vault_raft_snapshot::archive::hex(&sha2::Sha256::digest(&body))
        },
        body: if body.len() <= 64 << 10 {
            body.clone()
        } else {
            Vec::new()
        },
    };
    seen.lock().unwrap().push(request.clone());
    // Asked once per request, so a rule with state (count the failures, damage only the
    // first) decides each request once.
    let action = rule(&request);
    let rewrite = match action {
        Action::Fail(status) => {
            let body = "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>";
            write!(
                client,
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            return client.close();
        }
        Action::Reset => {
            client.reset();
            return Ok(());
        }
        Action::Forward | Action::StallAfter(_) | Action::CorruptBody | Action::RewriteBody(_) => {
            None
        }
        Action::Rewrite(f) => Some(f),
    };
    let (head, body) = match action {
        Action::CorruptBody => {
            let mut body = body;
            if let Some(middle) = body.len().checked_sub(1).map(|last| last / 2) {
                body[middle] ^= 0xff;
            }
            (head, body)
        }
        Action::RewriteBody(f) => {
            let body = f(body);
            let head: Vec<String> = head
                .into_iter()
                .map(|line| {
                    if line.to_ascii_lowercase().starts_with("content-length:") {
                        format!("Content-Length: {}", body.len())
                    } else {
                        line
                    }
                })
                .collect();
            (head, body)
        }
        _ => (head, body),
    };
    let stall_after = match action {
        Action::StallAfter(bytes) => Some(bytes),
        _ => None,
    };
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(&head_bytes(&head))?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    // Mark the answer Connection: close too, so the client does not reuse this socket.
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |i| i + 4);
    let head_text = String::from_utf8_lossy(&answer[..split]).to_string();
    let lines: Vec<String> = head_text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let mut out = head_bytes(&lines);
    out.extend_from_slice(&answer[split..]);
    if let Some(f) = rewrite {
        out = f(out);
    }
    if let Some(bytes) = stall_after {
        client.write_all(&out[..bytes.min(out.len())])?;
        client.flush()?;
        // Hold the connection until the client closes it (or the 30 s read timeout).
        let _ = client.read(&mut [0u8; 1]);
        return Ok(());
    }
    client.write_all(&out)?;
    client.close()
}

/// Replaces the first `from` with `to` in a response's bytes.
pub fn replace_once(bytes: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    match bytes.windows(from.len()).position(|w| w == from) {
        Some(i) => [&bytes[..i], to, &bytes[i + from.len()..]].concat(),
        None => bytes,
    }
}
