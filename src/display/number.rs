//! Numbers as the outputs show them. Free of the rest of the crate, so `fuzz/` can include it.

/// Up to three decimals, trailing zeros dropped: 0.5, 0.333, 12.
pub fn format_float(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    let s = format!("{f:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}
