// SPDX-License-Identifier: Apache-2.0
// KafkaJS 2.2.4 admin's partition reassignment against a FluxMQ cluster
// (tests/integration/test_cluster_reassign.sh).
//
//   node kafkajs_reassign.js BOOT alter TOPIC PARTITION R1,R2,...
//       alterPartitionReassignments to those replicas; prints "altered"
//   node kafkajs_reassign.js BOOT list TOPIC
//       listPartitionReassignments: one line per partition under way,
//       "PARTITION replicas=A,B adding=C removing=D"
//
// Exits 1 with a FAIL line when a call fails unexpectedly.
'use strict';
const path = require('path');
const { Kafka, logLevel } =
	require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

const [boot, cmd, topic, partStr, repStr] = process.argv.slice(2);

function fail(msg) {
	console.error(`FAIL: kafkajs reassign: ${msg}`);
	process.exit(1);
}

async function main() {
	const admin = new Kafka({
		clientId: 'fluxmq-reassign-test', brokers: boot.split(','),
		logLevel: logLevel.NOTHING,
		retry: { retries: 5, initialRetryTime: 200 },
	}).admin();
	await admin.connect();
	try {
		if (cmd === 'alter') {
			const replicas = repStr.split(',').map(Number);
			await admin.alterPartitionReassignments({
				topics: [{ topic, partitionAssignment: [
					{ partition: Number(partStr), replicas }] }],
				timeout: 30000,
			});
			console.log('altered');
		} else if (cmd === 'list') {
			const r = await admin.listPartitionReassignments({
				topics: [{ topic, partitions: [0, 1, 2, 3] }],
				timeout: 30000,
			});
			for (const t of r.topics)
				for (const p of t.partitions)
					console.log(`${p.partition} replicas=` +
						`${p.replicas.join(',')} adding=` +
						`${p.addingReplicas.join(',')} ` +
						`removing=${p.removingReplicas.join(',')}`);
		} else {
			fail(`unknown command ${cmd}`);
		}
	} finally {
		await admin.disconnect();
	}
}

main().catch(e => fail(e.stack || e.message));
