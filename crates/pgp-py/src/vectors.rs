//! Vectors: writing geometries the caller holds (pygeoprocessing's
//! `shapely_geometry_to_vector`), and grouping a layer's polygons into disjoint sets.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pgp_core::{BoundingBox, LayerRef};

use pgp_core::gdal::spatial_ref::SpatialRef;
use pgp_core::gdal::vector::Feature;
use pgp_core::gdal::vector::{FieldDefn, Geometry, LayerAccess, LayerOptions};
use pgp_ops::vector_ops::VectorOutput;
use pyo3::prelude::*;

use crate::errors::{ops_err, raise, Kind};
use crate::executor::resolve;
use crate::interrupt;

/// One attribute value, as the Python layer converted it for its field's type.
#[derive(FromPyObject)]
enum Value {
    #[pyo3(transparent)]
    Int(i64),
    #[pyo3(transparent)]
    Real(f64),
    #[pyo3(transparent)]
    Text(String),
}

/// Writes one layer `layer_name` of `(wkb, values)` features; `fields` are `(name, OGR field
/// type)` and each feature's values are in their order (None: null). The vector appears only
/// when complete.
#[pyfunction]
#[pyo3(signature = (target, driver, layer_name, projection_wkt, geometry_type, fields, features))]
#[allow(clippy::too_many_arguments)]
fn write_vector(
    py: Python<'_>,
    target: PathBuf,
    driver: &str,
    layer_name: &str,
    projection_wkt: Option<String>,
    geometry_type: u32,
    fields: Vec<(String, u32)>,
    features: Vec<(Vec<u8>, Vec<Option<Value>>)>,
) -> PyResult<()> {
    py.detach(|| {
        let failed = |what: String, e: pgp_core::gdal::errors::GdalError| {
            raise(Kind::Runtime, format!("{}: {what}: {e}", target.display()))
        };
        let srs = projection_wkt
            .as_deref()
            .map(SpatialRef::from_wkt)
            .transpose()
            .map_err(|e| {
                raise(
                    Kind::Value,
                    format!("projection_wkt: not a projection GDAL reads: {e}"),
                )
            })?;
        let mut out = VectorOutput::create(&target, driver).map_err(ops_err)?;
        {
            let ds = out.dataset();
            let layer = ds
                .create_layer(LayerOptions {
                    name: layer_name,
                    srs: srs.as_ref(),
                    ty: geometry_type,
                    options: None,
                })
                .map_err(|e| failed("creating the layer".into(), e))?;
            for (name, kind) in &fields {
                FieldDefn::new(name, *kind)
                    .and_then(|f| f.add_to_layer(&layer))
                    .map_err(|e| failed(format!("creating field {name:?}"), e))?;
            }
            for (index, (wkb, values)) in features.iter().enumerate() {
                let geometry = Geometry::from_wkb(wkb).map_err(|e| {
                    raise(
                        Kind::Value,
                        format!("shapely_geometry_list[{index}]: not a geometry GDAL reads: {e}"),
                    )
                })?;
                let mut feature =
                    Feature::new(layer.defn()).map_err(|e| failed("a feature".into(), e))?;
                feature
                    .set_geometry(geometry)
                    .map_err(|e| failed(format!("feature {index}'s geometry"), e))?;
                for (field, value) in values.iter().enumerate() {
                    let set = match value {
                        None => feature.set_field_null(field),
                        Some(Value::Int(v)) => feature.set_field_integer64(field, *v),
                        Some(Value::Real(v)) => feature.set_field_double(field, *v),
                        Some(Value::Text(v)) => feature.set_field_string(field, v),
                    };
                    set.map_err(|e| failed(format!("feature {index}, field {field}"), e))?;
                }
                feature
                    .create(&layer)
                    .map_err(|e| failed(format!("writing feature {index}"), e))?;
            }
        }
        out.commit().map_err(ops_err)?;
        Ok(())
    })
}

/// Sets of FIDs whose polygons do not overlap; the layer by name when `layer_name` is given.
#[pyfunction]
#[pyo3(signature = (vector, layer_index, layer_name, bounding_box, geometries_may_touch, executor=None))]
fn calculate_disjoint_polygon_set(
    py: Python<'_>,
    vector: PathBuf,
    layer_index: usize,
    layer_name: Option<String>,
    bounding_box: Option<[f64; 4]>,
    geometries_may_touch: bool,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<BTreeSet<u64>>> {
    let layer = layer_name.map_or(LayerRef::Index(layer_index), LayerRef::Name);
    let bbox = bounding_box.map(|b| BoundingBox::new(b[0], b[1], b[2], b[3]));
    let exec = resolve(py, executor)?;
    interrupt::run(py, move |_| {
        pgp_ops::calculate_disjoint_polygon_set(&vector, &layer, bbox, geometries_may_touch, &exec)
    })?
    .map_err(ops_err)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(write_vector, m)?)?;
    m.add_function(wrap_pyfunction!(calculate_disjoint_polygon_set, m)?)?;
    Ok(())
}
