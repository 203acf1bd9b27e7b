// SPDX-License-Identifier: Apache-2.0
// KafkaJS 2.2.4 transactions against FluxMQ, for test_txn.sh:
//
//   node kafkajs_txn.js BROKER
//
// A transactional producer commits and aborts transactions interleaved
// over two partitions, one of them with sendOffsets; a read_committed
// group consumer (KafkaJS's default) sees exactly the committed records
// in order, a readUncommitted one all of them, and the offsets sent in
// the committed transaction are the group's.
'use strict';
const path = require('path');
const { Kafka, logLevel } =
	require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

const B = process.argv[2];
const T = 'kjs-txn';
const kafka = new Kafka({
	clientId: 'fluxmq-txn', brokers: [B], logLevel: logLevel.ERROR,
	retry: { retries: 8, initialRetryTime: 100 },
});

function fail(msg) {
	console.error(`ERROR kafkajs: ${msg}`);
	process.exit(1);
}

async function consume(group, readUncommitted, want) {
	const c = kafka.consumer({ groupId: group, readUncommitted,
				   maxWaitTimeInMs: 500 });
	const got = { 0: [], 1: [] };
	let n = 0;
	await c.connect();
	await c.subscribe({ topic: T, fromBeginning: true });
	await c.run({ eachMessage: async ({ partition, message }) => {
		got[partition].push(message.value.toString());
		n++;
	} });
	const deadline = Date.now() + 30000;
	while (n < want && Date.now() < deadline)
		await new Promise((r) => setTimeout(r, 100));
	await new Promise((r) => setTimeout(r, 1500));   // nothing more
	await c.disconnect();
	return got;
}

(async () => {
	const admin = kafka.admin();
	await admin.connect();
	await admin.createTopics({ topics: [{ topic: T, numPartitions: 2 }] });
	const p = kafka.producer({ transactionalId: 'kjs-1',
				   maxInFlightRequests: 1, idempotent: true });
	await p.connect();
	const committed = { 0: [], 1: [] }, all = { 0: [], 1: [] };
	const plan = [true, false, true, false, true];
	for (let t = 0; t < plan.length; t++) {
		const txn = await p.transaction();
		const msgs = [];
		for (let i = 0; i < 20; i++)
			for (let part = 0; part < 2; part++) {
				const v = `k${t}-${plan[t] ? 'c' : 'a'}-${part}-${i}`;
				msgs.push({ partition: part, value: v });
				all[part].push(v);
				if (plan[t])
					committed[part].push(v);
			}
		await txn.send({ topic: T, messages: msgs });
		if (t === 2)
			await txn.sendOffsets({ consumerGroupId: 'kjs-offsets',
				topics: [{ topic: T, partitions: [
					{ partition: 0, offset: '7' },
					{ partition: 1, offset: '9' }] }] });
		if (t === 3)
			await txn.sendOffsets({ consumerGroupId: 'kjs-offsets',
				topics: [{ topic: T, partitions: [
					{ partition: 0, offset: '99' }] }] });
		if (plan[t])
			await txn.commit();
		else
			await txn.abort();
	}
	await p.disconnect();
	console.log('5 transactions (3 committed, 2 aborted, offsets in two)');

	const nc = committed[0].length + committed[1].length;
	let got = await consume('kjs-rc', false, nc);
	for (const part of [0, 1])
		if (JSON.stringify(got[part]) !== JSON.stringify(committed[part]))
			fail(`read_committed partition ${part}: ${got[part].length} ` +
			     `records, want ${committed[part].length}`);
	console.log(`read_committed: exactly the ${nc} committed records, in order`);
	got = await consume('kjs-ru', true, 200);
	for (const part of [0, 1])
		if (JSON.stringify(got[part]) !== JSON.stringify(all[part]))
			fail(`readUncommitted partition ${part}: ` +
			     `${got[part].length} records, want ${all[part].length}`);
	console.log('readUncommitted: all 200 records');

	const offs = await admin.fetchOffsets({ groupId: 'kjs-offsets',
						topics: [T] });
	const o = {};
	for (const x of offs[0].partitions)
		o[x.partition] = x.offset;
	if (o[0] !== '7' || o[1] !== '9')
		fail(`group offsets ${JSON.stringify(o)}, want 0:7 1:9 (the ` +
		     'aborted transaction\'s 99 must not show)');
	console.log('sendOffsets: the committed transaction\'s offsets only');
	await admin.disconnect();
	console.log('RESULT ok');
})().catch((e) => fail(e.stack || e));
