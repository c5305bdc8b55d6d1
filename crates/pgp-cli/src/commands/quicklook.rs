//! `pgp quicklook RASTER OUT.png`: a picture of one band, read at reduced resolution.

use std::path::PathBuf;

use pgp::view::{quicklook, Colormap, Options};

use super::common::{require_file, Stopwatch};
use super::CmdResult;

/// Arguments of `pgp quicklook`.
#[derive(Debug, clap::Args)]
pub struct QuicklookArgs {
    /// The raster to draw.
    raster: PathBuf,
    /// The PNG to write.
    output: PathBuf,
    /// Band, from 1.
    #[arg(long, default_value_t = 1)]
    band: usize,
    /// viridis, terrain, gray or categorical (one colour per integer class).
    #[arg(long, default_value = "viridis", value_parser = parse_colormap)]
    colormap: Colormap,
    /// Shade the colours by a hillshade (sun in the north-west, 45° up), for DEMs.
    #[arg(long)]
    hillshade: bool,
    /// Colour by log10 of the values (flow accumulation); values <= 0 take the low end.
    #[arg(long)]
    log: bool,
    /// The values at the two ends of the colormap, MIN,MAX (default: those of the pixels read).
    #[arg(long, value_parser = parse_range, allow_hyphen_values = true)]
    range: Option<(f64, f64)>,
    /// Longest side of the picture in pixels (the raster is never enlarged).
    #[arg(long, default_value_t = 1024)]
    max_size: usize,
    /// Leave out the legend strip (colour bar, range, units).
    #[arg(long)]
    no_legend: bool,
    /// Print a JSON summary (size, range, unit, seconds).
    #[arg(long)]
    json: bool,
}

fn parse_colormap(s: &str) -> Result<Colormap, String> {
    s.parse()
}

fn parse_range(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("`{s}` is not MIN,MAX"))?;
    let num = |x: &str| {
        x.trim()
            .parse::<f64>()
            .map_err(|_| format!("`{x}` in `{s}` is not a number"))
    };
    Ok((num(a)?, num(b)?))
}

/// Run `pgp quicklook`.
pub fn run(args: QuicklookArgs) -> CmdResult {
    require_file(&args.raster, "RASTER")?;
    let options = Options {
        band: args.band,
        colormap: args.colormap,
        hillshade: args.hillshade,
        log: args.log,
        range: args.range,
        max_size: args.max_size,
        legend: !args.no_legend,
    };
    let stopwatch = Stopwatch::start();
    let picture = quicklook(&args.raster, &args.output, &options)?;
    let seconds = stopwatch.seconds();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "path": args.output,
                "size": [picture.width, picture.height],
                "image_size": [picture.image_size.0, picture.image_size.1],
                "raster_size": [picture.raster_size.0, picture.raster_size.1],
                "range": picture.range.map(|(a, b)| [a, b]),
                "unit": picture.unit,
                "overviews": picture.has_overviews,
                "valid_pixels": picture.valid_pixels,
                "seconds": seconds,
            })
        );
    } else {
        let range = picture
            .range
            .map(|(a, b)| format!("{a} .. {b}"))
            .unwrap_or_else(|| "no valid pixels".into());
        println!(
            "wrote {} ({} x {} of {} x {}, {range}{}, {seconds:.2} s)",
            args.output.display(),
            picture.image_size.0,
            picture.image_size.1,
            picture.raster_size.0,
            picture.raster_size.1,
            picture.unit.map(|u| format!(" {u}")).unwrap_or_default(),
        );
    }
    Ok(())
}
