//! Path normalisation so that one file has one name inside a graph.

use std::io;
use std::path::{Component, Path, PathBuf};

/// Makes `path` absolute (relative paths are taken from the current directory) and removes `.`
/// and `..` components lexically. Symlinks are not resolved: outputs usually do not exist yet,
/// and two spellings of one file through a symlink are the caller's business.
pub fn normalize(path: &Path) -> io::Result<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut out = PathBuf::new();
    for comp in absolute.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    Ok(out)
}

/// How a task key names a (normalised) file: relative to the project `root` when inside it, as
/// given (absolute) otherwise.
pub fn key_path(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => path.to_path_buf(),
    }
}

/// The bytes of a path, for hashing. On Unix these are the raw OS bytes.
pub fn path_bytes(path: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy().as_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_removed() {
        let p = normalize(Path::new("/a/./b/../c/d.tif")).unwrap();
        assert_eq!(p, PathBuf::from("/a/c/d.tif"));
    }

    #[test]
    fn key_paths_are_relative_inside_the_root_only() {
        let root = Path::new("/p/proj");
        assert_eq!(
            key_path(root, Path::new("/p/proj/w/a.tif")),
            Path::new("w/a.tif")
        );
        assert_eq!(
            key_path(root, Path::new("/p/proj2/a.tif")),
            Path::new("/p/proj2/a.tif")
        );
    }

    #[test]
    fn relative_is_joined_to_cwd() {
        let p = normalize(Path::new("x/../y.tif")).unwrap();
        assert_eq!(p, std::env::current_dir().unwrap().join("y.tif"));
    }
}
