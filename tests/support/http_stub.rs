//! A programmable HTTP/1.1 server on 127.0.0.1, for tests that need a server to say one
//! specific thing: a token endpoint, a storage API that holds its answer until told to go on,
//! a server that never answers, one that stops reading.
//!
//! [`HttpStub::start`] reads each request whole (head, and a body framed by Content-Length or
//! chunked encoding), records it, and answers what the handler returns: a status, headers and
//! a body, after an optional delay, or nothing at all ([`Response::never`]). Every connection
//! carries one request and is closed after the answer (`Connection: close`).
//! [`HttpStub::silent`] accepts connections and never reads from them, so a client sending
//! more than the socket buffers hold stalls in its write.
//!
//! Each connection has a thread; dropping the stub shuts every connection down and joins
//! every thread, so nothing outlives the test. A handler that blocks (on a channel the test
//! holds) must be released before the stub is dropped, e.g. by dropping the sender: declare
//! the stub before what its handler waits on. A panic in the handler (an assertion about the
//! request) fails the test when the stub is dropped, if nothing failed it before.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::fault_proxy::read_head;

/// A request as the stub read it.
#[derive(Clone)]
pub struct Request {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Header names (lower case) and values, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body (chunked encoding removed).
    pub body: Vec<u8>,
}

impl Request {
    /// The value of the header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::fault_proxy::header_value(&self.headers, name)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `METHOD path`, as a log line.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The body's length only: a test's failure message shows requests, not megabytes.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} body bytes)", self.line(), self.body.len())
    }
}

/// What the stub does with one request.
#[derive(Clone, Debug)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Duration,
    answer: bool,
}

impl Response {
    /// `status`, no body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            answer: true,
        }
    }

    /// `status` with `value` as an `application/json` body.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status)
            .header("Content-Type", "application/json")
            .body(value.to_string())
    }

    /// No answer: the connection is held open, silent, until the client goes or the stub is
    /// dropped.
    pub fn never() -> Self {
        Self {
            answer: false,
            ..Self::new(0)
        }
    }

    /// Adds a header (Content-Length and Connection are the stub's).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// The body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Answers only after `delay` (cut short if the stub is dropped).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A running stub; it stops when dropped.
pub struct HttpStub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

/// What the accept loop, the connection threads and the stub share.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    connections: AtomicUsize,
    requests: Mutex<Vec<Request>>,
    /// A handle on each open connection, to shut it down on drop.
    sockets: Mutex<Vec<TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps for `time`, in steps, returning early (false) once the stub stops.
    fn sleep(&self, time: Duration) -> bool {
        let step = Duration::from_millis(10);
        let mut left = time;
        while !left.is_zero() {
            if self.stopped() {
                return false;
            }
            std::thread::sleep(left.min(step));
            left = left.saturating_sub(step);
        }
        !self.stopped()
    }
}

impl HttpStub {
    /// A stub answering every request with `handler(request)`.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
        let handler: Arc<Handler> = Arc::new(handler);
        Self::listen(Some(handler))
    }

    /// A stub that accepts connections and never reads a byte from them nor answers.
    pub fn silent() -> Self {
        Self::listen(None)
    }

    fn listen(handler: Option<Arc<Handler>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let accept = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shared.stopped() {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    if let Ok(handle) = stream.try_clone() {
                        shared.sockets.lock().unwrap().push(handle);
                    }
                    let Some(handler) = handler.clone() else {
                        // Silent: the socket list holds it open, unread, until the drop.
                        continue;
                    };
                    let connection = Arc::clone(&shared);
                    let thread = std::thread::spawn(move || {
                        let _ = serve(stream, handler.as_ref(), &connection);
                    });
                    shared.threads.lock().unwrap().push(thread);
                }
            })
        };
        Self {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request read so far, in the order they were read.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for HttpStub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        for socket in self.shared.sockets.lock().unwrap().drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let threads: Vec<JoinHandle<()>> = self.shared.threads.lock().unwrap().drain(..).collect();
        let mut panicked = None;
        for thread in threads {
            if let Err(payload) = thread.join() {
                panicked.get_or_insert(payload);
            }
        }
        match panicked {
            Some(payload) if !std::thread::panicking() => std::panic::resume_unwind(payload),
            _ => {}
        }
    }
}

