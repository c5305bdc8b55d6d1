//! Task keys: what a task's result depends on, condensed into one SHA-256.

use crate::digest::Digest;
use crate::paths::path_bytes;
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;

/// Everything a task key is computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParts {
    /// The operation's id (its registered name, or `fn:<name>` for closures).
    pub op_id: String,
    /// The operation's version; bump it when the code changes what it writes.
    pub op_version: u32,
    /// The canonically serialised arguments (bincode of the op's `Args`).
    pub args: Vec<u8>,
    /// The files read, in declaration order, with their content digests.
    pub inputs: Vec<(PathBuf, Digest)>,
    /// The files written, in declaration order.
    pub outputs: Vec<PathBuf>,
}

/// Domain tag so that a key can never equal a digest of something else.
const KEY_DOMAIN: &[u8] = b"pgp-graph/task-key/v1\0";

fn put_bytes(h: &mut Sha256, bytes: &[u8]) {
    // Length prefixes make the encoding injective: no two different part lists hash the same
    // byte stream (e.g. op "ab" + args "c" versus op "a" + args "bc").
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

impl KeyParts {
    /// SHA-256 over the length-prefixed parts.
    pub fn key(&self) -> Digest {
        let mut h = Sha256::new();
        h.update(KEY_DOMAIN);
        put_bytes(&mut h, self.op_id.as_bytes());
        h.update(self.op_version.to_le_bytes());
        put_bytes(&mut h, &self.args);
        h.update((self.inputs.len() as u64).to_le_bytes());
        for (path, digest) in &self.inputs {
            put_bytes(&mut h, &path_bytes(path));
            h.update(digest.0);
        }
        h.update((self.outputs.len() as u64).to_le_bytes());
        for path in &self.outputs {
            put_bytes(&mut h, &path_bytes(path));
        }
        Digest(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parts_strategy() -> impl Strategy<Value = KeyParts> {
        (
            "[a-z_]{1,8}",
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..16),
            proptest::collection::vec(("[a-z]{1,4}", any::<[u8; 32]>()), 0..4),
            proptest::collection::vec("[a-z]{1,4}", 0..4),
        )
            .prop_map(|(op, v, args, ins, outs)| KeyParts {
                op_id: op,
                op_version: v,
                args,
                inputs: ins
                    .into_iter()
                    .map(|(p, d)| (PathBuf::from(format!("/in/{p}")), Digest(d)))
                    .collect(),
                outputs: outs
                    .into_iter()
                    .map(|p| PathBuf::from(format!("/out/{p}")))
                    .collect(),
            })
    }

    /// Applies one single-field change, chosen by `which`, that certainly alters the parts.
    fn mutate(mut p: KeyParts, which: u8, byte: u8) -> KeyParts {
        match which % 7 {
            0 => p.op_id.push('x'),
            1 => p.op_version = p.op_version.wrapping_add(1),
            2 => p.args.push(byte),
            3 => match p.inputs.first_mut() {
                Some((_, d)) => d.0[usize::from(byte) % 32] ^= 1,
                None => p
                    .inputs
                    .push((PathBuf::from("/in/new"), Digest([byte; 32]))),
            },
            4 => match p.inputs.first_mut() {
                Some((path, _)) => path.push("sub"),
                None => p.inputs.push((PathBuf::from("/in/other"), Digest([0; 32]))),
            },
            5 => match p.outputs.first_mut() {
                Some(path) => {
                    path.set_extension("bak");
                }
                None => p.outputs.push(PathBuf::from("/out/new")),
            },
            _ => {
                if p.args.is_empty() {
                    p.args.push(byte);
                } else {
                    p.args[0] ^= 0x80;
                }
            }
        }
        p
    }

    proptest! {
        #[test]
        fn key_is_stable(p in parts_strategy()) {
            prop_assert_eq!(p.key(), p.clone().key());
        }

        #[test]
        fn any_single_field_change_changes_key(p in parts_strategy(), which in any::<u8>(), byte in any::<u8>()) {
            let q = mutate(p.clone(), which, byte);
            prop_assert_ne!(&p, &q);
            prop_assert_ne!(p.key(), q.key());
        }

        #[test]
        fn moving_bytes_between_fields_changes_key(op in "[a-z]{2,8}", args in proptest::collection::vec(any::<u8>(), 0..8)) {
            let a = KeyParts { op_id: op.clone(), op_version: 0, args: args.clone(), inputs: vec![], outputs: vec![] };
            let mut shifted_args = vec![op.as_bytes()[op.len() - 1]];
            shifted_args.extend_from_slice(&args);
            let b = KeyParts { op_id: op[..op.len() - 1].to_string(), op_version: 0, args: shifted_args, inputs: vec![], outputs: vec![] };
            prop_assert_ne!(a.key(), b.key());
        }
    }

    #[test]
    fn swapping_input_order_changes_key() {
        let a = (PathBuf::from("/a"), Digest([1; 32]));
        let b = (PathBuf::from("/b"), Digest([2; 32]));
        let p = KeyParts {
            op_id: "op".into(),
            op_version: 1,
            args: vec![],
            inputs: vec![a.clone(), b.clone()],
            outputs: vec![],
        };
        let q = KeyParts {
            inputs: vec![b, a],
            ..p.clone()
        };
        assert_ne!(p.key(), q.key());
    }
}
