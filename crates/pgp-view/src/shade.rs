//! Hillshade: how lit each cell of a surface is by a sun in the north-west, 45° up (the usual
//! cartographic light, as `gdaldem hillshade` and ESRI draw it), from Horn's 3 x 3 gradient.

use ndarray::Array2;

/// Sun azimuth, degrees clockwise from north.
pub const AZIMUTH: f64 = 315.0;
/// Sun altitude above the horizon, degrees.
pub const ALTITUDE: f64 = 45.0;

/// Illumination in `[0, 1]` of each cell of `z` (cells where `valid` is false get 0 and count as
/// the centre cell's height for their neighbours, as do cells beyond the edge). `cell` is the
/// cell size `(x, y)` in the units of `z`.
pub fn hillshade(z: &Array2<f64>, valid: &Array2<bool>, cell: (f64, f64)) -> Array2<f64> {
    let (rows, cols) = z.dim();
    let zenith = (90.0 - ALTITUDE).to_radians();
    // The sun's direction as a math angle (counter-clockwise from east).
    let sun = (360.0 - AZIMUTH + 90.0).rem_euclid(360.0).to_radians();
    let (xres, yres) = (
        cell.0.abs().max(f64::MIN_POSITIVE),
        cell.1.abs().max(f64::MIN_POSITIVE),
    );
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        if !valid[[r, c]] {
            return 0.0;
        }
        let centre = z[[r, c]];
        let at = |dr: isize, dc: isize| -> f64 {
            let (rr, cc) = (r as isize + dr, c as isize + dc);
            if rr < 0 || cc < 0 || rr >= rows as isize || cc >= cols as isize {
                return centre;
            }
            let (rr, cc) = (rr as usize, cc as usize);
            if valid[[rr, cc]] {
                z[[rr, cc]]
            } else {
                centre
            }
        };
        let (a, b, cc, d, f, g, h, i) = (
            at(-1, -1),
            at(-1, 0),
            at(-1, 1),
            at(0, -1),
            at(0, 1),
            at(1, -1),
            at(1, 0),
            at(1, 1),
        );
        // Rows grow southwards, so dz/dy here is the slope towards the south.
        let dzdx = ((cc + 2.0 * f + i) - (a + 2.0 * d + g)) / (8.0 * xres);
        let dzdy = ((g + 2.0 * h + i) - (a + 2.0 * b + cc)) / (8.0 * yres);
        let slope = (dzdx * dzdx + dzdy * dzdy).sqrt().atan();
        let aspect = if dzdx != 0.0 {
            let a = dzdy.atan2(-dzdx);
            if a < 0.0 {
                a + 2.0 * std::f64::consts::PI
            } else {
                a
            }
        } else if dzdy > 0.0 {
            std::f64::consts::FRAC_PI_2
        } else if dzdy < 0.0 {
            1.5 * std::f64::consts::PI
        } else {
            0.0
        };
        let lit = zenith.cos() * slope.cos() + zenith.sin() * slope.sin() * (sun - aspect).cos();
        lit.clamp(0.0, 1.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(dx: f64, dy: f64) -> Array2<f64> {
        Array2::from_shape_fn((5, 5), |(r, c)| dx * c as f64 + dy * r as f64)
    }

    #[test]
    fn flat_ground_is_lit_by_the_sines_of_the_sun() {
        let z = Array2::from_elem((3, 3), 100.0);
        let s = hillshade(&z, &Array2::from_elem((3, 3), true), (30.0, 30.0));
        let expect = ALTITUDE.to_radians().sin();
        assert!(s.iter().all(|v| (v - expect).abs() < 1e-12), "{s:?}");
    }

    #[test]
    fn slopes_facing_the_north_west_sun_are_brighter_than_those_facing_away() {
        let valid = Array2::from_elem((5, 5), true);
        // Height falling to the west and north (rising towards the south-east): faces north-west.
        let facing = hillshade(&plane(10.0, 10.0), &valid, (30.0, 30.0))[[2, 2]];
        let away = hillshade(&plane(-10.0, -10.0), &valid, (30.0, 30.0))[[2, 2]];
        let flat = ALTITUDE.to_radians().sin();
        assert!(facing > flat && flat > away, "{facing} {flat} {away}");
        // A slope of 45° facing the sun straight on is lit fully.
        let steep = hillshade(
            &plane(30.0 / 2f64.sqrt(), 30.0 / 2f64.sqrt()),
            &valid,
            (30.0, 30.0),
        );
        assert!((steep[[2, 2]] - 1.0).abs() < 1e-9, "{}", steep[[2, 2]]);
    }

    #[test]
    fn invalid_cells_are_dark_and_do_not_pull_their_neighbours() {
        let mut z = Array2::from_elem((3, 3), 100.0);
        z[[0, 0]] = -9999.0;
        let mut valid = Array2::from_elem((3, 3), true);
        valid[[0, 0]] = false;
        let s = hillshade(&z, &valid, (1.0, 1.0));
        assert_eq!(s[[0, 0]], 0.0);
        assert!((s[[1, 1]] - ALTITUDE.to_radians().sin()).abs() < 1e-12);
    }
}
