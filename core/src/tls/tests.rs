//! The TLS pieces together on loopback, in one monoio runtime (the epoll driver, so the
//! tests run wherever io_uring is not allowed): the server's accept and SNI choice, the
//! client's verification, reads and writes both ways, `readable`, a cancelled read.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};

use super::*;
use crate::config::{
    CertificateFiles, ClientAuth, ClusterTls as ClusterCfg, ListenerTls as ListenerCfg, Protocol,
    Roots,
};
use crate::metrics::TlsMetrics;

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(test: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("tollgate-tls-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Files { dir }
    }

    /// A self-signed certificate for `names`: (cert path, key path, DER).
    fn cert(&self, file: &str, names: &[&str]) -> (String, String, Vec<u8>) {
        let c = rcgen::generate_simple_self_signed(
            names.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        let cert = self.dir.join(format!("{file}.crt"));
        let key = self.dir.join(format!("{file}.key"));
        std::fs::write(&cert, c.cert.pem()).unwrap();
        std::fs::write(&key, c.key_pair.serialize_pem()).unwrap();
        (
            cert.to_str().unwrap().into(),
            key.to_str().unwrap().into(),
            c.cert.der().to_vec(),
        )
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn listener_cfg(certs: &[(String, String, Vec<u8>)]) -> ListenerCfg {
    ListenerCfg {
        certificates: certs
            .iter()
            .map(|(c, k, _)| CertificateFiles {
                cert: c.clone(),
                key: k.clone(),
            })
            .collect(),
        client_ca: None,
        client_auth: ClientAuth::Required,
        alpn: vec!["http/1.1".into()],
        handshake_timeout: crate::config::Dur::secs(2),
        session_tickets: true,
        session_cache: 100,
        min_version: crate::config::TlsVersion::Tls12,
    }
}

/// A client that accepts any certificate (to look at the one served) and sends `sni`.
fn insecure_client(sni: Option<&str>) -> ClusterTls {
    ClusterTls::load(
        &ClusterCfg {
            sni: sni.map(str::to_owned),
            ca_file: None,
            verify: false,
            insecure_skip_verify: true,
            roots: Roots::Webpki,
            alpn: Some(vec!["http/1.1".into()]),
        },
        Protocol::Http1,
    )
    .unwrap()
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .unwrap()
        .block_on(f)
}

/// Accepts one TLS connection on `l`.
async fn accept_one(l: &TcpListener, tls: &ServerTls, m: &TlsMetrics) -> Option<Stream> {
    let (tcp, peer) = l.accept().await.unwrap();
    server::accept(tls, tcp, peer, m).await
}

async fn connect_one(addr: SocketAddr, client: &ClusterTls) -> Stream {
    let tcp = TcpStream::connect_addr(addr).await.unwrap();
    let up = client.for_core(std::iter::once("127.0.0.1:1")).unwrap();
    client::connect(&up, 0, tcp)
        .await
        .expect("client handshake")
}

fn served_cert(s: &Stream) -> Vec<u8> {
    s.tls().unwrap().session().peer_certificates().unwrap()[0]
        .as_ref()
        .to_vec()
}

#[test]
fn sni_picks_exact_then_wildcard_then_the_default() {
    let f = Files::new("sni");
    let certs = vec![
        f.cert("default", &["default.test"]),
        f.cert("exact", &["api.example.com"]),
        f.cert("wild", &["*.example.com"]),
    ];
    let store = ResumptionStore::default();
    let lt = ListenerTls::load("l", "127.0.0.1:0", &listener_cfg(&certs), &store).unwrap();
    let tls = lt.for_core().unwrap();
    let m = TlsMetrics::default();
    run(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        for (sni, want) in [
            (Some("api.example.com"), 1),
            (Some("www.example.com"), 2),
            (Some("elsewhere.test"), 0),
            // An IP address sends no SNI at all: the default.
            (None, 0),
        ] {
            let client = insecure_client(Some(sni.unwrap_or("127.0.0.1")));
            let (server, client) =
                monoio::join!(accept_one(&l, &tls, &m), connect_one(addr, &client));
            assert!(server.is_some(), "{sni:?}");
            assert_eq!(served_cert(&client), certs[want].2, "{sni:?}");
        }
    });
}

#[test]
fn bytes_flow_both_ways_and_readable_waits_for_data() {
    let f = Files::new("flow");
    let certs = vec![f.cert("a", &["a.test"])];
    let store = ResumptionStore::default();
    let lt = ListenerTls::load("l", "127.0.0.1:0", &listener_cfg(&certs), &store).unwrap();
    let tls = lt.for_core().unwrap();
    let m = TlsMetrics::default();
    // A verifying client that trusts the certificate itself.
    let client = ClusterTls::load(
        &ClusterCfg {
            sni: Some("a.test".into()),
            ca_file: Some(certs[0].0.clone()),
            verify: true,
            insecure_skip_verify: false,
            roots: Roots::Webpki,
            alpn: None,
        },
        Protocol::Http1,
    )
    .unwrap();
    run(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (server, client) = monoio::join!(accept_one(&l, &tls, &m), connect_one(addr, &client));
        let (mut server, mut client) = (server.unwrap(), client);
        assert_eq!(
            server.tls().unwrap().session().alpn_protocol(),
            Some(&b"http/1.1"[..])
        );

        // Nothing sent yet: readable does not complete; a cancelled read (the time-out)
        // leaves the connection usable.
        let idle = monoio::time::timeout(Duration::from_millis(50), server.readable(false)).await;
        assert!(idle.is_err(), "readable with nothing sent");
        let cut = monoio::time::timeout(
            Duration::from_millis(50),
            server.read(Vec::with_capacity(64)),
        )
        .await;
        assert!(cut.is_err(), "read with nothing sent");

        let (res, _) = client.write_all(b"hello".to_vec()).await;
        res.unwrap();
        server.readable(false).await.unwrap();
        let (res, buf) = server.read(Vec::with_capacity(64)).await;
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"hello");

        // More than one record and more than one socket read, the other way.
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let send = async {
            let (res, _) = server.write_all(big.clone()).await;
            res.unwrap();
            server
        };
        let recv = async {
            let mut got = Vec::new();
            while got.len() < big.len() {
                let (res, buf) = client.read(Vec::with_capacity(32 * 1024)).await;
                assert!(res.unwrap() > 0, "early end");
                got.extend_from_slice(&buf);
            }
            got
        };
        let (mut server, got) = monoio::join!(send, recv);
        assert!(got == big, "the bytes arrived changed");

        // close_notify: a clean end of stream for the reader.
        monoio::io::AsyncWriteRent::shutdown(&mut server)
            .await
            .unwrap();
        let (res, _) = client.read(Vec::with_capacity(64)).await;
        assert_eq!(res.unwrap(), 0);
    });
    assert_eq!(m.handshakes(), 1);
}

