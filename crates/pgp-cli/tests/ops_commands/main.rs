//! The operation subcommands (`calc`, `align`, `warp`, `zonal-stats`, `convolve`) driven as a
//! user would, on generated data, checked against the library's own results or an independent
//! computation; and their errors. One test binary for all of them keeps linking (GDAL) to once.

mod align;
mod calc;
mod convolve;
mod output_paths;
mod quicklook;
mod stdout_pipe;
mod util;
mod warp;
mod zonal;
