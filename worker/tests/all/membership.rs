//! The group-membership client against two independent implementations of the group
//! protocol: librdkafka's mock cluster (`rdkafka::mocking::MockCluster`) and Culvert's
//! broker. The same scenarios run on both: two members join and sync, the leader hands out
//! assignments, heartbeats pass, a leaving member makes the other rejoin; on the mock
//! cluster also a coordinator that moves and injected coordinator errors.

use std::time::Duration;

use culvert::cluster::member::{GroupMember, MemberSettings};
use culvert::cluster::transport::Transport;
use culvert_log_engine::{BrokerConfig, RunningBroker};
use kafka_protocol::error::ResponseError;
use rdkafka::mocking::{MockCluster, MockCoordinator};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

fn settings(bootstrap: &str, client: &str) -> MemberSettings {
    MemberSettings {
        bootstrap: vec![bootstrap.to_string()],
        transport: Transport::default(),
        group_id: "members".into(),
        group_instance_id: None,
        client_id: client.into(),
        protocol_type: "connect".into(),
        session_timeout: Duration::from_secs(6),
        rebalance_timeout: Duration::from_secs(10),
    }
}

fn protocols(tag: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        ("sessioned".into(), format!("v2-{tag}").into_bytes()),
        ("compatible".into(), format!("v1-{tag}").into_bytes()),
    ]
}

/// What a member ends a round with.
type Synced = (GroupMember, culvert::cluster::member::Joined, Vec<u8>);

/// Runs one member as a worker does until it is in a round with `n` members: join, assign
/// as leader (each member's bytes name it and the group size), sync; a round with fewer
/// members is followed by heartbeats until the coordinator asks for a rejoin.
async fn converge(mut m: GroupMember, tag: &str, n: usize) -> Synced {
    let protocols = protocols(tag);
    for _ in 0..20 {
        let joined = match m.join(&protocols).await {
            Ok(j) => j,
            Err(e) if e.response_error() == Some(ResponseError::RebalanceInProgress) => continue,
            Err(e) => panic!("{tag} cannot join: {e}"),
        };
        let assignments = if joined.is_leader() {
            // librdkafka's mock completes a round as soon as the leader's SyncGroup arrives
            // and answers a follower's later one INVALID_REQUEST: let the followers' go first.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let size = joined.members.len();
            joined
                .members
                .iter()
                .map(|(id, _)| (id.clone(), format!("for {id} of {size}").into_bytes()))
                .collect()
        } else {
            Vec::new()
        };
        match m.sync(assignments).await {
            Ok(bytes) if bytes.ends_with(format!(" of {n}").as_bytes()) => {
                return (m, joined, bytes.to_vec());
            }
            Ok(_) => {
                for _ in 0..100 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if m.heartbeat().await.is_err() {
                        break;
                    }
                }
            }
            Err(e) if e.response_error() == Some(ResponseError::RebalanceInProgress) => {}
            // librdkafka's mock answers a SyncGroup it refuses with a null assignment, which
            // the protocol does not allow; a worker treats any failed sync as "rejoin".
            Err(e) => eprintln!("{tag}: sync failed ({e}); rejoining"),
        }
    }
    panic!("{tag} never reached a round with {n} members");
}

/// Two members converge on one round; the leader's assignments reach both.
async fn join_and_sync(bootstrap: &str) -> (GroupMember, GroupMember) {
    let a = GroupMember::new(settings(bootstrap, "a"));
    let b = GroupMember::new(settings(bootstrap, "b"));
    let ((a, ja, sa), (b, jb, sb)) = tokio::join!(converge(a, "a", 2), converge(b, "b", 2));
    assert_eq!(ja.generation, jb.generation);
    assert_eq!(ja.leader_id, jb.leader_id);
    assert_eq!(
        (ja.protocol.as_str(), jb.protocol.as_str()),
        ("sessioned", "sessioned")
    );
    assert_ne!(ja.member_id, jb.member_id);
    let leader = if ja.is_leader() { &ja } else { &jb };
    assert!(ja.is_leader() != jb.is_leader(), "one leader");
    let mut metadata: Vec<Vec<u8>> = leader.members.iter().map(|(_, m)| m.to_vec()).collect();
    metadata.sort();
    assert_eq!(
        metadata,
        vec![b"v2-a".to_vec(), b"v2-b".to_vec()],
        "the leader sees both"
    );
    assert_eq!(sa, format!("for {} of 2", ja.member_id).into_bytes());
    assert_eq!(sb, format!("for {} of 2", jb.member_id).into_bytes());
    let (mut a, mut b) = (a, b);
    a.heartbeat().await.expect("a heartbeats");
    b.heartbeat().await.expect("b heartbeats");
    (a, b)
}

