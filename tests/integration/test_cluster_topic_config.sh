#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Topic configs in a cluster (issue 17): kept in ZooKeeper as Kafka keeps
# them. 3 brokers (dev-cluster.sh), a topic with replication factor 3
# and min.insync.replicas=2. IncrementalAlterConfigs on a follower (not
# the leader) sets min.insync.replicas=3 and retention.ms: the answer
# comes once ZooKeeper has /config/topics/<topic> (Kafka's JSON) and a
# /config/changes notification, and DescribeConfigs on the other two
# brokers shows it within seconds. It takes effect where it matters: a
# follower killed, the leader answers acks=all with NOT_ENOUGH_REPLICAS.
# A change made while a broker is down reaches it when it starts again.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
fmq_require_root
fmq_require_cmd curl java ethtool
[ -f /usr/share/java/zookeeper.jar ] || skip "needs zookeeperd (scripts/setup.sh)"
/usr/bin/python3 -c 'import confluent_kafka, kafka' 2>/dev/null ||
	skip "needs python3-confluent-kafka and python3-kafka"
. tests/integration/cluster_lib.sh
TC=(/usr/bin/python3 tests/integration/kafka/cluster_config.py)

describe() { # describe ID KEY: TOPIC's KEY as broker ID describes it
	timeout 30 "${TC[@]}" describe "$(all)" "$1" "$CL_T" "$2" 2>/dev/null
}
seen_by() { # seen_by KEY VALUE ID...: each broker describes KEY as VALUE
	local k=$1 v=$2 i
	shift 2
	for i in "$@"; do
		[ "$(describe "$i" "$k")" = "$v" ] || return 1
	done
}
zkget() { # zkget PATH: the znode's data (under the chroot), via zkCli
	timeout 30 /usr/share/zookeeper/bin/zkCli.sh -server "127.0.0.1:$ZKPORT" \
		"$@" 2>/dev/null
}

cl_up tcfg 1
l=$CL_LEADER
a=$((l % 3 + 1))
k=$((a % 3 + 1))
pass "topic tcfg: replication factor 3, min.insync.replicas=2, led by $l"
[ "$(describe "$k" min.insync.replicas)" = 2 ] ||
	fail "broker $k describes min.insync.replicas=$(describe "$k" min.insync.replicas), not 2"

# The alter goes to a follower, neither the leader nor (necessarily) the
# controller: any broker takes it, as in Kafka's ZooKeeper mode.
zka() { local x; x=$(metric "$1" fluxmq_topic_config_zk_applied_total); echo "${x:-0}"; }
u0=$(zka "$l")
v0=$(zka "$k")
applied() { [ "$(zka "$l")" -gt "$u0" ] && [ "$(zka "$k")" -gt "$v0" ]; }
t0=$(now_ms)
out=$(timeout 30 "${TC[@]}" alter "$(all)" "$a" tcfg \
	min.insync.replicas=3 retention.ms=123456789) ||
	fail "IncrementalAlterConfigs on broker $a: $out"
t1=$(now_ms)
[ "$(describe "$a" min.insync.replicas)" = 3 ] ||
	fail "broker $a, which took the alter, describes min.insync.replicas=$(describe "$a" min.insync.replicas)"
pass "IncrementalAlterConfigs on broker $a answered after $((t1 - t0)) ms"
# The metric first (cheap to poll: the propagation time), then what
# DescribeConfigs says.
wait_for 10 applied || true
t2=$(now_ms)
wait_for 10 seen_by retention.ms 123456789 "$l" "$k" ||
	fail "brokers $l and $k describe retention.ms $(describe "$l" retention.ms) and $(describe "$k" retention.ms) 10 s after the alter on $a"
seen_by min.insync.replicas 3 "$l" "$k" ||
	fail "brokers $l and $k describe min.insync.replicas $(describe "$l" min.insync.replicas) and $(describe "$k" min.insync.replicas)"
applied || fail "brokers $l and $k did not count the config applied from ZooKeeper ($u0 -> $(zka "$l"), $v0 -> $(zka "$k"))"
pass "brokers $l and $k applied it from ZooKeeper within $((t2 - t1)) ms of the answer, and describe retention.ms=123456789 and min.insync.replicas=3"

zc=$(zkget get /fluxmq/config/topics/tcfg | grep '^{' || true)
for w in '"version":1' '"min.insync.replicas":"3"' '"retention.ms":"123456789"'; do
	echo "$zc" | grep -q "$w" || fail "/config/topics/tcfg holds: $zc"
done
zn=$(zkget ls /fluxmq/config/changes | grep -o 'config_change_[0-9]*' | sort | tail -1)
[ -n "$zn" ] || fail "no notification in /config/changes"
zd=$(zkget get "/fluxmq/config/changes/$zn" | grep '^{' || true)
[ "$zd" = '{"version":2,"entity_path":"topics/tcfg"}' ] ||
	fail "/config/changes/$zn holds: $zd"
pass "ZooKeeper holds Kafka's /config/topics/tcfg ($zc) and /config/changes/$zn ($zd)"

r=$(timeout 30 "${PY[@]}" produce-one tcfg "$(b "$l")" 0)
[ "$r" = OK ] || fail "acks=all with 3 in sync of min 3: $r"
$DC kill "$k" >/dev/null || fail "kill of broker $k failed"
two() { local x; x=$(leader_of 0 "$l") && [ "$(echo "${x#* }" | tr ',' '\n' | wc -l)" = 2 ]; }
wait_for 30 two || fail "the ISR did not shrink after killing broker $k: $(leader_of 0 "$l")"
r=$(timeout 30 "${PY[@]}" produce-one tcfg "$(b "$l")" 0)
[ "$r" = NOT_ENOUGH_REPLICAS ] ||
	fail "acks=all to leader $l with 2 in sync of min.insync.replicas=3 (set on broker $a): $r"
pass "broker $k killed: leader $l answers acks=all with NOT_ENOUGH_REPLICAS (ISR $(leader_of 0 "$l" | cut -d' ' -f2))"

# Changed while broker $k is down: it reads it when it starts (its own
# registry still says 123456789).
out=$(timeout 30 "${TC[@]}" alter "$(others "$k")" "$l" tcfg \
	min.insync.replicas=3 retention.ms=987654321) ||
	fail "IncrementalAlterConfigs on broker $l: $out"
$DC start "$k" >/dev/null || fail "restart of broker $k failed"
wait_for 30 seen_by retention.ms 987654321 "$k" ||
	fail "broker $k, restarted, describes retention.ms=$(describe "$k" retention.ms)"
seen_by min.insync.replicas 3 "$k" "$a" ||
	fail "min.insync.replicas after the restart: broker $k $(describe "$k" min.insync.replicas), broker $a $(describe "$a" min.insync.replicas)"
pass "broker $k restarted after a change made while it was down: it describes retention.ms=987654321, min.insync.replicas=3"
wait_for 60 in_isr "$k" "$l" || fail "broker $k did not rejoin the ISR: $(leader_of 0 "$l")"
r=$(timeout 30 "${PY[@]}" produce-one tcfg "$(b "$l")" 0)
[ "$r" = OK ] || fail "acks=all with 3 in sync again: $r"
pass "broker $k back in the ISR: acks=all acknowledged again"
