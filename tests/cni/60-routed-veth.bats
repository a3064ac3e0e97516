#!/usr/bin/env bats
# routed-veth, the main plugin k3s-init answers as: real links, addresses and
# routes in real network namespaces on this kernel, with host-local (ours)
# as its IPAM. The node is a namespace of its own (ip netns), so that the
# forwarding switch and the SNAT rules it sets touch nothing of the host's.
# Under gVisor's netstack it is exercised by tests/images/real-parts.bats.

load helpers

setup() {
	cni_setup
	command -v ip >/dev/null && command -v iptables >/dev/null || fail "needs ip and iptables (iproute2, iptables)"
	ln -sf "$(readlink -f "$K3S_INIT")" "$PLUGIN_DIR/routed-veth"
	NODE=k3srv-node-$$-$BATS_TEST_NUMBER
	POD1=k3srv-pod1-$$-$BATS_TEST_NUMBER
	POD2=k3srv-pod2-$$-$BATS_TEST_NUMBER
	for ns in "$NODE" "$POD1" "$POD2"; do ip netns add "$ns"; done
	# An uplink with a default route, as a node has: the SNAT address.
	ip -n "$NODE" link add up0 type veth peer name up1
	ip -n "$NODE" addr add 192.168.77.2/24 dev up0
	ip -n "$NODE" link set up0 up
	ip -n "$NODE" link set up1 up
	ip -n "$NODE" route add default via 192.168.77.1
}

teardown() {
	for ns in "$NODE" "$POD1" "$POD2"; do ip netns del "$ns" 2>/dev/null || true; done
}

rv_conf() { # [EXTRA-MEMBERS]
	printf '{"cniVersion":"1.0.0","name":"net1","type":"routed-veth",%s"ipam":{"type":"host-local","dataDir":"%s","ranges":[[{"subnet":"10.42.0.0/24"}]],"routes":[{"dst":"10.42.0.0/16"}]}}' \
		"${1:+$1,}" "$DATA"
}

# rv COMMAND CONTAINERID NETNS CONFIG : the plugin, run in the node.
rv() {
	run env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$1" CNI_CONTAINERID="$2" CNI_NETNS="/run/netns/$3" \
		CNI_IFNAME=eth0 CNI_PATH="$PLUGIN_DIR" ip netns exec "$NODE" "$PLUGIN_DIR/routed-veth" <<<"$4"
}

host_link() { # the node-side link of container $1: the only veth<hex> there
	ip -n "$NODE" -o link show type veth | sed -n 's/^[0-9]*: \(veth[0-9a-f]\{8\}\)@.*/\1/p'
}

@test "routed-veth ADD: a /32 in the pod routed through the gateway, the gateway and a route on the node, the result names both links" {
	rv ADD c1 "$POD1" "$(rv_conf)"
	assert_success
	result=$output
	jq -e '.cniVersion == "1.0.0" and (.interfaces | length) == 2 and .interfaces[1].name == "eth0"
		and (.interfaces[1].sandbox | endswith("'"$POD1"'")) and .ips[0].interface == 1
		and .ips[0].address == "10.42.0.2/24" and .ips[0].gateway == "10.42.0.1"' <<<"$result" >/dev/null ||
		fail "unexpected result: $result"
	host=$(jq -r '.interfaces[0].name' <<<"$result")
	[[ $host =~ ^veth[0-9a-f]{8}$ ]] || fail "node-side link name: $host"
	run ip -n "$POD1" -4 -o addr show dev eth0
	assert_output --partial "inet 10.42.0.2/32 "
	run ip -n "$POD1" -4 route
	assert_line "default via 10.42.0.1 dev eth0 "
	assert_line "10.42.0.0/16 via 10.42.0.1 dev eth0 "
	assert_line "10.42.0.1 dev eth0 scope link "
	run ip -n "$NODE" -4 -o addr show dev "$host"
	assert_output --partial "inet 10.42.0.1/32 "
	run ip -n "$NODE" -4 route show 10.42.0.2
	assert_output "10.42.0.2 dev $host scope link "
	assert_equal "$(ip netns exec "$NODE" cat /proc/sys/net/ipv4/ip_forward)" 1
	# Without ipMasq, no NAT rule.
	run ip netns exec "$NODE" iptables -t nat -S POSTROUTING
	refute_output --partial SNAT
	ip netns exec "$POD1" busybox ping -c 1 -W 2 10.42.0.1
}

@test "routed-veth: two pods on one node reach each other through the node's routes" {
	rv ADD c1 "$POD1" "$(rv_conf)"
	assert_success
	rv ADD c2 "$POD2" "$(rv_conf)"
	assert_success
	assert_equal "$(jq -r '.ips[0].address' <<<"$output")" 10.42.0.3/24
	ip netns exec "$POD1" busybox ping -c 1 -W 2 10.42.0.3
	ip netns exec "$POD2" busybox ping -c 1 -W 2 10.42.0.2
	# Each pod has a node-side link of its own, both with the gateway.
	run ip -n "$NODE" -4 -o addr show to 10.42.0.1/32
	assert_equal "${#lines[@]}" 2
}

