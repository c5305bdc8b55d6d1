//! The `pgp` binary loads libgdal on its first GDAL call, not at start (pgp-gdal-lazy): libgdal
//! is not among its `DT_NEEDED` libraries, no GDAL function is exported from it, a command that
//! needs no GDAL never loads it, and one that does loads it and works.

use std::path::Path;
use std::process::Command;

use pgp::core::sample;

const PGP: &str = env!("CARGO_BIN_EXE_pgp");

/// The files the dynamic loader reports loading (`LD_DEBUG=files`) while `pgp ARGS` runs, and
/// whether it succeeded.
fn loaded_files(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(PGP)
        .args(args)
        .env("LD_DEBUG", "files")
        .output()
        .expect("run pgp");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn soname() -> Option<&'static str> {
    pgp_gdal_lazy::GDAL_SONAME
}

#[test]
fn pgp_does_not_need_libgdal_at_start_nor_export_its_functions() {
    let Some(soname) = soname() else { return };
    let data = std::fs::read(PGP).expect("read the pgp binary");
    let info = pgp_gdal_lazy::elf::read_dynamic(&data).expect("pgp is an ELF file");
    assert!(
        !info.needed.iter().any(|n| n == soname),
        "pgp still has {soname} in DT_NEEDED (a GDAL function without a trampoline?): {:?}",
        info.needed
    );
    assert!(info.needed.iter().any(|n| n.starts_with("libc.so")));
    let gdal_named: Vec<_> = info
        .symbols
        .iter()
        .filter(|s| {
            ["CPL", "CSL", "GDAL", "OGR", "OSR", "OCT", "VSI"]
                .iter()
                .any(|p| s.name.starts_with(p))
        })
        .collect();
    assert!(
        gdal_named.is_empty(),
        "GDAL functions in pgp's dynamic symbol table (imported or exported): {gdal_named:?}"
    );
}

#[test]
fn a_command_without_gdal_never_loads_it_and_one_with_gdal_does() {
    let Some(soname) = soname() else { return };
    let (ok, log) = loaded_files(&["--version".as_ref()]);
    assert!(ok);
    assert!(
        log.contains("libc.so"),
        "LD_DEBUG=files reported nothing: {log}"
    );
    assert!(!log.contains(soname), "pgp --version loaded {soname}");

    let dir = tempfile::tempdir().unwrap();
    let data = sample::generate(dir.path(), 64, 3).unwrap();
    let (ok, log) = loaded_files(&["info".as_ref(), data.dem.as_os_str()]);
    assert!(ok, "pgp info failed: {log}");
    assert!(log.contains(soname), "pgp info did not load {soname}");
}

#[test]
fn a_rerun_with_every_task_up_to_date_never_loads_gdal() {
    let Some(soname) = soname() else { return };
    let dir = tempfile::tempdir().unwrap();
    sample::generate(dir.path().join("data"), 64, 3).unwrap();
    let pipeline = dir.path().join("pipeline.toml");
    std::fs::write(
        &pipeline,
        "executor = \"threading\"\n[[task]]\nname = \"double\"\nop = \"pgp.calc\"\n\
         [task.args]\nexpression = \"dem * 2\"\ninputs = { dem = \"data/dem.tif\" }\n\
         target = \"work/double.tif\"\n",
    )
    .unwrap();
    let run = |p: &Path| loaded_files(&["run".as_ref(), "--json".as_ref(), p.as_os_str()]);
    let (ok, log) = run(&pipeline);
    assert!(ok, "first run failed: {log}");
    assert!(
        log.contains(soname),
        "the first run computed without loading {soname}?"
    );
    let (ok, log) = run(&pipeline);
    assert!(ok, "rerun failed: {log}");
    assert!(
        !log.contains(soname),
        "a rerun that ran nothing loaded {soname}"
    );
}

/// With libgdal unreadable (an empty file bound over it, in a private mount namespace), a
/// command without GDAL still works and one with GDAL fails with the library's name, the
/// loader's reason and the loader's exit code. Skipped where user namespaces are not allowed.
#[test]
fn a_missing_libgdal_is_reported_by_name_when_first_needed() {
    let (Some(soname), Some(file)) = (soname(), pgp_gdal_lazy::GDAL_LINKED_FILE) else {
        return;
    };
    let allowed = Command::new("unshare")
        .args(["-rm", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !allowed {
        eprintln!("skipped: unshare -rm is not allowed here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = sample::generate(dir.path(), 32, 3).unwrap();
    let hidden = |args: &str| {
        Command::new("unshare")
            .args(["-rm", "sh", "-c"])
            .arg(format!(
                "mount --bind /dev/null '{file}' && exec '{PGP}' {args}"
            ))
            .output()
            .expect("run unshare")
    };
    let out = hidden("--version");
    assert!(out.status.success(), "{out:?}");
    let out = hidden(&format!("info '{}'", data.dem.display()));
    assert_eq!(
        out.status.code(),
        Some(pgp_gdal_lazy::LOAD_FAILURE_EXIT_CODE),
        "{out:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot load GDAL's library {soname}: "))
            && stderr.contains("file too short"),
        "{stderr}"
    );
}
