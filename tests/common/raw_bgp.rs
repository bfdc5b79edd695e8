//! A minimal test-side BGP speaker: a TCP connection opened inside a namespace, podroute's own codec for OPEN/KEEPALIVE, and raw bytes for hand-crafted UPDATEs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use podroute::bgp::header::HEADER_LEN;
use podroute::bgp::{Asn, Capability, CodecContext, Family, Message, Notification, Open, RouterId};

use super::{Ns, wait_until};

/// Runs `f` on a thread that joined namespace `ns`: sockets it creates
/// live in that namespace (setns(2) changes only the calling thread).
pub fn in_netns<T: Send>(ns: &Ns, f: impl FnOnce() -> T + Send) -> T {
    let file = std::fs::File::open(format!("/run/netns/{}", ns.name)).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            // SAFETY: setns on a valid namespace fd affects this thread only.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap()
    })
}

/// An Established session with a test speaker on the far end: a reader
/// thread records what podroute sends, a keepalive thread keeps the
/// session up.
pub struct RawSpeaker {
    stream: TcpStream,
    pub received: Arc<Mutex<Vec<Message>>>,
    /// Set by the reader when the connection closes.
    pub closed: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

/// Reads one BGP message frame (header included).
fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut frame = vec![0u8; HEADER_LEN];
    stream.read_exact(&mut frame)?;
    let len = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
    if len < HEADER_LEN {
        return Err(std::io::Error::other("bad length"));
    }
    frame.resize(len, 0);
    stream.read_exact(&mut frame[HEADER_LEN..])?;
    Ok(frame)
}

/// The codec context of a 4-octet-AS iBGP session.
pub fn ctx() -> CodecContext {
    CodecContext {
        four_octet_as: true,
        ..CodecContext::default()
    }
}

impl RawSpeaker {
    /// Connects from namespace `ns` to `target`, exchanges OPEN (AS `asn`,
    /// hold time 9, IPv4 unicast, 4-octet AS) and KEEPALIVE.
    pub fn establish(ns: &Ns, target: SocketAddr, asn: u32, router_id: &str) -> RawSpeaker {
        let mut stream = in_netns(ns, || {
            let mut last = None;
            let ok = wait_until(super::DEADLINE, || {
                match TcpStream::connect_timeout(&target, Duration::from_secs(2)) {
                    Ok(s) => {
                        last = Some(Ok(s));
                        true
                    }
                    Err(e) => {
                        last = Some(Err(e));
                        false
                    }
                }
            });
            assert!(ok, "cannot connect to {target}: {last:?}");
            last.unwrap().unwrap()
        });
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let open = Open::new(
            Asn(asn),
            9,
            RouterId(router_id.parse().unwrap()),
            vec![Capability::Multiprotocol(Family::IPV4_UNICAST)],
        );
        let c = ctx();
        stream
            .write_all(&Message::Open(open).to_bytes(&c).unwrap())
            .unwrap();
        let theirs = Message::decode(&read_frame(&mut stream).unwrap(), &c).unwrap();
        assert!(
            matches!(theirs, Message::Open(_)),
            "expected OPEN, got {theirs:?}"
        );
        stream
            .write_all(&Message::Keepalive.to_bytes(&c).unwrap())
            .unwrap();
        let ka = Message::decode(&read_frame(&mut stream).unwrap(), &c).unwrap();
        assert_eq!(ka, Message::Keepalive, "expected KEEPALIVE");
        let speaker = RawSpeaker {
            stream: stream.try_clone().unwrap(),
            received: Arc::default(),
            closed: Arc::default(),
            stop: Arc::default(),
        };
        let (received, closed) = (speaker.received.clone(), speaker.closed.clone());
        let mut reader = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            while let Ok(frame) = read_frame(&mut reader) {
                if let Ok(m) = Message::decode(&frame, &ctx()) {
                    received.lock().unwrap().push(m);
                }
            }
            closed.store(true, Ordering::SeqCst);
        });
        let (mut writer, stop) = (stream, speaker.stop.clone());
        std::thread::spawn(move || {
            let ka = Message::Keepalive.to_bytes(&ctx()).unwrap();
            while !stop.load(Ordering::SeqCst) {
                if writer.write_all(&ka).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        speaker
    }

    /// Sends an UPDATE whose body (after the header) is `body`, verbatim.
    pub fn send_update_body(&mut self, body: &[u8]) {
        let len = u16::try_from(HEADER_LEN + body.len()).unwrap();
        let mut msg = vec![0xff; 16];
        msg.extend_from_slice(&len.to_be_bytes());
        msg.push(2);
        msg.extend_from_slice(body);
        self.stream.write_all(&msg).unwrap();
    }

    /// The NOTIFICATIONs podroute sent so far.
    pub fn notifications(&self) -> Vec<Notification> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter_map(|m| match m {
                Message::Notification(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }
}

impl Drop for RawSpeaker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// An UPDATE body announcing IPv4 `nlri` (e.g. `[24, 10, 244, 77, 0]`
/// trimmed to the prefix octets) with `attrs` (raw path attributes).
pub fn update_body(attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0];
    b.extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    b
}

/// Well-formed iBGP attributes: ORIGIN IGP, empty AS_PATH, NEXT_HOP `nh`,
/// LOCAL_PREF 100.
pub fn good_attrs(nh: [u8; 4]) -> Vec<u8> {
    let mut a = vec![0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4];
    a.extend_from_slice(&nh);
    a.extend_from_slice(&[0x40, 5, 4, 0, 0, 0, 100]);
    a
}
