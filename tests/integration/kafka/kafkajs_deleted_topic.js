// SPDX-License-Identifier: Apache-2.0
// KafkaJS 2.2.4: a group member whose subscribed topic is deleted under it
// disconnects (LeaveGroup) in bounded time. test_group_deleted_topic.sh.
//
//   node kafkajs_deleted_topic.js BROKER TOPIC GROUP
'use strict';
const path = require('path');
const { Kafka, logLevel } =
	require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

const [broker, topic, group] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'fluxmq-deltopic', brokers: [broker],
	logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });

function fail(msg) {
	console.error(`FAIL: deleted topic member (KafkaJS): ${msg}`);
	process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
	const admin = kafka.admin();
	await admin.connect();
	await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
	const p = kafka.producer();
	await p.connect();
	await p.send({ topic, messages: Array.from({ length: 10 },
		(_, i) => ({ value: `v${i}`, partition: i % 2 })) });
	await p.disconnect();
	const c = kafka.consumer({ groupId: group });
	await c.connect();
	await c.subscribe({ topic, fromBeginning: true });
	let n = 0;
	await new Promise((res, rej) => {
		const t = setTimeout(() => rej(new Error(`consumed ${n}`)), 30000);
		c.run({ eachMessage: async () => {
			if (++n === 10) { clearTimeout(t); res(); }
		} });
	});
	console.log('consumed 10');
	await admin.deleteTopics({ topics: [topic] });
	await admin.disconnect();
	console.log('deleted');
	await sleep(3000);
	await c.disconnect();
	console.log('left');
})().catch((e) => fail(e.message));
