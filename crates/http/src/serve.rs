//! The HTTP server: accepts connections and serves each on a task of its own with hyper's
//! HTTP/1.1, the peer's address in every request (`ConnectInfo`), until told to stop; then it
//! stops accepting, lets each connection finish the request it is serving, and returns once
//! every connection has closed.
//!
//! Each connection's task is polled through `Repolled`: hyper polls the handler inside the
//! connection's own task, and when it hands the handler a request body, it wakes that task while
//! the task runs. Through tokio, such a wake is a yield, and each yield wakes a parked worker
//! to steal the task: for every request with a body, a second thread woken (a futex or eventfd
//! write, then that thread's wake-up) to find nothing to do. `Repolled` polls the connection
//! again at once instead.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// Polls of a connection in one poll of its task, at most: past them, it is woken through the
/// runtime (a yield), so that a connection that keeps waking itself cannot hold a worker.
const POLLS_PER_WAKE: usize = 8;

/// How long accepting pauses after an error that is not the peer's (out of file descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` ends, then finishes the requests in flight and
/// returns once every connection has closed.
pub async fn serve(listener: TcpListener, app: Router, shutdown: impl Future<Output = ()>) {
    // Connections hold a receiver each: `closed` ends once all have gone.
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_peer_error(&error) => continue,
                Err(error) => {
                    tracing::error!(%error, "cannot accept connections; retrying in a second");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(Repolled::new(connection(stream, peer, app.clone(), stopping.clone())));
    }
    drop(listener);
    stop.send_replace(true);
    drop(stopping);
    stop.closed().await;
}

/// Serves one connection until it closes, or until `stopping` turns true and the request in
/// flight (if any) is answered.
async fn connection(stream: TcpStream, peer: SocketAddr, app: Router, mut stopping: watch::Receiver<bool>) {
    // An answer written in several pieces goes out without waiting for the peer's
    // acknowledgement of the first (Nagle's algorithm against delayed ACKs).
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot turn Nagle's algorithm off");
    }
    let service = app.map_request(move |request: Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let http = hyper::server::conn::http1::Builder::new();
    let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => return log_end(served),
        _ = stopping.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
    }
    log_end(connection.await);
}

fn log_end(served: Result<(), hyper::Error>) {
    if let Err(error) = served {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Errors of one connection being accepted (the peer gave up): accepting goes on at once.
fn is_peer_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    )
}

/// A future polled again at once when it wakes itself while being polled (see the module's
/// doc), up to `POLLS_PER_WAKE` times in a poll of its task. Wakes from outside its polls go
/// to its task as usual.
struct Repolled<F> {
    inner: Pin<Box<F>>,
    relay: Arc<Relay>,
    waker: Waker,
}