/// After one member leaves, the other is told to rejoin and rejoins alone.
async fn leave_and_rejoin(mut a: GroupMember, mut b: GroupMember) {
    let generation = b.generation();
    a.leave().await.expect("a leaves");
    let mut told = None;
    for _ in 0..50 {
        match b.heartbeat().await {
            Ok(()) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => {
                told = e.response_error();
                break;
            }
        }
    }
    assert_eq!(told, Some(ResponseError::RebalanceInProgress));
    let joined = b.join(&protocols("b")).await.expect("b rejoins");
    assert!(joined.is_leader() && joined.members.len() == 1);
    assert!(joined.generation > generation);
    let mine = (joined.member_id.clone(), b"alone".to_vec());
    assert_eq!(b.sync(vec![mine]).await.expect("sync").as_ref(), b"alone");
    b.heartbeat().await.expect("heartbeat");
    b.leave().await.expect("b leaves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_sync_heartbeat_and_leave_on_librdkafkas_mock_cluster() {
    let cluster = MockCluster::new(3).expect("mock cluster");
    let bootstrap = cluster.bootstrap_servers();
    let bootstrap = bootstrap.split(',').next().expect("a broker").to_string();
    let (a, b) = join_and_sync(&bootstrap).await;
    leave_and_rejoin(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_follow_a_moving_coordinator_and_ride_out_its_errors_on_the_mock_cluster() {
    let cluster = MockCluster::new(3).expect("mock cluster");
    let bootstrap = cluster.bootstrap_servers();
    let bootstrap = bootstrap.split(',').next().expect("a broker").to_string();
    let (mut a, _b) = join_and_sync(&bootstrap).await;
    // The coordinator moves: at most one heartbeat fails with NOT_COORDINATOR, the next
    // one finds the new coordinator, and the membership survives the move.
    for broker in [2, 3, 1] {
        cluster
            .coordinator(MockCoordinator::Group("members".into()), broker)
            .expect("move the coordinator");
        if let Err(e) = a.heartbeat().await {
            assert_eq!(
                e.response_error(),
                Some(ResponseError::NotCoordinator),
                "{e}"
            );
        }
        a.heartbeat().await.expect("the moved coordinator is found");
    }
    // A coordinator still loading answers with an error; the next heartbeat passes.
    cluster.request_errors(
        RDKafkaApiKey::Heartbeat,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS],
    );
    let e = a.heartbeat().await.expect_err("the injected error");
    assert_eq!(
        e.response_error(),
        Some(ResponseError::CoordinatorLoadInProgress)
    );
    a.heartbeat()
        .await
        .expect("heartbeats again after the coordinator loaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_sync_heartbeat_and_leave_on_culverts_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = RunningBroker::start(BrokerConfig {
        listener: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        ..BrokerConfig::default()
    })
    .await
    .expect("broker");
    let (a, b) = join_and_sync(&broker.bootstrap()).await;
    leave_and_rejoin(a, b).await;
    // A static member rejoining with its instance id keeps its place without a new id.
    let mut settings = settings(&broker.bootstrap(), "static");
    settings.group_instance_id = Some("worker-1".into());
    let mut s = GroupMember::new(settings.clone());
    let joined = s.join(&protocols("s")).await.expect("static member joins");
    let mine = (joined.member_id.clone(), b"s".to_vec());
    s.sync(vec![mine]).await.expect("sync");
    let mut again = GroupMember::new(settings);
    let rejoined = again
        .join(&protocols("s"))
        .await
        .expect("the same instance rejoins");
    assert!(rejoined.is_leader());
    // The old incarnation is fenced.
    let e = s
        .heartbeat()
        .await
        .expect_err("the replaced member is fenced");
    assert!(
        matches!(
            e.response_error(),
            Some(ResponseError::FencedInstanceId | ResponseError::UnknownMemberId)
        ),
        "{e}"
    );
}
