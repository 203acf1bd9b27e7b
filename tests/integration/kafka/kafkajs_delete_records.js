// SPDX-License-Identifier: Apache-2.0
// KafkaJS 2.2.4 admin.deleteTopicRecords (DeleteRecords, API 21) against
// FluxMQ, for test_delete_records.sh.
//
//   node kafkajs_delete_records.js BROKER
//
// 50 records; deleting up to 20 moves the low watermark
// (fetchTopicOffsets) to 20 and a consumer from the beginning starts
// there; -1 moves it to the high watermark; past the end fails with
// OFFSET_OUT_OF_RANGE for that partition.
'use strict';
const path = require('path');
const { Kafka, logLevel } =
	require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

const kafka = new Kafka({
	clientId: 'fluxmq-delrec', brokers: [process.argv[2]],
	logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 },
});
const T = 'dr-kjs';

function fail(msg) {
	console.error(`FAIL: kafkajs deleteTopicRecords: ${msg}`);
	process.exit(1);
}
function expect(cond, msg) { if (!cond) fail(msg); }

async function low(admin) {
	const o = await admin.fetchTopicOffsets(T);
	return [o[0].low, o[0].high];
}

async function firstConsumed() {
	const c = kafka.consumer({ groupId: 'dr-kjs-g' });
	await c.connect();
	await c.subscribe({ topics: [T], fromBeginning: true });
	const first = await new Promise((resolve, reject) => {
		const t = setTimeout(() => reject(new Error('nothing in 20 s')),
			20000);
		c.run({ eachMessage: async ({ message }) => {
			clearTimeout(t);
			resolve(message.offset);
		} });
	});
	await c.disconnect();
	return first;
}

async function main() {
	const admin = kafka.admin();
	await admin.connect();
	await admin.createTopics({ topics: [{ topic: T, numPartitions: 1 }],
		waitForLeaders: true });
	const p = kafka.producer();
	await p.connect();
	for (let i = 0; i < 5; i++)
		await p.send({ topic: T, messages: Array.from({ length: 10 },
			(_, j) => ({ value: `r${i * 10 + j}` })) });
	await p.disconnect();
	let lh = await low(admin);
	expect(lh[0] === '0' && lh[1] === '50', `before: ${lh}`);

	await admin.deleteTopicRecords({ topic: T,
		partitions: [{ partition: 0, offset: '20' }] });
	lh = await low(admin);
	expect(lh[0] === '20' && lh[1] === '50', `after 20: ${lh}`);
	const f = await firstConsumed();
	expect(f === '20', `a consumer from the beginning starts at ${f}`);
	console.log('PASS: kafkajs deleteTopicRecords: low watermark 20, ' +
		'a consumer from the beginning starts there');

	let err = null;
	try {
		await admin.deleteTopicRecords({ topic: T,
			partitions: [{ partition: 0, offset: '500' }] });
	} catch (e) {
		// The retrier wraps the per-partition error (as its cause).
		err = e.partitions ? e : e.cause;
	}
	expect(err && err.partitions && err.partitions[0].error &&
		err.partitions[0].error.type === 'OFFSET_OUT_OF_RANGE',
		`past the end: ${err && err.name} ${err && err.message} ` +
		`${err && JSON.stringify(err.partitions)}`);
	await admin.deleteTopicRecords({ topic: T,
		partitions: [{ partition: 0, offset: '-1' }] });
	lh = await low(admin);
	expect(lh[0] === '50' && lh[1] === '50', `after -1: ${lh}`);
	console.log('PASS: kafkajs deleteTopicRecords: past the end ' +
		'OFFSET_OUT_OF_RANGE, -1 empties the partition');
	await admin.disconnect();
}

main().then(() => process.exit(0), (e) => fail(e.stack || e));