@test "routed-veth ipMasq: one SNAT rule per protocol to the uplink's address, added once" {
	rv ADD c1 "$POD1" "$(rv_conf '"ipMasq":true')"
	assert_success
	rv ADD c2 "$POD2" "$(rv_conf '"ipMasq":true')"
	assert_success
	run ip netns exec "$NODE" iptables -t nat -S POSTROUTING
	assert_line "-A POSTROUTING -s 10.42.0.0/24 ! -d 10.42.0.0/24 -p tcp -j SNAT --to-source 192.168.77.2"
	assert_line "-A POSTROUTING -s 10.42.0.0/24 ! -d 10.42.0.0/24 -p udp -j SNAT --to-source 192.168.77.2"
	assert_equal "$(grep -c SNAT <<<"$output")" 2
}

@test "routed-veth ipMasq: pods added in parallel still leave one rule per protocol" {
	local i pids=()
	for i in 1 2 3 4 5 6; do
		ip netns add "$POD1-$i"
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=ADD CNI_CONTAINERID="p$i" CNI_NETNS="/run/netns/$POD1-$i" \
			CNI_IFNAME=eth0 CNI_PATH="$PLUGIN_DIR" ip netns exec "$NODE" "$PLUGIN_DIR/routed-veth" \
			<<<"$(rv_conf '"ipMasq":true')" >"$BATS_TEST_TMPDIR/add-$i.json" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do wait "${pids[$i]}" || fail "ADD $((i + 1)) failed: $(cat "$BATS_TEST_TMPDIR/add-$((i + 1)).json")"; done
	for i in 1 2 3 4 5 6; do ip netns del "$POD1-$i"; done
	run ip netns exec "$NODE" iptables -t nat -S POSTROUTING
	assert_equal "$(grep -c ' -p tcp -j SNAT ' <<<"$output")" 1
	assert_equal "$(grep -c ' -p udp -j SNAT ' <<<"$output")" 1
}

@test "routed-veth DEL: the link pair goes, the address is released; DEL again succeeds; CHECK then fails" {
	rv ADD c1 "$POD1" "$(rv_conf)"
	assert_success
	rv CHECK c1 "$POD1" "$(rv_conf)"
	assert_success
	rv DEL c1 "$POD1" "$(rv_conf)"
	assert_success
	assert_equal "$(host_link)" ""
	run ip -n "$POD1" link show eth0
	assert_failure
	assert_equal "$(addresses_of "$DATA")" ""
	rv DEL c1 "$POD1" "$(rv_conf)"
	assert_success
	rv CHECK c1 "$POD1" "$(rv_conf)"
	assert_error_json 999
	assert_output --partial "has no link veth"
}

@test "routed-veth errors: bad config, IPAM's own error, a missing netns; each leaves no link and no address" {
	rv ADD c1 "$POD1" '{"cniVersion":"1.0.0","name":"net1","type":"routed-veth"}'
	assert_error_json 7
	assert_equal "$(jq -r .msg <<<"$output")" 'routed-veth: "ipam" needs a string "type" (host-local)'
	rv ADD c1 "$POD1" "$(rv_conf '"mtu":"big"')"
	assert_error_json 7
	rv ADD c1 "$POD1" "$(rv_conf | jq -c '.cniVersion = "0.2.0"')"
	assert_error_json 1
	# host-local's error comes back with its code: the range is a /30 with
	# one free address, taken by the first pod.
	small=$(rv_conf | jq -c '.ipam.ranges = [[{"subnet":"10.42.0.0/30"}]]')
	rv ADD c1 "$POD1" "$small"
	assert_success
	rv ADD c2 "$POD2" "$small"
	assert_error_json 999
	assert_output --partial "no IP addresses available in range set"
	rv DEL c1 "$POD1" "$small"
	assert_success
	# A netns that does not exist: the address it took is given back.
	rv ADD c3 no-such-netns "$(rv_conf)"
	assert_error_json 5
	assert_output --partial "opening netns /run/netns/no-such-netns"
	assert_equal "$(host_link)" ""
	assert_equal "$(addresses_of "$DATA")" ""
	# An IPAM plugin that is not there.
	rv ADD c1 "$POD1" "$(rv_conf | jq -c '.ipam.type = "no-such-ipam"')"
	assert_error_json 7
	assert_equal "$(jq -r .msg <<<"$output" | cut -d' ' -f1-5)" 'failed to find plugin "no-such-ipam"'
}

@test "routed-veth VERSION and the about line: CNI 0.3.0 to 1.1.0" {
	run env -i CNI_COMMAND=VERSION "$PLUGIN_DIR/routed-veth" <<<'{"cniVersion":"1.0.0"}'
	assert_success
	assert_equal "$(jq -c .supportedVersions <<<"$output")" '["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]'
	run env -i "$PLUGIN_DIR/routed-veth" </dev/null
	assert_success
	assert_output --partial "CNI routed-veth plugin (k3s-init "
}
