//! The colormaps a quicklook can use: d3's viridis and Tableau 10 (through `colorous`), a linear
//! gray, and matplotlib's terrain.

use std::fmt;
use std::str::FromStr;

/// How values become colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colormap {
    /// Perceptually uniform dark blue → green → yellow (d3/matplotlib viridis).
    #[default]
    Viridis,
    /// Matplotlib's `terrain`: blue (low) → green → sand → brown → white (high), for DEMs.
    Terrain,
    /// Linear black (low) → white (high).
    Gray,
    /// One colour per integer class (Tableau 10, repeating every ten classes), for land cover.
    Categorical,
}

/// Matplotlib's `terrain` control points: position and RGB in `[0, 1]` (`_terrain_data`).
/// Neither `colorous` nor d3 ship this map; it is six linear segments.
const TERRAIN: [(f64, [f64; 3]); 6] = [
    (0.00, [0.2, 0.2, 0.6]),
    (0.15, [0.0, 0.6, 1.0]),
    (0.25, [0.0, 0.8, 0.4]),
    (0.50, [1.0, 1.0, 0.6]),
    (0.75, [0.5, 0.36, 0.33]),
    (1.00, [1.0, 1.0, 1.0]),
];

fn to_byte(x: f64) -> u8 {
    (x.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn terrain(t: f64) -> [u8; 3] {
    let mut lo = TERRAIN[0];
    for &hi in &TERRAIN[1..] {
        if t <= hi.0 {
            let f = (t - lo.0) / (hi.0 - lo.0);
            return [0, 1, 2].map(|i| to_byte(lo.1[i] + f * (hi.1[i] - lo.1[i])));
        }
        lo = hi;
    }
    lo.1.map(to_byte)
}

impl Colormap {
    /// Every colormap, in the order `--help` lists them.
    pub const ALL: [Colormap; 4] = [
        Colormap::Viridis,
        Colormap::Terrain,
        Colormap::Gray,
        Colormap::Categorical,
    ];

    /// The name a user types.
    pub fn name(self) -> &'static str {
        match self {
            Colormap::Viridis => "viridis",
            Colormap::Terrain => "terrain",
            Colormap::Gray => "gray",
            Colormap::Categorical => "categorical",
        }
    }

    /// Whether values are classes (one colour each) rather than a continuous range.
    pub fn is_categorical(self) -> bool {
        self == Colormap::Categorical
    }

    /// The colour at `t` in `[0, 1]` along the map (clamped). For the categorical map, `t`
    /// picks one of its ten colours.
    pub fn at(self, t: f64) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        match self {
            Colormap::Viridis => colorous::VIRIDIS.eval_continuous(t).as_array(),
            Colormap::Terrain => terrain(t),
            Colormap::Gray => {
                let v = to_byte(t);
                [v, v, v]
            }
            Colormap::Categorical => {
                let n = colorous::TABLEAU10.len();
                let i = ((t * n as f64) as usize).min(n - 1);
                colorous::TABLEAU10[i].as_array()
            }
        }
    }

    /// The colour of integer class `class` on the categorical map (Tableau 10, class `k` gets
    /// colour `k mod 10`).
    pub fn class(class: i64) -> [u8; 3] {
        let n = colorous::TABLEAU10.len() as i64;
        colorous::TABLEAU10[class.rem_euclid(n) as usize].as_array()
    }
}

impl fmt::Display for Colormap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Colormap {
    type Err = String;

    fn from_str(s: &str) -> Result<Colormap, String> {
        let wanted = s.trim().to_ascii_lowercase();
        let wanted = if wanted == "grey" {
            "gray".into()
        } else {
            wanted
        };
        Colormap::ALL
            .into_iter()
            .find(|c| c.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Colormap::ALL.iter().map(|c| c.name()).collect();
                format!("unknown colormap `{s}` (known: {})", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terrain_hits_its_control_points() {
        assert_eq!(terrain(0.0), [51, 51, 153]);
        assert_eq!(terrain(0.25), [0, 204, 102]);
        assert_eq!(terrain(0.5), [255, 255, 153]);
        assert_eq!(terrain(1.0), [255, 255, 255]);
        // Halfway along the first segment.
        assert_eq!(terrain(0.075), [26, 102, 204]);
    }

    #[test]
    fn names_parse_back() {
        for c in Colormap::ALL {
            assert_eq!(c.name().parse::<Colormap>(), Ok(c));
        }
        assert_eq!("Grey".parse::<Colormap>(), Ok(Colormap::Gray));
        let err = "jet".parse::<Colormap>().unwrap_err();
        assert!(err.contains("jet") && err.contains("viridis"), "{err}");
    }
}
