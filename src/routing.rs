//! Hydrological routing ([`pgp_routing`]) and its task-graph nodes.
//!
//! Every routing function has its request ([`pgp_routing::request`]), registered as the node
//! `pgp.routing.<function>` ([`Node`] of that request), usable from pipeline files and
//! `Graph::add_op`:
//!
//! | name | arguments |
//! | --- | --- |
//! | `pgp.routing.fill_pits` | [`FillPitsRequest`] |
//! | `pgp.routing.flow_dir_d8`, `pgp.routing.flow_dir_mfd` | [`FlowDirRequest`] |
//! | `pgp.routing.flow_accumulation_d8` | [`FlowAccumulationD8Request`] |
//! | `pgp.routing.flow_accumulation_mfd` | [`FlowAccumulationMfdRequest`] |
//! | `pgp.routing.extract_streams_d8` | [`ExtractStreamsD8Request`] |
//! | `pgp.routing.extract_streams_mfd` | [`ExtractStreamsMfdRequest`] |
//! | `pgp.routing.distance_to_channel_d8`, `pgp.routing.distance_to_channel_mfd` | [`DistanceToChannelRequest`] |
//! | `pgp.routing.detect_outlets` | [`DetectOutletsRequest`] |
//! | `pgp.routing.detect_lowest_drain_and_sink` | [`DetectLowestDrainAndSinkRequest`] |
//! | `pgp.routing.delineate_watersheds_d8` | [`DelineateWatershedsD8Request`] |
//! | `pgp.routing.extract_strahler_streams_d8` | [`ExtractStrahlerStreamsD8Request`] |
//! | `pgp.routing.calculate_subwatershed_boundary` | [`CalculateSubwatershedBoundaryRequest`] |
//!
//! Bands default to 1; paths are relative to the pipeline file.

pub use pgp_routing::*;

use crate::nodes::{register_request, Node};

register_request!(
    FillPitsRequest,
    FlowDirRequest<D8>,
    FlowDirRequest<Mfd>,
    FlowAccumulationD8Request,
    FlowAccumulationMfdRequest,
    ExtractStreamsD8Request,
    ExtractStreamsMfdRequest,
    DistanceToChannelRequest<D8>,
    DistanceToChannelRequest<Mfd>,
    DetectOutletsRequest,
    DetectLowestDrainAndSinkRequest,
    DelineateWatershedsD8Request,
    ExtractStrahlerStreamsD8Request,
    CalculateSubwatershedBoundaryRequest,
);
