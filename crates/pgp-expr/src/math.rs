//! pgp's own `sin`, `cos` and `exp`: branch-free, so that a loop over a block compiles to
//! AVX-512 or AVX2 vector code (picked at run time), within one ulp of the correctly rounded
//! result.
//!
//! ```
//! use pgp_expr::math;
//!
//! let x = [0.5, 1.0, 100.0];
//! let mut out = [0.0; 3];
//! math::sin_slice(&x, &mut out);
//! assert_eq!(out[1], math::sin(1.0)); // the scalar and the block versions agree bit for bit
//! assert!((math::sin(1.0) - 1f64.sin()).abs() <= f64::EPSILON);
//! ```
//!
//! Each function reduces its argument with a Cody-Waite scheme (exact with fused multiply-add,
//! the remainder carried as two doubles) and evaluates a polynomial on the reduced range (Taylor
//! coefficients, truncated well below the rounding error). Arguments outside the range where the
//! reduction is exact (`|x| > 2^30` for `sin`/`cos`, `|x| > 708` for `exp`, and NaN or
//! infinities) are handed to the platform's libm, lane by lane, so overflow, underflow,
//! subnormal results and special values are libm's.
//!
//! The kernels need fused multiply-add in hardware to be fast. Where the CPU has none (x86-64
//! without AVX2 and FMA), every function here is the platform's libm, so old CPUs keep libm's
//! speed; [`kernels_active`] says which. Within one machine the scalar functions and the block
//! functions always compute the same bits, whatever vector width runs.

use multiversion::multiversion;

/// `sin`/`cos` arguments up to this magnitude are reduced here; three 53-bit parts of pi/2
/// keep the remainder accurate far beyond it, and the quadrant fits in the rounding trick.
const TRIG_LIMIT: f64 = 1_073_741_824.0;
/// `exp` arguments up to this magnitude have a normal result and a normal scale factor.
const EXP_LIMIT: f64 = 708.0;
/// Below this magnitude `sin(x)` rounds to `x` (and keeps the sign of zero).
const SIN_TINY: f64 = 7.450_580_596_923_828e-9; // 2^-27

/// Adding 1.5 * 2^52 rounds a double below 2^51 to an integer held in the low mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

const TWO_OVER_PI: f64 = 0.636_619_772_367_581_4;
/// pi/2 as three doubles whose sum is pi/2 to 159 bits.
const PIO2_1: f64 = 1.570_796_326_794_896_6;
const PIO2_2: f64 = 6.123_233_995_736_766e-17;
const PIO2_3: f64 = -1.497_384_904_859_169_8e-33;

const LOG2_E: f64 = 1.442_695_040_888_963_4;
/// ln 2 as two doubles.
const LN2_1: f64 = 0.693_147_180_559_945_3;
const LN2_2: f64 = 2.319_046_813_846_299_6e-17;

/// 1/n! for n = 0..=17, rounded to double.
const INV_FACT: [f64; 18] = inverse_factorials();

const fn inverse_factorials() -> [f64; 18] {
    // Exact: every n! up to 17! is an integer below 2^53, so each 1/n! rounds once.
    let mut out = [0.0; 18];
    let mut fact = 1.0;
    let mut n = 0;
    while n < 18 {
        if n > 0 {
            fact *= n as f64;
        }
        out[n] = 1.0 / fact;
        n += 1;
    }
    out
}