#[test]
fn an_untrusted_certificate_fails_the_client_handshake() {
    let f = Files::new("untrusted");
    let certs = vec![f.cert("a", &["a.test"])];
    let other = f.cert("other", &["a.test"]);
    let store = ResumptionStore::default();
    let lt = ListenerTls::load("l", "127.0.0.1:0", &listener_cfg(&certs), &store).unwrap();
    let tls = lt.for_core().unwrap();
    let m = TlsMetrics::default();
    let client = ClusterTls::load(
        &ClusterCfg {
            sni: Some("a.test".into()),
            ca_file: Some(other.0.clone()),
            verify: true,
            insecure_skip_verify: false,
            roots: Roots::Webpki,
            alpn: Some(vec![]),
        },
        Protocol::Http1,
    )
    .unwrap();
    run(async {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let connect = async {
            let tcp = TcpStream::connect_addr(addr).await.unwrap();
            let up = client.for_core(std::iter::once("127.0.0.1:1")).unwrap();
            client::connect(&up, 0, tcp).await
        };
        let (server, client) = monoio::join!(accept_one(&l, &tls, &m), connect);
        assert!(server.is_none(), "the server sees the client's alert");
        let Err(HandshakeError::Tls(rustls::Error::InvalidCertificate(_))) = client else {
            panic!("expected a certificate error, got {client:?}");
        };
    });
    assert_eq!(m.failures(crate::metrics::TlsFailure::AlertReceived), 1);
}
