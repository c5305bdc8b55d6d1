//! Task keys: what a task's result depends on, condensed into one BLAKE3 digest.
//!
//! Keys are *relocatable*: no part of one depends on where the project lies. Paths are taken
//! relative to the project root ([`crate::paths::key_path`]), an input outside the root counts
//! by its content alone, and paths spelled out inside the arguments are replaced by their place
//! in the task's input or output list ([`canonical_args`]). So a copied, moved or renamed project
//! computes the same keys, and so does another project with the same layout and inputs (what
//! lets a shared cache serve it).

use crate::digest::Digest;
use crate::paths::path_bytes;
use std::path::{Path, PathBuf};

/// Everything a task key is computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParts {
    /// The operation's id (its registered name, or `fn:<name>` for closures).
    pub op_id: String,
    /// The operation's version; bump it when the code changes what it writes.
    pub op_version: u32,
    /// The canonical arguments: bincode of the op's `Args`, declared paths replaced by
    /// placeholders (`canonical_args`).
    pub args: Vec<u8>,
    /// The files read, in declaration order, with their content digests: the path relative to
    /// the project root, or `None` for a file outside it (keyed by its content alone).
    pub inputs: Vec<(Option<PathBuf>, Digest)>,
    /// The files written, in declaration order: relative to the project root, absolute when
    /// outside it.
    pub outputs: Vec<PathBuf>,
}

/// Domain tag so that a key can never equal a digest of something else. v2: relocatable keys
/// (v1 keys held absolute paths); v3: BLAKE3 instead of SHA-256, over BLAKE3 input digests.
/// Records of an older format are never taken for current ones.
const KEY_DOMAIN: &[u8] = b"pgp-graph/task-key/v3\0";