/// True where this machine runs pgp's kernels, false where every function here is libm's.
pub fn kernels_active() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(target_arch = "aarch64")]
    {
        true // fused multiply-add is part of the base architecture
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

#[inline(always)]
fn trig_in_range(x: f64) -> bool {
    x.abs() <= TRIG_LIMIT // false for NaN
}

#[inline(always)]
fn exp_in_range(x: f64) -> bool {
    x.abs() <= EXP_LIMIT
}

#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// `x - n * pi/2` as `(hi, lo)`, and `n` in the low bits of an integer (`n mod 4` is exact).
#[inline(always)]
fn reduce_pio2(x: f64) -> (f64, f64, u64) {
    let n_big = x.mul_add(TWO_OVER_PI, ROUND_MAGIC);
    let n = n_big - ROUND_MAGIC;
    // x and n * PIO2_1 are multiples of 2^-52 (or x is finer and n is 0 or 1), and they nearly
    // cancel: the difference is exact.
    let t = (-n).mul_add(PIO2_1, x);
    let w_hi = n * PIO2_2;
    let w_lo = n.mul_add(PIO2_2, -w_hi);
    let (r_hi, e) = two_sum(t, -w_hi);
    let r_lo = (-n).mul_add(PIO2_3, e - w_lo);
    let (hi, lo) = two_sum(r_hi, r_lo);
    (hi, lo, n_big.to_bits())
}

/// sin(hi + lo) for |hi| <= pi/4 (a little beyond is fine).
#[inline(always)]
fn sin_poly(hi: f64, lo: f64) -> f64 {
    let z = hi * hi;
    // sin(r) = r + r^3 * S(r^2), S(z) = sum_k (-1)^k z^(k-1) / (2k+1)!, k = 1..=8.
    let mut s = INV_FACT[17];
    s = s.mul_add(z, -INV_FACT[15]);
    s = s.mul_add(z, INV_FACT[13]);
    s = s.mul_add(z, -INV_FACT[11]);
    s = s.mul_add(z, INV_FACT[9]);
    s = s.mul_add(z, -INV_FACT[7]);
    s = s.mul_add(z, INV_FACT[5]);
    s = s.mul_add(z, -INV_FACT[3]);
    // lo enters through the derivative, cos(r) ~ 1 - z/2.
    let tail = (hi * z).mul_add(s, lo * (0.5f64).mul_add(-z, 1.0));
    hi + tail
}

/// cos(hi + lo) for |hi| <= pi/4.
#[inline(always)]
fn cos_poly(hi: f64, lo: f64) -> f64 {
    let z = hi * hi;
    let z_err = hi.mul_add(hi, -z);
    // cos(r) = 1 - r^2/2 + r^4 * C(r^2), C(z) = sum_k (-1)^k z^(k-2) / (2k)!, k = 2..=8.
    let mut c = INV_FACT[16];
    c = c.mul_add(z, -INV_FACT[14]);
    c = c.mul_add(z, INV_FACT[12]);
    c = c.mul_add(z, -INV_FACT[10]);
    c = c.mul_add(z, INV_FACT[8]);
    c = c.mul_add(z, -INV_FACT[6]);
    c = c.mul_add(z, INV_FACT[4]);
    let half_z = 0.5 * z;
    let w = 1.0 - half_z;
    // 1 - w is exact (w is within [1/2, 1]), so this is the rounding error of w.
    let w_err = (1.0 - w) - half_z;
    // The rest of r^2 / 2: the error of z, and the cross term of (hi + lo)^2.
    let rest = 0.5f64.mul_add(z_err, hi * lo);
    let tail = (z * z).mul_add(c, w_err - rest);
    w + tail
}

/// sin (`quadrant_shift` 0) or cos (1) of x, for x within [`TRIG_LIMIT`].
#[inline(always)]
fn sin_cos_core(x: f64, quadrant_shift: u64) -> f64 {
    let (hi, lo, n_bits) = reduce_pio2(x);
    let s = sin_poly(hi, lo);
    let c = cos_poly(hi, lo);
    // cos(x) = sin(x + pi/2): the same table of quadrants, one step on.
    let q = n_bits.wrapping_add(quadrant_shift);
    let take_cos = 0u64.wrapping_sub(q & 1);
    let bits = (c.to_bits() & take_cos) | (s.to_bits() & !take_cos);
    f64::from_bits(bits ^ ((q & 2) << 62))
}

#[inline(always)]
fn sin_core(x: f64) -> f64 {
    let v = sin_cos_core(x, 0);
    if x.abs() < SIN_TINY {
        x
    } else {
        v
    }
}

#[inline(always)]
fn cos_core(x: f64) -> f64 {
    sin_cos_core(x, 1)
}

/// exp(x) for |x| <= [`EXP_LIMIT`].
#[inline(always)]
fn exp_core(x: f64) -> f64 {
    let k_big = x.mul_add(LOG2_E, ROUND_MAGIC);
    let k = k_big - ROUND_MAGIC;
    // Exact, for the same reason as in `reduce_pio2`.
    let t = (-k).mul_add(LN2_1, x);
    let p_hi = k * LN2_2;
    let p_lo = k.mul_add(LN2_2, -p_hi);
    let (r, e) = two_sum(t, -p_hi);
    let r_lo = e - p_lo;
    // exp(r) = 1 + r + r^2 * E(r), E(r) = sum_k r^(k-2) / k!, k = 2..=13.
    let mut p = INV_FACT[13];
    for &c in INV_FACT[2..13].iter().rev() {
        p = p.mul_add(r, c);
    }
    let q = (r * r) * p;
    let hi = 1.0 + r;
    let hi_err = (1.0 - hi) + r; // exact: |r| < 1
    let lo = hi_err + r_lo.mul_add(hi, q);
    let m = hi + lo;
    // 2^k: k is within [-1022, 1022] here, so the exponent field is k + 1023.
    let k_int = k_big.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    let scale = f64::from_bits(k_int.wrapping_add(1023) << 52);
    m * scale
}

/// sin(x): pgp's kernel where [`kernels_active`], else libm's.
pub fn sin(x: f64) -> f64 {
    if kernels_active() && trig_in_range(x) {
        sin_core(x)
    } else {
        x.sin()
    }
}

/// cos(x): pgp's kernel where [`kernels_active`], else libm's.
pub fn cos(x: f64) -> f64 {
    if kernels_active() && trig_in_range(x) {
        cos_core(x)
    } else {
        x.cos()
    }
}

/// exp(x): pgp's kernel where [`kernels_active`], else libm's.
pub fn exp(x: f64) -> f64 {
    if kernels_active() && exp_in_range(x) {
        exp_core(x)
    } else {
        x.exp()
    }
}

/// One kernel over a block; lanes the kernel does not cover are redone with libm afterwards
/// (rare, so the main loop stays branch-free).
#[inline(always)]
fn map_block(
    x: &[f64],
    out: &mut [f64],
    core: impl Fn(f64) -> f64,
    in_range: impl Fn(f64) -> bool,
    libm: impl Fn(f64) -> f64,
) {
    let mut all_in_range = true;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = core(v);
        all_in_range &= in_range(v);
    }
    if !all_in_range {
        for (o, &v) in out.iter_mut().zip(x) {
            if !in_range(v) {
                *o = libm(v);
            }
        }
    }
}