/// Reads a body framed by chunked encoding (decoded) or Content-Length.
fn read_body(reader: &mut impl BufRead, request: &Request) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
            if size == 0 {
                // No trailers are sent by the clients under test: the CRLF was read above.
                return Ok(body);
            }
        }
    }
    let length = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    body.resize(length, 0);
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        308 => "Resume Incomplete",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Stub",
    }
}

/// Shuts a connection down when dropped, so however serving it ends (a panicking handler
/// included) the client sees it closed: the stub's own handle would otherwise keep it open.
struct CloseOnDrop(TcpStream);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

fn serve(stream: TcpStream, handler: &Handler, shared: &Shared) -> std::io::Result<()> {
    let _close = CloseOnDrop(stream.try_clone()?);
    // Bounded even if a client connects and sends nothing.
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(head) = read_head(&mut reader)? else {
        return Ok(());
    };
    let mut first = head.first().map_or("", String::as_str).split_whitespace();
    let mut request = Request {
        method: first.next().unwrap_or("").to_string(),
        path: first.next().unwrap_or("").to_string(),
        headers: head
            .iter()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect(),
        body: Vec::new(),
    };
    request.body = read_body(&mut reader, &request)?;
    shared.requests.lock().unwrap().push(request.clone());
    let response = handler(&request);
    if !response.answer {
        // Held until the client closes (the read returns) or the drop shuts the socket down.
        stream.set_read_timeout(None)?;
        let _ = reader.read(&mut [0u8; 1]);
        return Ok(());
    }
    if !shared.sleep(response.delay) {
        return Ok(());
    }
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    let mut stream = stream;
    stream.write_all(out.as_bytes())?;
    stream.write_all(&response.body)
}

#[test]
fn the_stub_answers_records_delays_holds_and_stops() {
    let stub = HttpStub::start(|request| match request.path.as_str() {
        "/slow" => Response::new(204).delay(Duration::from_millis(300)),
        "/never" => Response::never(),
        _ => Response::json(201, &serde_json::json!({"got": request.body_text()}))
            .header("X-Stub", "yes"),
    });
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_millis(800)))
        .build()
        .new_agent();

    let mut answer = agent
        .post(format!("{}/echo?x=1", stub.url()))
        .header("X-Test", "a")
        .send("hello")
        .unwrap();
    assert_eq!(answer.status().as_u16(), 201);
    assert_eq!(answer.headers()["x-stub"], "yes");
    assert_eq!(
        answer.body_mut().read_to_string().unwrap(),
        r#"{"got":"hello"}"#
    );

    let started = std::time::Instant::now();
    assert_eq!(
        agent
            .get(format!("{}/slow", stub.url()))
            .call()
            .unwrap()
            .status(),
        204
    );
    assert!(started.elapsed() >= Duration::from_millis(300));

    let started = std::time::Instant::now();
    assert!(agent.get(format!("{}/never", stub.url())).call().is_err());
    assert!(started.elapsed() >= Duration::from_millis(750), "answered");

    let seen = stub.requests();
    let lines: Vec<String> = seen.iter().map(Request::line).collect();
    assert_eq!(lines, ["POST /echo?x=1", "GET /slow", "GET /never"]);
    assert_eq!(seen[0].header("x-test"), Some("a"));
    assert_eq!(seen[0].body, b"hello");
    assert_eq!(stub.connections(), 3);

    let addr = stub.addr();
    drop(stub);
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "still listening after the drop"
    );
}

#[test]
fn a_silent_stub_reads_nothing_so_a_large_write_stalls() {
    let stub = HttpStub::silent();
    let mut client = TcpStream::connect(stub.addr()).unwrap();
    client
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut sent = 0usize;
    let stalled = (0..64).any(|_| match client.write(&chunk) {
        Ok(n) => {
            sent += n;
            false
        }
        Err(_) => true,
    });
    assert!(
        stalled,
        "{sent} bytes were taken by a server that reads nothing"
    );
    assert_eq!(stub.connections(), 1);
    assert!(stub.requests().is_empty());
}

#[test]
fn a_panicking_handler_closes_the_connection_and_fails_the_test_on_drop() {
    let stub = HttpStub::start(|_| panic!("the request was wrong"));
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .new_agent();
    let started = std::time::Instant::now();
    assert!(agent.get(stub.url()).call().is_err());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the connection was held open"
    );
    let dropped =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(stub))).unwrap_err();
    assert_eq!(
        dropped.downcast_ref::<&str>(),
        Some(&"the request was wrong")
    );
}
