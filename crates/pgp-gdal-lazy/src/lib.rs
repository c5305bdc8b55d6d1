//! Load GDAL's shared library on the first call of a GDAL function, not at program start.
//!
//! ```
//! // pgp-core calls this once; any binary that uses GDAL then loads it lazily.
//! pgp_gdal_lazy::link_trampolines();
//! if let Some(soname) = pgp_gdal_lazy::GDAL_SONAME {
//!     assert!(soname.starts_with("libgdal"));
//! }
//! ```
//!
//! # Why
//! libgdal.so.32 (GDAL 3.6 as Debian ships it) pulls in 114 shared libraries. Linked as usual,
//! the dynamic loader maps all of them and performs ~58,000 symbol relocations before `main`:
//! `pgp --version` took 30-40 ms, about half in ld.so's symbol lookups and half in the kernel
//! mapping and faulting in those libraries. A rerun of a pipeline that is up to date (every
//! task skipped after hashing its inputs and outputs) runs no GDAL function at all, yet paid
//! that cost, which was most of the rerun's time beyond the hashing.
//!
//! # How
//! For every C function libgdal exports under the prefixes gdal-sys binds, the build script
//! emits a global, hidden x86_64 trampoline of the same name: `jmp *slot(%rip)`. The slot
//! first points at a stub that hands the slot and the function's name to
//! `pgp_gdal_lazy_resolve_and_jump`: it saves every argument register (rdi, rsi, rdx, rcx, r8,
//! r9, rax for variadic calls, xmm0-7), calls `resolve`, which `dlopen`s libgdal
//! once (thread-safe, `RTLD_NOW | RTLD_GLOBAL`) and `dlsym`s the name, stores the address in the
//! slot, restores the registers and jumps there; later calls cost one indirect jump. The stack
//! arguments are untouched, since the stub returns the stack pointer to where it was before it
//! jumps.
//!
//! Because the binary itself now defines every function it used to import from libgdal, the
//! linker's `--as-needed` (rustc passes it) drops libgdal's `DT_NEEDED` entry. The trampolines
//! are hidden, so they are not exported: libgdal's own calls to its functions still go straight
//! to its own code. Each trampoline has sections of its own and `--gc-sections` drops the ones
//! nothing calls. The SONAME comes from the libgdal the build links (see `build.rs`), never a
//! hard-coded name. If libgdal cannot be loaded at run time, the program prints the library's
//! name and `dlerror`'s message and exits with [`LOAD_FAILURE_EXIT_CODE`] (a C caller cannot be
//! handed a Rust error).
//!
//! Elsewhere than x86_64 Linux, with a static GDAL, or when the build sets `PGP_GDAL_EAGER`
//! (for comparisons), this crate is empty and GDAL links as before.

pub mod elf;

/// The exit code of a process that called a GDAL function when libgdal could not be loaded:
/// the dynamic loader's own code for a missing shared library, which an eagerly linked pgp
/// exited with before `main`.
pub const LOAD_FAILURE_EXIT_CODE: i32 = 127;

/// The SONAME of the libgdal this build loads on first use, or `None` when GDAL is linked as
/// usual (loaded at program start).
#[cfg(pgp_gdal_lazy)]
pub const GDAL_SONAME: Option<&str> = Some(env!("PGP_GDAL_SONAME"));
/// The SONAME of the libgdal this build loads on first use, or `None` when GDAL is linked as
/// usual (loaded at program start).
#[cfg(not(pgp_gdal_lazy))]
pub const GDAL_SONAME: Option<&str> = None;

/// The file of the libgdal the build linked (symbolic links resolved), where it was at build
/// time; `None` when GDAL is linked as usual.
#[cfg(pgp_gdal_lazy)]
pub const GDAL_LINKED_FILE: Option<&str> = Some(env!("PGP_GDAL_LINKED_FILE"));
/// The file of the libgdal the build linked (symbolic links resolved), where it was at build
/// time; `None` when GDAL is linked as usual.
#[cfg(not(pgp_gdal_lazy))]
pub const GDAL_LINKED_FILE: Option<&str> = None;

/// Makes sure the trampolines are linked into the calling binary: the linker takes an object
/// out of a Rust library only for a symbol it is asked for, and this function lives in the
/// trampolines' object. pgp-core calls it when it sets GDAL up.
#[inline(never)]
pub fn link_trampolines() {
    #[cfg(pgp_gdal_lazy)]
    std::hint::black_box(&lazy::LIBRARY);
}

/// Whether libgdal is loaded in this process by a call through the trampolines. Always `false`
/// when GDAL is linked as usual (it is then loaded from the start).
pub fn is_loaded() -> bool {
    #[cfg(pgp_gdal_lazy)]
    {
        lazy::LIBRARY.get().is_some()
    }
    #[cfg(not(pgp_gdal_lazy))]
    {
        false
    }
}

#[cfg(pgp_gdal_lazy)]
mod lazy {
    use std::ffi::{c_char, c_void, CStr};
    use std::io::Write;
    use std::sync::atomic::{AtomicPtr, Ordering};
    use std::sync::OnceLock;

    use super::LOAD_FAILURE_EXIT_CODE;

