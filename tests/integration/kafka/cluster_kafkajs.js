// SPDX-License-Identifier: Apache-2.0
// KafkaJS against a FluxMQ cluster (tests/integration/test_cluster_*.sh).
//
//   node cluster_kafkajs.js TOPIC BOOT_PRODUCE BOOT_CONSUME N
//
// N keyed messages (acks=-1) produced through one bootstrap broker, then a
// group consumer bootstrapped from another reads the topic from the start:
// every message exactly once. Exits 1 with a FAIL line otherwise.
'use strict';
const path = require('path');
const { Kafka, logLevel } =
	require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

const [topic, bp, bc, nStr] = process.argv.slice(2);
const N = parseInt(nStr, 10);

function fail(msg) {
	console.error(`FAIL: kafkajs: ${msg}`);
	process.exit(1);
}
function client(b) {
	return new Kafka({
		clientId: 'fluxmq-cluster-test', brokers: [b],
		logLevel: logLevel.ERROR,
		retry: { retries: 10, initialRetryTime: 200 },
	});
}

async function main() {
	const p = client(bp).producer();
	await p.connect();
	for (let i = 0; i < N; i += 500) {
		const msgs = [];
		for (let j = i; j < Math.min(N, i + 500); j++)
			msgs.push({ key: `k${j}`, value: `js-${j}` });
		await p.send({ topic, acks: -1, messages: msgs });
	}
	await p.disconnect();
	const c = client(bc).consumer({ groupId: `js-${Date.now()}` });
	await c.connect();
	await c.subscribe({ topic, fromBeginning: true });
	const seen = new Set();
	let dup = null;
	await c.run({
		eachMessage: async ({ message }) => {
			const v = message.value.toString();
			if (!v.startsWith('js-'))
				return;
			if (seen.has(v))
				dup = v;
			seen.add(v);
		},
	});
	const end = Date.now() + 60000;
	while (Date.now() < end && seen.size < N && dup === null)
		await new Promise((r) => setTimeout(r, 200));
	await c.disconnect();
	if (dup !== null)
		fail(`${dup} read twice`);
	if (seen.size !== N)
		fail(`read ${seen.size} of ${N}`);
	console.log(`kafkajs: ${N} produced via ${bp}, read via ${bc}`);
}

main().catch((e) => fail(e.stack || String(e)));
