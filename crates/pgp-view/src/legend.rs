//! The legend strip under a quicklook: a colour bar (or class swatches) and the value range and
//! units in an 8 x 8 bitmap font (`font8x8`).

use font8x8::UnicodeFonts;

/// Height of the legend strip in pixels.
pub const LEGEND_HEIGHT: usize = 28;
/// The narrowest picture that still fits a legend; narrower rasters get a wider canvas.
pub const LEGEND_MIN_WIDTH: usize = 200;

const MARGIN: usize = 4;
const BAR_HEIGHT: usize = 8;
const GLYPH: usize = 8;
const BACKGROUND: [u8; 4] = [255, 255, 255, 255];
const INK: [u8; 4] = [0, 0, 0, 255];

/// RGBA pixels, row-major, 4 bytes per pixel.
#[derive(Debug, Clone)]
pub(crate) struct Canvas {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

impl Canvas {
    /// A transparent canvas.
    pub fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            rgba: vec![0; width * height * 4],
        }
    }

    pub fn put(&mut self, x: usize, y: usize, px: [u8; 4]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 4;
            self.rgba[i..i + 4].copy_from_slice(&px);
        }
    }

    fn fill(&mut self, x0: usize, y0: usize, w: usize, h: usize, px: [u8; 4]) {
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                self.put(x, y, px);
            }
        }
    }

    /// Draw `text` with its top-left corner at `(x, y)`; characters outside ASCII print as `?`.
    fn text(&mut self, x: usize, y: usize, text: &str) {
        for (k, ch) in text.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS
                .get(ch)
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..GLYPH {
                    if bits & (1 << col) != 0 {
                        self.put(x + k * GLYPH + col, y + row, INK);
                    }
                }
            }
        }
    }
}

/// What the strip shows.
pub(crate) enum Key {
    /// A continuous map: colour at `t` in `[0, 1]`, and labels for both ends.
    Bar {
        colour: Box<dyn Fn(f64) -> [u8; 3]>,
        low: String,
        high: String,
    },
    /// Classes: one swatch per class present, and a label.
    Classes {
        colours: Vec<[u8; 3]>,
        label: String,
    },
    /// Nothing valid to show.
    Empty,
}

fn text_width(s: &str) -> usize {
    s.chars().count() * GLYPH
}

/// Draw the legend in the bottom [`LEGEND_HEIGHT`] rows of `canvas`; `note` (units, "log10")
/// is centred between the end labels when it fits.
pub(crate) fn draw(canvas: &mut Canvas, key: &Key, note: &str) {
    let top = canvas.height.saturating_sub(LEGEND_HEIGHT);
    let width = canvas.width;
    canvas.fill(0, top, width, LEGEND_HEIGHT, BACKGROUND);
    let bar_w = width.saturating_sub(2 * MARGIN).max(1);
    let text_y = top + MARGIN + BAR_HEIGHT + 4;
    let (left, right) = match key {
        Key::Bar { colour, low, high } => {
            for dx in 0..bar_w {
                let t = if bar_w > 1 {
                    dx as f64 / (bar_w - 1) as f64
                } else {
                    0.5
                };
                let [r, g, b] = colour(t);
                canvas.fill(MARGIN + dx, top + MARGIN, 1, BAR_HEIGHT, [r, g, b, 255]);
            }
            (low.clone(), high.clone())
        }
        Key::Classes { colours, label } => {
            let n = colours.len().max(1);
            for (k, [r, g, b]) in colours.iter().enumerate() {
                let x0 = MARGIN + k * bar_w / n;
                let x1 = MARGIN + (k + 1) * bar_w / n;
                canvas.fill(x0, top + MARGIN, x1 - x0, BAR_HEIGHT, [*r, *g, *b, 255]);
            }
            (label.clone(), String::new())
        }
        Key::Empty => ("no valid pixels".to_string(), String::new()),
    };
    canvas.text(MARGIN, text_y, &left);
    let right_x = width.saturating_sub(MARGIN + text_width(&right));
    canvas.text(right_x, text_y, &right);
    let free_from = MARGIN + text_width(&left) + GLYPH;
    let free_to = right_x.saturating_sub(GLYPH);
    let note_w = text_width(note);
    if !note.is_empty() && free_to > free_from && free_to - free_from >= note_w {
        let x = free_from + (free_to - free_from - note_w) / 2;
        canvas.text(x, text_y, note);
    }
}

/// A value as a legend label: about four significant digits, no trailing zeros.
pub fn format_value(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_four_significant_digits() {
        assert_eq!(format_value(1234.5678), "1235");
        assert_eq!(format_value(12.5), "12.5");
        assert_eq!(format_value(-0.25), "-0.25");
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(3.0e7), "3.000e7");
        assert_eq!(format_value(0.123456), "0.1235");
    }

    #[test]
    fn text_is_drawn_in_ink_on_the_strip() {
        let mut c = Canvas::new(LEGEND_MIN_WIDTH, LEGEND_HEIGHT);
        draw(&mut c, &Key::Empty, "");
        let ink = c.rgba.chunks(4).filter(|p| *p == INK).count();
        // "no valid pixels": 13 letters with a few dozen lit pixels each.
        assert!(ink > 13 * 10, "{ink}");
        assert!(c.rgba.chunks(4).all(|p| p == INK || p == BACKGROUND));
    }
}
