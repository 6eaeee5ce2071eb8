//! The proxy loop on monoio, with either of its drivers (io_uring, plain or with
//! Tollgate's ring flags, or epoll).
//!
//! monoio's I/O takes buffers by value and hands them back (completion-based I/O needs
//! the kernel to own the buffer while the operation runs); a connection keeps two
//! `Vec<u8>` and moves them in and out of each call. One thread, one runtime, no `Send`.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};

use super::{message_len, Kind, ProxyConfig, Runtime, BUF_SIZE, MAX_MESSAGE, POOL_MAX_IDLE};

type Pool = Rc<RefCell<Vec<TcpStream>>>;

/// Runs the loop on the current thread until an accept error. `runtime` must be one of
/// the monoio variants.
pub fn run(runtime: Runtime, cfg: ProxyConfig) -> io::Result<()> {
    match runtime {
        Runtime::MonoioUring => monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(1024)
            .build()?
            .block_on(serve(cfg)),
        Runtime::MonoioUringTuned => monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(1024)
            .uring_builder(tuned_ring())
            .build()?
            .block_on(serve(cfg)),
        Runtime::MonoioEpoll => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()?
            .block_on(serve(cfg)),
        Runtime::Glommio => Err(io::Error::other("not a monoio runtime")),
    }
}

/// The ring flags of `core/src/runtime/driver.rs` (`tuned_ring`): task work runs when the
/// one thread that owns the ring asks for completions, not by interrupting it.
fn tuned_ring() -> io_uring::Builder {
    let mut b = io_uring::IoUring::builder();
    b.setup_coop_taskrun()
        .setup_single_issuer()
        .setup_defer_taskrun();
    b
}

async fn serve(cfg: ProxyConfig) -> io::Result<()> {
    let listener = TcpListener::bind(cfg.listen)?;
    let pool: Pool = Rc::new(RefCell::new(Vec::new()));
    loop {
        let (client, _) = listener.accept().await?;
        client.set_nodelay(true)?;
        let pool = pool.clone();
        monoio::spawn(async move {
            // A failed connection only closes itself.
            let _ = connection(client, cfg, pool).await;
        });
    }
}

async fn connection(mut client: TcpStream, cfg: ProxyConfig, pool: Pool) -> io::Result<()> {
    let mut req = Vec::with_capacity(BUF_SIZE);
    let mut resp = Vec::with_capacity(BUF_SIZE);
    loop {
        let (n, buf) = read_message(&mut client, req, Kind::Request).await?;
        req = buf;
        let Some(n) = n else { return Ok(()) };

        let upstream = pool.borrow_mut().pop();
        let mut upstream = match upstream {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(cfg.upstream).await?;
                s.set_nodelay(true)?;
                s
            }
        };
        let (res, slice) = upstream.write_all(req.slice(..n)).await;
        req = slice.into_inner();
        res?;
        req.drain(..n);

        resp.clear();
        let (m, buf) = read_message(&mut upstream, resp, Kind::Response).await?;
        resp = buf;
        let Some(m) = m else {
            return Err(io::ErrorKind::UnexpectedEof.into());
        };
        // Bytes past the response mean the upstream is out of step: drop that connection.
        if resp.len() == m && pool.borrow().len() < POOL_MAX_IDLE {
            pool.borrow_mut().push(upstream);
        }
        let (res, slice) = client.write_all(resp.slice(..m)).await;
        resp = slice.into_inner();
        res?;
    }
}

/// Reads until `buf` holds a whole message; returns its length (`None`: clean EOF before
/// any byte of a message) and the buffer, which may hold more bytes after the message.
async fn read_message(
    stream: &mut TcpStream,
    mut buf: Vec<u8>,
    kind: Kind,
) -> io::Result<(Option<usize>, Vec<u8>)> {
    loop {
        if !buf.is_empty() {
            match message_len(&buf, kind) {
                Ok(Some(n)) if buf.len() >= n => return Ok((Some(n), buf)),
                Ok(Some(n)) => buf.reserve(n - buf.len()),
                Ok(None) => {}
                Err(e) => return Err(io::Error::other(format!("{e:?}"))),
            }
        }
        if buf.len() == buf.capacity() {
            if buf.capacity() >= MAX_MESSAGE {
                return Err(io::Error::other("message too large"));
            }
            buf.reserve(buf.capacity());
        }
        let had = buf.len();
        let (res, slice) = stream.read(buf.slice_mut(had..)).await;
        buf = slice.into_inner();
        match res? {
            0 if had == 0 => return Ok((None, buf)),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ => {}
        }
    }
}