/// The waker `Repolled` gives its future: notes a wake while the future is being polled, and
/// passes any other to the task.
struct Relay {
    polling: AtomicBool,
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl<F: Future> Repolled<F> {
    fn new(inner: F) -> Repolled<F> {
        let relay = Arc::new(Relay {
            polling: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            task: Mutex::default(),
        });
        Repolled { inner: Box::pin(inner), waker: Waker::from(relay.clone()), relay }
    }
}

impl<F: Future> Future for Repolled<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        {
            let mut task = this.relay.task.lock().unwrap_or_else(PoisonError::into_inner);
            if !task.as_ref().is_some_and(|task| task.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let mut inner_cx = Context::from_waker(&this.waker);
        for _ in 0..POLLS_PER_WAKE {
            // A wake from another thread sees `polling` false and goes to the task, or sees it
            // true and is seen here after the poll (both flags are sequentially consistent).
            this.relay.woken.store(false, Ordering::SeqCst);
            this.relay.polling.store(true, Ordering::SeqCst);
            let polled = this.inner.as_mut().poll(&mut inner_cx);
            this.relay.polling.store(false, Ordering::SeqCst);
            if polled.is_ready() || !this.relay.woken.load(Ordering::SeqCst) {
                return polled;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst)
            && let Some(task) = self.task.lock().unwrap_or_else(PoisonError::into_inner).as_ref()
        {
            task.wake_by_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::oneshot;

    use super::*;

    /// Counts the wakes it is given.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Wakes itself in each of its first `wakes` polls, then is ready.
    struct WakesItself {
        wakes: usize,
        polls: Arc<AtomicUsize>,
    }

    impl Future for WakesItself {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.wakes == 0 {
                return Poll::Ready(());
            }
            self.wakes -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn poll_once<F: Future>(future: &mut Repolled<F>, task: &Arc<Count>) -> Poll<F::Output> {
        let waker = Waker::from(task.clone());
        Pin::new(future).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn a_future_that_wakes_itself_is_polled_again_without_its_task_woken() {
        let (task, polls) = (Arc::new(Count::default()), Arc::new(AtomicUsize::new(0)));
        let mut future = Repolled::new(WakesItself { wakes: 2, polls: polls.clone() });
        assert!(poll_once(&mut future, &task).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 3);
        assert_eq!(task.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_future_that_keeps_waking_itself_yields_to_its_task() {
        let (task, polls) = (Arc::new(Count::default()), Arc::new(AtomicUsize::new(0)));
        let mut future = Repolled::new(WakesItself { wakes: POLLS_PER_WAKE + 1, polls: polls.clone() });
        assert!(poll_once(&mut future, &task).is_pending());
        assert_eq!(polls.load(Ordering::SeqCst), POLLS_PER_WAKE);
        assert_eq!(task.0.load(Ordering::SeqCst), 1, "woken once, through the task");
        assert!(poll_once(&mut future, &task).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), POLLS_PER_WAKE + 2);
    }

    #[test]
    fn a_wake_after_the_poll_reaches_the_latest_task() {
        let (first, second) = (Arc::new(Count::default()), Arc::new(Count::default()));
        let (sender, receiver) = oneshot::channel::<()>();
        let mut future = Repolled::new(receiver);
        assert!(poll_once(&mut future, &first).is_pending());
        assert!(poll_once(&mut future, &second).is_pending());
        sender.send(()).unwrap();
        assert_eq!((first.0.load(Ordering::SeqCst), second.0.load(Ordering::SeqCst)), (0, 1));
        assert!(poll_once(&mut future, &second).is_ready());
    }

    /// Sends `request` on a new connection to `address` and reads until the server closes it.
    async fn exchange(address: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn requests_are_answered_with_their_peer_and_body_until_the_stop_then_none() {
        let app = Router::new()
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
            )
            .route("/length", post(|body: axum::body::Bytes| async move { body.len().to_string() }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, async move {
            let _ = stopped.await;
        }));

        let peer = exchange(address, "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        assert!(peer.starts_with("HTTP/1.1 200 OK\r\n") && peer.ends_with("\r\n\r\n127.0.0.1"), "{peer}");
        let body = "x".repeat(100_000);
        let request = format!(
            "POST /length HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n{body}"
        );
        let length = exchange(address, &request).await;
        assert!(length.ends_with("\r\n\r\n100000"), "{length}");

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap();
        assert!(TcpStream::connect(address).await.is_err(), "no longer listening");
    }

    #[tokio::test]
    async fn a_stop_lets_the_request_in_flight_finish_and_closes_idle_connections() {
        let (release, released) = oneshot::channel::<()>();
        let released = Arc::new(Mutex::new(Some(released)));
        let app = Router::new().route("/", get(|| async { "idle" })).route(
            "/slow",
            get(move || {
                let released = released.lock().unwrap().take();
                async move {
                    let _ = released.unwrap().await;
                    "finished"
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, async move {
            let _ = stopped.await;
        }));

        // An idle keep-alive connection, and one with a request in flight.
        let mut idle = TcpStream::connect(address).await.unwrap();
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buffer = [0; 1024];
        let read = idle.read(&mut buffer).await.unwrap();
        assert!(String::from_utf8_lossy(&buffer[..read]).ends_with("idle"));
        let slow = tokio::spawn(exchange(address, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
        tokio::time::sleep(Duration::from_millis(200)).await;

        stop.send(()).unwrap();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut rest)).await;
        assert!(matches!(closed, Ok(Ok(0))), "the idle connection is closed: {closed:?} {rest:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!server.is_finished(), "a request is still in flight");

        release.send(()).unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(10), slow).await.unwrap().unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.ends_with("finished"), "{answer}");
        tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap();
    }
}
