//! Who may talk to whom: a per-run secret and a mutual challenge-response over it.
//!
//! The driver writes 32 random bytes to `secret` in the run directory (directory mode 0700, file
//! mode 0600, so only the user can read it; the directory is on the shared filesystem the
//! workers see). A worker proves it knows the secret without sending it, and so does the driver:
//!
//! 1. driver → worker: [`GREETING`], then a fresh 32-byte nonce `nd`;
//! 2. worker → driver: a frame `WorkerProof { job_id, pid, node, nw, mac }` with a fresh nonce
//!    `nw` and `mac = HMAC-SHA256(secret, "worker" ‖ nd ‖ nw ‖ job_id ‖ node)`;
//! 3. driver → worker: `HMAC-SHA256(secret, "driver" ‖ nw ‖ nd)`, or it closes the connection
//!    and logs the refusal.
//!
//! Nonces make a recorded exchange useless later; the job id (and the node, which run reports
//! show) is bound into the proof so a connection cannot claim another job's identity. Workers only connect out and accept nothing,
//! so nobody else can hand them work; a process that is not this run's driver cannot pass
//! step 3, so a worker never runs its requests.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The first bytes the driver sends on a connection.
pub(crate) const GREETING: [u8; 8] = *b"PGPSLRM1";
/// Longest node name a proof carries (so that a proof stays a few dozen bytes).
pub(crate) const MAX_NODE_NAME: usize = 128;
/// Length of the secret and of the nonces.
pub(crate) const KEY_LEN: usize = 32;

/// The worker's answer to the challenge.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WorkerProof {
    pub job_id: u64,
    pub pid: u32,
    /// The node the job runs on, as Slurm names it (at most [`MAX_NODE_NAME`] bytes).
    pub node: String,
    pub nonce: [u8; KEY_LEN],
    pub mac: [u8; 32],
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts`.
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Compares in time independent of where the first difference is.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Fresh random bytes from the kernel.
pub(crate) fn random_bytes() -> io::Result<[u8; KEY_LEN]> {
    let mut bytes = [0u8; KEY_LEN];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// The worker's proof; every part before `node` has a fixed length, so the concatenation is
/// unambiguous.
pub(crate) fn worker_mac(secret: &[u8], nd: &[u8], nw: &[u8], job_id: u64, node: &str) -> [u8; 32] {
    hmac(
        secret,
        &[b"worker", nd, nw, &job_id.to_le_bytes(), node.as_bytes()],
    )
}

pub(crate) fn driver_mac(secret: &[u8], nw: &[u8], nd: &[u8]) -> [u8; 32] {
    hmac(secret, &[b"driver", nw, nd])
}

/// Creates `dir` readable by the user only (failing if it exists) and a fresh secret in it.
pub(crate) fn create_run_dir(dir: &Path) -> io::Result<[u8; KEY_LEN]> {
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::DirBuilder::new().mode(0o700).create(dir)?;
    // The mode given to mkdir is masked by the umask; make sure.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let secret = random_bytes()?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("secret"))?;
    file.write_all(&secret)?;
    file.sync_all()?;
    Ok(secret)
}

/// Reads the run's secret, refusing a file others could read (someone else could then
/// impersonate the driver or the workers).
pub(crate) fn read_secret(dir: &Path) -> io::Result<Vec<u8>> {
    let path = dir.join("secret");
    let mode = fs::metadata(&path)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} can be read by others (mode {:o}); refusing to use it",
                path.display(),
                mode & 0o777
            ),
        ));
    }
    let secret = fs::read(&path)?;
    if secret.len() != KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a pgp run secret", path.display()),
        ));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 4231 test cases 1, 2 and 6 (long key).
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex(&hmac(&[0x0b; 20], &[b"Hi ", b"There"])),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac(b"Jefe", &[b"what do ya want for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac(
                &[0xaa; 131],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn proofs_bind_role_nonces_and_job() {
        let (secret, nd, nw) = ([7u8; 32], [1u8; 32], [2u8; 32]);
        let proof = worker_mac(&secret, &nd, &nw, 12, "n1");
        assert!(same(&proof, &worker_mac(&secret, &nd, &nw, 12, "n1")));
        assert!(!same(&proof, &worker_mac(&secret, &nd, &nw, 13, "n1")));
        assert!(!same(&proof, &worker_mac(&secret, &nd, &nw, 12, "n2")));
        assert!(!same(&proof, &worker_mac(&[8u8; 32], &nd, &nw, 12, "n1")));
        assert!(!same(&proof, &worker_mac(&secret, &nw, &nd, 12, "n1")));
        assert!(!same(&driver_mac(&secret, &nw, &nd), &proof));
        assert!(!same(&proof, &proof[..31]));
    }

    #[test]
    fn the_secret_is_private_and_checked() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("run");
        let secret = create_run_dir(&dir).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(read_secret(&dir).unwrap(), secret);
        assert!(
            create_run_dir(&dir).is_err(),
            "an existing run dir is reused"
        );
        fs::set_permissions(dir.join("secret"), fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_secret(&dir).unwrap_err().to_string();
        assert!(err.contains("can be read by others"), "{err}");
    }
}
