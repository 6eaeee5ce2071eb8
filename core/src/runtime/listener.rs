//! Listening sockets: one per worker per listener address, with SO_REUSEPORT so the
//! kernel spreads new connections across workers without a shared accept queue.

use std::net::{SocketAddr, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

pub fn bind_reuseport(addr: &str, backlog: u32) -> std::io::Result<std::net::TcpListener> {
    let sa: SocketAddr = addr.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("no address for {addr}"),
        )
    })?;
    let sock = Socket::new(Domain::for_address(sa), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.set_tcp_nodelay(true)?;
    if sa.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.bind(&sa.into())?;
    sock.listen(backlog.min(i32::MAX as u32) as i32)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}
