# The demo's default cluster, written the way ZeekControl writes cluster-layout.zeek.
# The demo replaces each PORT_n with a free loopback port when it starts.
redef Cluster::manager_is_logger = F;
redef Cluster::retry_interval = 0.2 secs;

redef Cluster::nodes = {
	["control"] = [$node_type=Cluster::CONTROL, $ip=127.0.0.1, $zone_id="", $p=PORT_0/tcp],
	["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $zone_id="", $p=PORT_1/tcp],
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $zone_id="", $p=PORT_2/tcp, $logger="logger-1"],
	["proxy-1"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $zone_id="", $p=PORT_3/tcp, $logger="logger-1", $manager="manager"],
	["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $zone_id="", $p=PORT_4/tcp, $interface="lo", $logger="logger-1", $manager="manager"],
	["worker-2"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $zone_id="", $p=PORT_5/tcp, $interface="lo", $logger="logger-1", $manager="manager"],
};
