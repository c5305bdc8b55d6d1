//! `pgp info PATH`: raster or vector description as JSON.

use std::path::PathBuf;

use pgp::core::{raster_info, vector_info, Error, LayerRef, RasterInfo, VectorInfo};
use serde_json::{json, Value};

use super::CmdResult;
use crate::output::outln;

/// Arguments of `pgp info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// A raster (GeoTIFF, ...) or a vector (GeoPackage, Shapefile, ...).
    path: PathBuf,
    /// For vectors: the layer, by index or name.
    #[arg(long, default_value = "0")]
    layer: String,
}

pub(crate) fn nodata_json(v: Option<f64>) -> Value {
    match v {
        None => Value::Null,
        // JSON has no NaN: print it as the string GDAL's own JSON uses.
        Some(x) if x.is_nan() => json!("NaN"),
        Some(x) if x.is_infinite() => json!(if x > 0.0 { "Infinity" } else { "-Infinity" }),
        Some(x) => json!(x),
    }
}

/// The JSON `pgp info` prints for a raster (keys are part of the CLI's contract).
pub fn raster_json(info: &RasterInfo) -> Value {
    json!({
        "path": info.path,
        "driver": info.driver,
        "raster_size": [info.raster_size.0, info.raster_size.1],
        "pixel_size": [info.pixel_size.0, info.pixel_size.1],
        "geotransform": info.geotransform.0,
        "n_bands": info.n_bands,
        "nodata": info.nodata.iter().map(|n| nodata_json(*n)).collect::<Vec<_>>(),
        "datatype": info.datatype.gdal_name(),
        "datatypes": info.datatypes.iter().map(|d| d.gdal_name()).collect::<Vec<_>>(),
        "bounding_box": info.bounding_box.to_array(),
        "projection_wkt": info.projection_wkt,
        "block_size": [info.block_size.0, info.block_size.1],
        "file_list": info.file_list,
    })
}

fn vector_json(info: &VectorInfo) -> Value {
    json!({
        "path": info.path,
        "layer_name": info.layer_name,
        "feature_count": info.feature_count,
        "geometry_type": info.geometry_type,
        "bounding_box": info.bounding_box.map(|b| b.to_array()),
        "projection_wkt": info.projection_wkt,
        "fields": info.fields.iter().map(|f| json!({"name": f.name, "type": f.field_type})).collect::<Vec<_>>(),
    })
}

/// Run `pgp info`.
pub fn run(args: InfoArgs) -> CmdResult {
    let value = match raster_info(&args.path) {
        Ok(info) => raster_json(&info),
        Err(Error::NotARaster { .. }) => {
            let layer = match args.layer.parse::<usize>() {
                Ok(i) => LayerRef::Index(i),
                Err(_) => LayerRef::Name(args.layer.clone()),
            };
            match vector_info(&args.path, &layer) {
                Ok(info) => vector_json(&info),
                Err(Error::NotAVector { path, message }) => {
                    return Err(format!(
                        "{}: neither a raster nor a vector GDAL can open: {message}",
                        path.display()
                    )
                    .into())
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    outln!("{}", serde_json::to_string_pretty(&value)?)?;
    Ok(())
}
