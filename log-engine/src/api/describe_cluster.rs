//! DescribeCluster (key 60): cluster id, controller and the one broker.

use bytes::Bytes;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::{Ctx, str_bytes};
use crate::broker::Broker;

pub(crate) fn handle(
    broker: &Broker,
    ctx: &Ctx,
    _req: DescribeClusterRequest,
) -> Result<Bytes, String> {
    let (host, port) = broker.advertised();
    let resp = DescribeClusterResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(0)
        .with_endpoint_type(1)
        .with_cluster_id(str_bytes(broker.cluster_id()))
        .with_controller_id(BrokerId(broker.node_id()))
        .with_brokers(vec![
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(broker.node_id()))
                .with_host(str_bytes(host))
                .with_port(i32::from(port))
                .with_rack(None),
        ])
        .with_cluster_authorized_operations(i32::MIN);
    ctx.respond(&resp)
}
