//! Outputs that cannot be created: every command names the path the user gave (and the flag),
//! never the hidden temporary it would have written first, and leaves nothing behind.

use std::path::Path;

use crate::util::{one_line_error, pgp, sample_data};

/// Every file under `dir`, hidden ones included.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            found.push(path.display().to_string());
        }
    }
    found.sort();
    found
}

/// `pgp ARGS...` run in `dir` (so paths are typed relative, as a user would).
fn error_in(dir: &Path, args: &[&str]) -> String {
    let err = one_line_error(pgp().current_dir(dir).args(args));
    assert!(!err.contains("pgp-tmp"), "names a temporary: {err}");
    err
}

#[test]
fn a_missing_output_directory_is_named_with_the_flag_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(&dir.path().join("data"));
    let before = files_under(dir.path());
    let dem = "data/dem.tif";
    let out = "nodir/sub/out.tif";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["calc", "a*2", "--in", "a=data/dem.tif", "--out", out],
            "--out",
        ),
        (
            vec![
                "align",
                dem,
                "data/landcover.tif",
                "--out",
                "data/ok.tif",
                "--out",
                out,
                "--pixel-size",
                "30,-30",
                "--bbox",
                "intersection",
                "--resample",
                "near",
            ],
            "--out",
        ),
        (vec!["warp", dem, out, "--resample", "bilinear"], "OUT"),
        (vec!["convolve", dem, dem, out], "OUT"),
    ];
    for (args, flag) in cases {
        let err = error_in(dir.path(), &args);
        let expected = format!("{flag} {out}: directory nodir/sub does not exist");
        assert!(err.contains(&expected), "{args:?}: {err}");
    }
    // Not even the other outputs of the align were written.
    assert_eq!(files_under(dir.path()), before);
}

#[test]
fn a_file_where_a_directory_should_be_and_a_directory_as_output_are_named() {
    let dir = tempfile::tempdir().unwrap();
    sample_data(&dir.path().join("data"));
    let before = files_under(dir.path());
    let err = error_in(
        dir.path(),
        &[
            "calc",
            "a*2",
            "--in",
            "a=data/dem.tif",
            "--out",
            "data/dem.tif/x.tif",
        ],
    );
    assert!(
        err.contains("--out data/dem.tif/x.tif: data/dem.tif is not a directory"),
        "{err}"
    );
    let err = error_in(dir.path(), &["warp", "data/dem.tif", "data"]);
    assert!(
        err.contains("OUT data: is a directory, not a file"),
        "{err}"
    );
    assert_eq!(files_under(dir.path()), before);
}