macro_rules! block_fn {
    ($(#[$doc:meta])* $name:ident, $kernel:ident, $core:ident, $in_range:ident, $libm:expr) => {
        $(#[$doc])*
        ///
        /// Writes `min(x.len(), out.len())` values; each equals the scalar function's.
        pub fn $name(x: &[f64], out: &mut [f64]) {
            if kernels_active() {
                $kernel(x, out);
            } else {
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = $libm(v);
                }
            }
        }

        #[multiversion(targets(
            "x86_64+avx512f+avx512dq+avx512vl+avx2+fma",
            "x86_64+avx2+fma",
        ))]
        fn $kernel(x: &[f64], out: &mut [f64]) {
            map_block(x, out, $core, $in_range, $libm);
        }
    };
}

block_fn!(
    /// [`sin`] of every value of `x`, into `out`.
    sin_slice,
    sin_block,
    sin_core,
    trig_in_range,
    f64::sin
);
block_fn!(
    /// [`cos`] of every value of `x`, into `out`.
    cos_slice,
    cos_block,
    cos_core,
    trig_in_range,
    f64::cos
);
block_fn!(
    /// [`exp`] of every value of `x`, into `out`.
    exp_slice,
    exp_block,
    exp_core,
    exp_in_range,
    f64::exp
);

#[cfg(test)]
#[path = "math_tests.rs"]
mod tests;
