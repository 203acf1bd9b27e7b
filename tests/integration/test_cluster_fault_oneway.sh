#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Replication fault (issue 17): a one-way partition. Only the leader's
# frames to its followers are dropped (ebtables on the bridge); theirs to
# it still arrive, so the leader keeps hearing their Fetch requests (and
# TCP retransmissions) while they never get an answer or an ACK. The
# rest is test_cluster_fault_followers.sh's: the leader must drop both
# from the ISR (their fetch offsets stop moving), acks=all answers
# NOT_ENOUGH_REPLICAS and nothing is acknowledged while the ISR is below
# min.insync.replicas; healed, both rejoin within 4 s, their segment
# files the leader's, and the checker finds nothing lost, duplicated or
# at another offset.
set -euo pipefail
cd "$(dirname "$0")/../.."
CL_ONEWAY=1 exec bash tests/integration/test_cluster_fault_followers.sh
