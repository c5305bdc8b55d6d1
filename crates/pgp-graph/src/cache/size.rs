//! Sizes as people type them: `50G`, `1.5T`, `512M`, `4096`.

/// Parses a size: a number (decimal point allowed) and an optional unit `K`, `M`, `G` or `T`
/// (powers of 1024; case-insensitive; an optional `B` or `iB` after it, and `B` alone for bytes).
/// The error says what was wrong with the text given.
///
/// ```
/// use pgp_graph::cache::parse_size;
/// assert_eq!(parse_size("50G"), Ok(50 << 30));
/// assert_eq!(parse_size("1.5k"), Ok(1536));
/// assert!(parse_size("12 parsecs").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let bad = |why: &str| format!("invalid size '{text}': {why} (e.g. 50G, 512M, 1.5T, 4096)");
    if number.is_empty() || number.matches('.').count() > 1 || number == "." {
        return Err(bad("expected a number"));
    }
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad("unknown unit; use K, M, G or T")),
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad("number too large"))?
    };
    let scale = 1u64 << shift;
    let mut bytes = whole.checked_mul(scale).ok_or_else(|| bad("too large"))?;
    // The fraction, exactly: digits d1 d2 ... mean sum(d_i * scale / 10^i), rounded down.
    if !frac.is_empty() {
        let digits = &frac[..frac.len().min(18)];
        let numerator: u128 = digits.parse().map_err(|_| bad("expected a number"))?;
        let denominator = 10u128.pow(digits.len() as u32);
        let part = numerator * u128::from(scale) / denominator;
        bytes = bytes
            .checked_add(u64::try_from(part).map_err(|_| bad("too large"))?)
            .ok_or_else(|| bad("too large"))?;
    }
    Ok(bytes)
}

/// A size for people: `1.5 GiB`, `312 B`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn units_are_powers_of_1024() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("2m"), Ok(2 << 20));
        assert_eq!(parse_size("50G"), Ok(50 << 30));
        assert_eq!(parse_size("50GiB"), Ok(50 << 30));
        assert_eq!(parse_size("3 TB"), Ok(3 << 40));
        assert_eq!(parse_size("0.5K"), Ok(512));
        assert_eq!(parse_size(".25M"), Ok(1 << 18));
        assert_eq!(parse_size("7B"), Ok(7));
    }

    #[test]
    fn bad_sizes_say_what_is_wrong() {
        for (text, why) in [
            ("", "expected a number"),
            ("G", "expected a number"),
            ("1.2.3G", "expected a number"),
            ("5X", "unknown unit"),
            ("-5G", "expected a number"),
            ("99999999999T", "too large"),
            ("18446744073709551616", "too large"),
        ] {
            let err = parse_size(text).unwrap_err();
            assert!(err.contains(why) && err.contains(text), "{text}: {err}");
        }
    }

    proptest! {
        #[test]
        fn whole_numbers_with_units_scale_exactly(n in 0u64..1_000_000, unit in 0usize..5) {
            let suffix = ["", "K", "M", "G", "T"][unit];
            prop_assert_eq!(parse_size(&format!("{n}{suffix}")), Ok(n << (10 * unit)));
        }

        #[test]
        fn fractions_are_exact_and_monotone(whole in 0u64..1000, frac in 0u32..1000, unit in 1usize..5) {
            let suffix = ["", "K", "M", "G", "T"][unit];
            let scale = 1u64 << (10 * unit);
            let got = parse_size(&format!("{whole}.{frac:03}{suffix}")).unwrap();
            prop_assert_eq!(got, whole * scale + u64::from(frac) * scale / 1000);
            prop_assert!(got >= whole * scale && got < (whole + 1) * scale);
        }

        #[test]
        fn any_text_parses_or_errs_without_panicking(text in "\\PC{0,24}") {
            let _ = parse_size(&text);
        }

        #[test]
        fn formatted_sizes_parse_back_close(bytes in 0u64..(1u64 << 50)) {
            let shown = format_size(bytes).replace(' ', "");
            let back = parse_size(&shown).unwrap();
            // One decimal place: within 5% (plus rounding of small values).
            prop_assert!(back.abs_diff(bytes) <= bytes / 20 + 1, "{} -> {} -> {}", bytes, shown, back);
        }
    }
}
