//! The wire protocol between a process pool and its workers.
//!
//! Both directions carry frames: a 4-byte little-endian length, then that many bytes of bincode.
//! A worker starts by writing [`MAGIC`] and a [`Hello`] frame; then, for each [`Request`] frame
//! it reads, it writes any number of [`WorkerMsg::Beat`] frames while the request runs (every
//! [`HEARTBEAT_ENV`] milliseconds) and exactly one [`WorkerMsg::Reply`]. End of input tells the
//! worker to exit.

use std::io::{self, Read, Write};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Environment variable that puts a binary into worker mode, and its expected value.
pub(crate) const WORKER_ENV: &str = "PGP_EXEC_WORKER";
/// Value of [`WORKER_ENV`] for this protocol version.
pub(crate) const WORKER_ENV_VALUE: &str = "pgp-exec-protocol-2";
/// Environment variable telling a worker how often (milliseconds) to send a heartbeat while it
/// runs a request.
pub(crate) const HEARTBEAT_ENV: &str = "PGP_EXEC_HEARTBEAT_MS";
/// First bytes a worker writes: tells a real worker from a program that prints something else.
pub(crate) const MAGIC: [u8; 8] = *b"PGPEXEC1";
/// Largest frame accepted (1 GiB): a guard against reading garbage as a length.
pub(crate) const MAX_FRAME: usize = 1 << 30;

/// The worker's first message.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub pid: u32,
    /// Names of the operations registered in the worker binary.
    pub ops: Vec<String>,
}

/// One operation call.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Request {
    pub id: u64,
    pub op: String,
    /// Bytes as one block on the wire (serde's default is one element at a time).
    #[serde(with = "serde_bytes")]
    pub args: Vec<u8>,
}

/// How a call ended.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Ok(#[serde(with = "serde_bytes")] Vec<u8>),
    Failed(crate::registry::RawFailure),
    Panicked(String),
    UnknownOp,
    DuplicateOp,
}

/// The answer to the request with the same id.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Reply {
    pub id: u64,
    pub outcome: Outcome,
}

/// What a worker sends after the handshake.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WorkerMsg {
    /// "Still alive": sent by a worker thread of its own while a request runs, so a long task is
    /// told apart from a stopped or frozen process.
    Beat,
    /// The end of a request.
    Reply(Reply),
}

/// Writes one frame and flushes.
pub(crate) fn write_frame(out: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&len| len as usize <= MAX_FRAME)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("frame of {} bytes is too large", payload.len()),
            )
        })?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(payload)?;
    out.flush()
}

/// Encodes `value` as a complete frame (length prefix included), ready for a single write.
pub(crate) fn encode_frame(value: &impl Serialize) -> Result<Vec<u8>, String> {
    let mut frame = vec![0u8; 4];
    bincode::serialize_into(&mut frame, value).map_err(|e| e.to_string())?;
    let len = frame.len() - 4;
    let len32 = u32::try_from(len)
        .ok()
        .filter(|_| len <= MAX_FRAME)
        .ok_or_else(|| format!("frame of {len} bytes is too large"))?;
    frame[..4].copy_from_slice(&len32.to_le_bytes());
    Ok(frame)
}

/// Reads one frame; `Ok(None)` on a clean end of input before the frame started.
pub(crate) fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut filled = 0;
    while filled < len.len() {
        match input.read(&mut len[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame length {len} is too large"),
        ));
    }
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// Waits until `fd` has data (or end of input) to read, at most `timeout` (`None`: forever).
/// Returns false on timeout.
pub(crate) fn wait_readable(fd: std::os::fd::RawFd, timeout: Option<Duration>) -> io::Result<bool> {
    let millis = match timeout {
        None => -1,
        Some(t) => i32::try_from(t.as_millis()).unwrap_or(i32::MAX),
    };
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `poll` points to one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready >= 0 {
            return Ok(ready > 0);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_eof_is_distinguished() {
        let mut buffer = Vec::new();
        write_frame(&mut buffer, b"hello").unwrap();
        write_frame(&mut buffer, b"").unwrap();
        let mut reader = &buffer[..];
        assert_eq!(read_frame(&mut reader).unwrap().unwrap(), b"hello");
        assert_eq!(read_frame(&mut reader).unwrap().unwrap(), b"");
        assert!(read_frame(&mut reader).unwrap().is_none());
        let mut truncated = &buffer[..6];
        assert!(read_frame(&mut truncated).is_err());
        let mut cut_header = &buffer[..2];
        assert_eq!(
            read_frame(&mut cut_header).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let mut encoded = &encode_frame(&(7u32, "op")).unwrap()[..];
        let payload = read_frame(&mut encoded).unwrap().unwrap();
        assert_eq!(
            bincode::deserialize::<(u32, String)>(&payload).unwrap(),
            (7, "op".into())
        );
        assert!(encoded.is_empty());
        let mut huge = &[0xff, 0xff, 0xff, 0x7f][..];
        assert_eq!(
            read_frame(&mut huge).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
