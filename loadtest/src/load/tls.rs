//! TLS on the load generator's side: the options from the command line (and the ALPN
//! probe that decides the protocol when `--alpn` offers h2 without `--h2`), a worker's TLS
//! connect step (the timed handshake on a fresh TCP connection, its outcome recorded) and
//! the handshake figures.
//!
//! A handshake that fails counts in [`TlsRecord::failed`] and fails its request with the
//! `tls` error kind; the first failure's message is kept for the report, so that an
//! untrusted certificate or an ALPN mismatch says what it was.

use std::cell::RefCell;
use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use monoio::net::tcp::stream_poll::TcpStreamPoll;
use monoio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::args::LoadArgs;
use super::recorder::{histogram, record_us, ErrorKind, Recorder};
use crate::target::Target;
use crate::tls::client::{ClientOptions, Connector, TlsPlan};
use crate::tls::ALPN_H2;

/// The TLS options of `a`, or an error when they are given for a cleartext target.
pub fn options(a: &LoadArgs, target: &Target) -> Result<Option<ClientOptions>, String> {
    if !target.tls {
        let given = a.cacert.is_some()
            || a.insecure
            || a.alpn.is_some()
            || a.no_resume
            || a.tls_version.is_some();
        if given {
            return Err(
                "--cacert, --insecure, --alpn, --no-resume and --tls-version \
                        need an https:// URL"
                    .into(),
            );
        }
        return Ok(None);
    }
    let alpn = a.alpn.as_ref().map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty() && *p != "none")
            .map(String::from)
            .collect::<Vec<_>>()
    });
    Ok(Some(ClientOptions {
        insecure: a.insecure,
        cacert: a.cacert.clone(),
        alpn,
        h2: a.h2,
        resume: !a.no_resume,
        version: a.tls_version,
    }))
}

/// The run's TLS plan and whether it speaks h2. Without `--h2` but with `h2` in the
/// `--alpn` offer, one probe handshake (before the run, not counted) asks the server:
/// the run speaks h2 when it picks `h2`, else HTTP/1.1.
pub fn plan(mut opts: ClientOptions, target: &Target) -> Result<(TlsPlan, bool), String> {
    let plan = TlsPlan::new(&opts, &target.host)?;
    if opts.h2 || !plan.offers(ALPN_H2) {
        return Ok((plan, opts.h2));
    }
    if plan.probe(target.addr)?.as_deref() != Some(ALPN_H2) {
        return Ok((plan, false));
    }
    opts.h2 = true;
    Ok((TlsPlan::new(&opts, &target.host)?, true))
}

/// Runs the TLS handshake on a connected socket and records it.
pub async fn handshake(
    connector: &Connector,
    tcp: TcpStream,
    rec: &RefCell<Recorder>,
) -> Result<TlsStream<TcpStreamPoll>, ErrorKind> {
    let poll = match tcp.try_into_poll_io() {
        Ok(p) => p,
        Err((e, _)) => {
            rec.borrow_mut().tls.failed(&e.to_string());
            return Err(ErrorKind::Tls);
        }
    };
    match connector.connect(poll).await {
        Ok((tls, hs)) => {
            rec.borrow_mut().tls.done(&hs);
            Ok(tls)
        }
        Err(e) => {
            rec.borrow_mut().tls.failed(&e.0);
            Err(ErrorKind::Tls)
        }
    }
}

/// TLS handshake figures.
#[derive(Debug, Clone)]
pub struct TlsRecord {
    /// Completed handshakes.
    pub handshakes: u64,
    /// Of those, resumed ones.
    pub resumed: u64,
    /// Failed handshakes.
    pub failed: u64,
    /// Handshake time (ClientHello sent to handshake done), µs.
    pub time: Histogram<u64>,
    /// Full handshakes' time, µs.
    pub full_time: Histogram<u64>,
    /// Resumed handshakes' time, µs.
    pub resumed_time: Histogram<u64>,
    /// Handshakes by negotiated version.
    pub versions: BTreeMap<String, u64>,
    /// Handshakes by negotiated ALPN id (`none` when none).
    pub alpn: BTreeMap<String, u64>,
    /// The first failure's message.
    pub first_error: Option<String>,
}

impl Default for TlsRecord {
    fn default() -> Self {
        Self {
            handshakes: 0,
            resumed: 0,
            failed: 0,
            time: histogram(),
            full_time: histogram(),
            resumed_time: histogram(),
            versions: BTreeMap::new(),
            alpn: BTreeMap::new(),
            first_error: None,
        }
    }
}

impl TlsRecord {
    /// Counts a completed handshake.
    pub fn done(&mut self, hs: &crate::tls::client::Handshake) {
        self.handshakes += 1;
        record_us(&mut self.time, hs.time);
        if hs.resumed {
            self.resumed += 1;
            record_us(&mut self.resumed_time, hs.time);
        } else {
            record_us(&mut self.full_time, hs.time);
        }
        *self
            .versions
            .entry(crate::tls::version_name(hs.version))
            .or_default() += 1;
        let alpn = hs
            .alpn
            .as_deref()
            .map_or("none".into(), |p| String::from_utf8_lossy(p).into_owned());
        *self.alpn.entry(alpn).or_default() += 1;
    }

    /// Counts a failed handshake.
    pub fn failed(&mut self, why: &str) {
        self.failed += 1;
        if self.first_error.is_none() {
            self.first_error = Some(why.to_string());
        }
    }

    pub(super) fn merge(&mut self, o: &TlsRecord) {
        self.handshakes += o.handshakes;
        self.resumed += o.resumed;
        self.failed += o.failed;
        let _ = self.time.add(&o.time);
        let _ = self.full_time.add(&o.full_time);
        let _ = self.resumed_time.add(&o.resumed_time);
        for (k, v) in &o.versions {
            *self.versions.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.alpn {
            *self.alpn.entry(k.clone()).or_default() += v;
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&o.first_error);
        }
    }
}