    // The generated trampolines (one per libgdal function).
    std::arch::global_asm!(
        include_str!(concat!(env!("OUT_DIR"), "/trampolines.s")),
        options(att_syntax)
    );

    // On entry the stack pointer is 8 below a multiple of 16 (the caller's return address);
    // 184 bytes for eight xmm and seven general registers make it a multiple of 16 for the call.
    std::arch::global_asm!(
        r#"
.section .text.pgp_gdal_lazy_resolve_and_jump,"ax",@progbits
.globl pgp_gdal_lazy_resolve_and_jump
.hidden pgp_gdal_lazy_resolve_and_jump
.type pgp_gdal_lazy_resolve_and_jump,@function
.p2align 4
pgp_gdal_lazy_resolve_and_jump:
    subq $184, %rsp
    movaps %xmm0, 0(%rsp)
    movaps %xmm1, 16(%rsp)
    movaps %xmm2, 32(%rsp)
    movaps %xmm3, 48(%rsp)
    movaps %xmm4, 64(%rsp)
    movaps %xmm5, 80(%rsp)
    movaps %xmm6, 96(%rsp)
    movaps %xmm7, 112(%rsp)
    movq %rdi, 128(%rsp)
    movq %rsi, 136(%rsp)
    movq %rdx, 144(%rsp)
    movq %rcx, 152(%rsp)
    movq %r8, 160(%rsp)
    movq %r9, 168(%rsp)
    movq %rax, 176(%rsp)
    movq %r11, %rdi
    movq %r10, %rsi
    call {resolve}@PLT
    movq %rax, %r11
    movaps 0(%rsp), %xmm0
    movaps 16(%rsp), %xmm1
    movaps 32(%rsp), %xmm2
    movaps 48(%rsp), %xmm3
    movaps 64(%rsp), %xmm4
    movaps 80(%rsp), %xmm5
    movaps 96(%rsp), %xmm6
    movaps 112(%rsp), %xmm7
    movq 128(%rsp), %rdi
    movq 136(%rsp), %rsi
    movq 144(%rsp), %rdx
    movq 152(%rsp), %rcx
    movq 160(%rsp), %r8
    movq 168(%rsp), %r9
    movq 176(%rsp), %rax
    addq $184, %rsp
    jmp *%r11
.size pgp_gdal_lazy_resolve_and_jump, .-pgp_gdal_lazy_resolve_and_jump
.text
"#,
        resolve = sym resolve,
        options(att_syntax)
    );

    /// The `dlopen` handle of libgdal (a pointer kept as an address so the cell is `Sync`).
    pub(super) static LIBRARY: OnceLock<usize> = OnceLock::new();

    const SONAME: &str = env!("PGP_GDAL_SONAME");

    fn last_dl_error() -> String {
        // SAFETY: dlerror returns null or a NUL-terminated string valid until the next dl call
        // on this thread, and it is copied at once.
        let message = unsafe { libc::dlerror() };
        if message.is_null() {
            "no message from the dynamic loader".to_string()
        } else {
            // SAFETY: as above.
            unsafe { CStr::from_ptr(message) }
                .to_string_lossy()
                .into_owned()
        }
    }

    /// Called from a trampoline, so it can return nothing but an address: on failure it tells
    /// the user why and ends the process.
    fn give_up(message: &str) -> ! {
        let _ = writeln!(std::io::stderr(), "error: {message}");
        std::process::exit(LOAD_FAILURE_EXIT_CODE)
    }

    fn library() -> *mut c_void {
        let handle = *LIBRARY.get_or_init(|| {
            let Ok(name) = std::ffi::CString::new(SONAME) else {
                give_up(&format!("GDAL's library name {SONAME:?} holds a NUL byte"));
            };
            // SAFETY: name is NUL-terminated; dlopen is thread-safe and OnceLock runs this once.
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
            if handle.is_null() {
                give_up(&format!(
                    "cannot load GDAL's library {SONAME}: {}",
                    last_dl_error()
                ));
            }
            handle as usize
        });
        handle as *mut c_void
    }

    /// Resolve the function named `name` in libgdal and store its address in `slot`, for
    /// `pgp_gdal_lazy_resolve_and_jump`. Never unwinds (it would unwind through assembly).
    ///
    /// # Safety
    /// `slot` is a trampoline's slot (an aligned, writable pointer) and `name` a NUL-terminated
    /// string, both static, as the trampolines pass them.
    unsafe extern "C" fn resolve(
        slot: *const AtomicPtr<c_void>,
        name: *const c_char,
    ) -> *mut c_void {
        let handle = library();
        // SAFETY: handle is a live dlopen handle (never closed); name is NUL-terminated.
        let address = unsafe { libc::dlsym(handle, name) };
        if address.is_null() {
            // SAFETY: the trampolines pass their names NUL-terminated.
            let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
            give_up(&format!(
                "GDAL's library {SONAME} has no function {name}: {}",
                last_dl_error()
            ));
        }
        // SAFETY: the slot is a static 8-byte-aligned pointer the trampoline jumps through;
        // another thread reading the old value meanwhile only resolves again, to the same
        // address.
        unsafe { &*slot }.store(address, Ordering::Release);
        address
    }
}
