//! Finds the libgdal that gdal-sys links (the same search: `GDAL_LIB_DIR`, `GDAL_HOME`,
//! pkg-config, then the C compiler's library path), reads its SONAME and exported C functions,
//! and writes one lazy-binding trampoline per function (see the crate docs). Anything it cannot
//! find or read makes it write nothing: the crate is then empty and GDAL links as usual.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/elf.rs"]
#[allow(dead_code)]
mod elf;

/// The prefixes of the C functions gdal-sys binds (its bindgen allowlist): nothing else of
/// libgdal can be called through it, and nothing else is defined here, so no other library's
/// function of the same name is ever shadowed.
const BOUND_PREFIXES: [&str; 7] = ["CPL", "CSL", "GDAL", "OGR", "OSR", "OCT", "VSI"];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pgp_gdal_lazy)");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/elf.rs");
    for var in [
        "PGP_GDAL_EAGER",
        "GDAL_STATIC",
        "GDAL_DYNAMIC",
        "GDAL_LIB_DIR",
        "GDAL_HOME",
        "PKG_CONFIG_PATH",
        "CC",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let is_static = env::var_os("GDAL_STATIC").is_some() && env::var_os("GDAL_DYNAMIC").is_none();
    if arch != "x86_64" || os != "linux" || is_static || env::var_os("PGP_GDAL_EAGER").is_some() {
        return;
    }
    let Some(library) = find_libgdal() else {
        println!("cargo:warning=pgp-gdal-lazy: libgdal.so not found; GDAL is linked eagerly");
        return;
    };
    println!("cargo:rerun-if-changed={}", library.display());
    let info = match fs::read(&library).and_then(|data| elf::read_dynamic(&data)) {
        Ok(info) => info,
        Err(e) => {
            println!(
                "cargo:warning=pgp-gdal-lazy: {}: {e}; GDAL is linked eagerly",
                library.display()
            );
            return;
        }
    };
    let Some(soname) = info.soname else {
        println!(
            "cargo:warning=pgp-gdal-lazy: {} has no SONAME; GDAL is linked eagerly",
            library.display()
        );
        return;
    };
    let mut names: Vec<String> = info
        .symbols
        .into_iter()
        .filter(|s| s.defined && s.function && is_bound_c_function(&s.name))
        .map(|s| s.name)
        .collect();
    names.sort();
    names.dedup();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // gdal-sys (links = "gdal") reports the version it was built against; the tests check that
    // the library loaded at run time is that one.
    if let Ok(number) = env::var("DEP_GDAL_VERSION_NUMBER") {
        println!("cargo:rustc-env=PGP_GDAL_BUILT_VERSION_NUM={number}");
    }
    fs::write(out.join("trampolines.s"), trampolines(&names)).expect("write trampolines.s");
    println!("cargo:rustc-env=PGP_GDAL_SONAME={soname}");
    // For the tests that hide the library to see the load fail.
    let real = fs::canonicalize(&library).unwrap_or(library);
    println!("cargo:rustc-env=PGP_GDAL_LINKED_FILE={}", real.display());
    println!("cargo:rustc-cfg=pgp_gdal_lazy");
}

fn is_bound_c_function(name: &str) -> bool {
    BOUND_PREFIXES.iter().any(|p| name.starts_with(p))
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// For each function: the global (hidden) symbol jumps through its slot; the slot first holds
/// the address of a stub that passes the slot and the name to the shared resolver. Each
/// function's code, slot and name have sections of their own, so the linker's --gc-sections
/// drops those of functions nothing calls.
fn trampolines(names: &[String]) -> String {
    let mut s = String::new();
    for name in names {
        writeln!(
            s,
            r#".section .text.pgp_gdal_lazy.{name},"ax",@progbits
.globl {name}
.hidden {name}
.type {name},@function
.p2align 3
{name}:
    jmp *.Lpgp_gdal_slot.{name}(%rip)
.Lpgp_gdal_first.{name}:
    leaq .Lpgp_gdal_slot.{name}(%rip), %r11
    leaq .Lpgp_gdal_name.{name}(%rip), %r10
    jmp pgp_gdal_lazy_resolve_and_jump
.size {name}, .-{name}
.section .data.pgp_gdal_lazy.{name},"aw",@progbits
.p2align 3
.Lpgp_gdal_slot.{name}:
    .quad .Lpgp_gdal_first.{name}
.section .rodata.pgp_gdal_lazy.{name},"a",@progbits
.Lpgp_gdal_name.{name}:
    .asciz "{name}"
"#
        )
        .expect("write to a String");
    }
    s.push_str(".text\n");
    s
}

/// The libgdal.so the linker will find for `-lgdal`, searched the way gdal-sys's build script
/// and then the linker search: the directories it is told, pkg-config's `-L` (with system
/// directories kept), then the compiler's own library path.
fn find_libgdal() -> Option<PathBuf> {
    const FILE: &str = "libgdal.so";
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = env::var_os("GDAL_LIB_DIR") {
        dirs.push(dir.into());
    }
    if let Some(home) = env::var_os("GDAL_HOME") {
        dirs.push(Path::new(&home).join("lib"));
    }
    if let Ok(out) = Command::new("pkg-config")
        .args(["--libs-only-L", "gdal"])
        .env("PKG_CONFIG_ALLOW_SYSTEM_LIBS", "1")
        .output()
    {
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            dirs.extend(
                text.split_whitespace()
                    .filter_map(|flag| flag.strip_prefix("-L"))
                    .map(PathBuf::from),
            );
        }
    }
    if let Some(found) = dirs.iter().map(|d| d.join(FILE)).find(|p| p.is_file()) {
        return Some(found);
    }
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(cc)
        .arg(format!("-print-file-name={FILE}"))
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    // gcc echoes the bare name when it finds nothing.
    (path.is_absolute() && path.is_file()).then_some(path)
}