fn put_bytes(h: &mut blake3::Hasher, bytes: &[u8]) {
    // Length prefixes make the encoding injective: no two different part lists hash the same
    // byte stream (e.g. op "ab" + args "c" versus op "a" + args "bc").
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

impl KeyParts {
    /// BLAKE3 over the length-prefixed parts.
    pub fn key(&self) -> Digest {
        let mut h = blake3::Hasher::new();
        h.update(KEY_DOMAIN);
        put_bytes(&mut h, self.op_id.as_bytes());
        h.update(&self.op_version.to_le_bytes());
        put_bytes(&mut h, &self.args);
        h.update(&(self.inputs.len() as u64).to_le_bytes());
        for (path, digest) in &self.inputs {
            match path {
                Some(path) => {
                    h.update(&[1]);
                    put_bytes(&mut h, &path_bytes(path));
                }
                None => {
                    h.update(&[0]);
                }
            }
            h.update(&digest.0);
        }
        h.update(&(self.outputs.len() as u64).to_le_bytes());
        for path in &self.outputs {
            put_bytes(&mut h, &path_bytes(path));
        }
        Digest(*h.finalize().as_bytes())
    }
}

/// `args` with every declared path that appears in it as a bincode string replaced by a
/// placeholder naming its place: the `i`-th input becomes `"\0pgp-input-i"`, the `j`-th output
/// `"\0pgp-output-j"`. The key then depends on where a file lies relative to the project (the
/// key's path lists say that) and not on how the arguments spell it (relative to some working
/// directory, or absolute).
///
/// Paths are found by their bincode encoding (a `u64` little-endian length, then the UTF-8
/// bytes), which is how serde writes `Path`, `PathBuf` and `String`. A string argument that
/// happens to equal a declared path is replaced too, which only changes the key in step with
/// that file's place. Path text never contains a zero byte, so no match straddles another.
pub fn canonical_args(args: &[u8], inputs: &[PathBuf], outputs: &[PathBuf]) -> Vec<u8> {
    let mut out = args.to_vec();
    let declared = inputs
        .iter()
        .enumerate()
        .map(|(i, p)| (p, format!("\0pgp-input-{i}")))
        .chain(
            outputs
                .iter()
                .enumerate()
                .map(|(j, p)| (p, format!("\0pgp-output-{j}"))),
        );
    for (path, placeholder) in declared {
        let Some(text) = path.to_str().filter(|t| !t.is_empty()) else {
            continue; // not UTF-8: bincode could not have written it as a string
        };
        out = replace_all(&out, &bincode_str(text), &bincode_str(&placeholder));
    }
    out
}

fn bincode_str(text: &str) -> Vec<u8> {
    let mut v = (text.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(text.as_bytes());
    v
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// The key-form of a declared path list, for [`KeyParts::inputs`]: root-relative or `None`.
pub fn key_inputs(root: &Path, inputs: &[PathBuf]) -> Vec<Option<PathBuf>> {
    inputs
        .iter()
        .map(|p| p.strip_prefix(root).ok().map(Path::to_path_buf))
        .collect()
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
                    .map(|(p, d)| (Some(PathBuf::from(format!("in/{p}"))), Digest(d)))
                    .collect(),
                outputs: outs
                    .into_iter()
                    .map(|p| PathBuf::from(format!("out/{p}")))
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
                    .push((Some(PathBuf::from("in/new")), Digest([byte; 32]))),
            },
            4 => match p.inputs.first_mut() {
                // Inside the root versus outside it (same content) are different keys.
                Some((path, _)) => *path = None,
                None => p.inputs.push((None, Digest([0; 32]))),
            },
            5 => match p.outputs.first_mut() {
                Some(path) => {
                    path.set_extension("bak");
                }
                None => p.outputs.push(PathBuf::from("out/new")),
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
        fn canonical_args_do_not_depend_on_how_a_path_is_spelled(
            rel in "[a-z]{1,8}(/[a-z]{1,8}){0,3}",
            root in "/[a-z]{1,6}(/[a-z]{1,6}){0,2}",
            other in "x-[a-z]{1,8}",
            n in any::<u32>(),
        ) {
            let abs = format!("{root}/{rel}");
            let encode = |p: &str| {
                let bytes = bincode::serialize(&(n, PathBuf::from(p), other.clone())).unwrap();
                canonical_args(&bytes, &[PathBuf::from(p)], &[])
            };
            prop_assert_eq!(encode(&rel), encode(&abs));
            // A string that is not a declared path is kept as it is.
            let plain = bincode::serialize(&(n, other.clone())).unwrap();
            prop_assert_eq!(canonical_args(&plain, &[PathBuf::from(&abs)], &[]), plain);
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
        let a = (Some(PathBuf::from("a")), Digest([1; 32]));
        let b = (Some(PathBuf::from("b")), Digest([2; 32]));
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

    #[test]
    fn declared_paths_in_arguments_are_replaced_by_their_place() {
        #[derive(serde::Serialize)]
        struct Args {
            input: PathBuf,
            label: String,
            target: PathBuf,
        }
        let encode = |input: &str, target: &str| {
            let args = Args {
                input: input.into(),
                label: "same".into(),
                target: target.into(),
            };
            let bytes = bincode::serialize(&args).unwrap();
            canonical_args(&bytes, &[PathBuf::from(input)], &[PathBuf::from(target)])
        };
        // Spelled relative in one project, absolute in another: the same canonical arguments.
        assert_eq!(
            encode("data/a.tif", "work/b.tif"),
            encode("/elsewhere/proj/data/a.tif", "/elsewhere/proj/work/b.tif")
        );
        // Which declared path sits in which argument still matters.
        assert_ne!(encode("x.tif", "y.tif"), {
            let args = Args {
                input: "y.tif".into(),
                label: "same".into(),
                target: "x.tif".into(),
            };
            let bytes = bincode::serialize(&args).unwrap();
            canonical_args(&bytes, &[PathBuf::from("x.tif")], &[PathBuf::from("y.tif")])
        });
        // Other bytes are untouched.
        let plain = bincode::serialize(&(7u32, "text")).unwrap();
        assert_eq!(
            canonical_args(&plain, &[PathBuf::from("nothing")], &[]),
            plain
        );
    }

    #[test]
    fn inputs_outside_the_root_are_keyed_by_content_alone() {
        let root = Path::new("/p/proj");
        let found = key_inputs(
            root,
            &[
                PathBuf::from("/p/proj/data/a.tif"),
                PathBuf::from("/q/b.tif"),
            ],
        );
        assert_eq!(found, [Some(PathBuf::from("data/a.tif")), None]);
    }
}
