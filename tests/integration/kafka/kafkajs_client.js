// SPDX-License-Identifier: Apache-2.0
// KafkaJS 2.2.4 (tests/integration/node, pinned by its package-lock.json)
// against FluxMQ, for test_kafka_node.sh.
//
//   node kafkajs_client.js BROKER
//
// Admin: createTopics (partitions, configs, validateOnly, an existing
// topic), describeCluster, fetchTopicMetadata, describeConfigs,
// createPartitions, fetchTopicOffsets(ByTimestamp), deleteTopics.
// Producer: idempotent acks=-1, acks=1 and acks=0, GZIP, and sendBatch over
// two topics in one request. Consumer: a group consumer reads everything
// from the beginning and every key, value, header and timestamp is compared.
'use strict';
const path = require('path');
const { Kafka, logLevel, CompressionTypes, ConfigResourceTypes } =
	require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

const B = process.argv[2];
const kafka = new Kafka({
	clientId: 'fluxmq-test', brokers: [B], logLevel: logLevel.ERROR,
	retry: { retries: 8, initialRetryTime: 100 },
});

function fail(msg) {
	console.error(`FAIL: kafkajs: ${msg}`);
	process.exit(1);
}
function ok(msg) { console.log(`PASS: kafkajs: ${msg}`); }
function expect(cond, msg) { if (!cond) fail(msg); }

// Deterministic messages; value sizes 0 B..32 KiB, null values, headers.
function messages(tag, n) {
	const out = [];
	let x = 12345;
	const rnd = () => { x = (x * 1103515245 + 12345) & 0x7fffffff; return x; };
	for (let i = 0; i < n; i++) {
		const size = i % 40 === 0 ? [0, 1, 1000, 32768][(i / 40) % 4] : rnd() % 400;
		const v = Buffer.alloc(size);
		for (let j = 0; j < size; j++) v[j] = rnd() & 0xff;
		out.push({
			key: i % 9 === 0 ? null : `${tag}-${i}`,
			value: i % 53 === 3 ? null : v,
			headers: i % 2 ? { n: String(i), tag } : undefined,
		});
	}
	return out;
}

async function admin_checks(admin) {
	const created = await admin.createTopics({
		waitForLeaders: true,
		topics: [{ topic: 'kjs-a', numPartitions: 3,
			configEntries: [{ name: 'retention.ms', value: '123456789' }] },
		{ topic: 'kjs-b', numPartitions: 2 }],
	});
	expect(created === true, `createTopics returned ${created}`);
	// KafkaJS answers false for a topic that exists (TOPIC_ALREADY_EXISTS).
	const again = await admin.createTopics({ topics: [{ topic: 'kjs-a' }] });
	expect(again === false, `createTopics on an existing topic returned ${again}`);
	// waitForLeaders would ask Metadata for a topic validateOnly did not
	// create (KafkaJS does that against Apache Kafka too).
	await admin.createTopics({ validateOnly: true, waitForLeaders: false,
		topics: [{ topic: 'kjs-dry', numPartitions: 5 }] });
	let err = null;
	try {
		await admin.createTopics({ topics: [{ topic: 'bad topic!' }] });
	} catch (e) { err = e; }
	expect(err && /INVALID_TOPIC_EXCEPTION|invalid/i.test(JSON.stringify(err.errors || err.message)),
		`bad topic name: ${err && err.message}`);
	const topics = await admin.listTopics();
	expect(topics.includes('kjs-a') && topics.includes('kjs-b') && !topics.includes('kjs-dry'),
		`listTopics: ${topics}`);
	ok('createTopics: partitions, configs, validateOnly, existing topic, invalid name');

	const cl = await admin.describeCluster();
	expect(cl.brokers.length === 1 && cl.controller === cl.brokers[0].nodeId &&
		`${cl.brokers[0].host}:${cl.brokers[0].port}` === B,
		`describeCluster: ${JSON.stringify(cl)}`);
	const md = await admin.fetchTopicMetadata({ topics: ['kjs-a'] });
	expect(md.topics[0].partitions.length === 3 &&
		md.topics[0].partitions.every(p => p.leader === cl.controller),
		`fetchTopicMetadata: ${JSON.stringify(md)}`);
	const dc = await admin.describeConfigs({ includeSynonyms: false,
		resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-a' }] });
	const ent = dc.resources[0].configEntries.find(e => e.configName === 'retention.ms');
	expect(ent && ent.configValue === '123456789', `describeConfigs: ${JSON.stringify(ent)}`);
	ok('describeCluster, fetchTopicMetadata, describeConfigs');

	await admin.createPartitions({ topicPartitions: [{ topic: 'kjs-b', count: 4 }] });
	const md2 = await admin.fetchTopicMetadata({ topics: ['kjs-b'] });
	expect(md2.topics[0].partitions.length === 4, 'createPartitions 2 -> 4');
	ok('createPartitions');
}

async function produce_checks() {
	const sent = {};
	const t0 = Date.now();
	const idem = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
	await idem.connect();
	const a = messages('a', 3000);
	for (let i = 0; i < a.length; i += 500) {
		const r = await idem.send({ topic: 'kjs-a', acks: -1,
			messages: a.slice(i, i + 500).map((m, j) => ({ ...m, partition: (i + j) % 3 })) });
		expect(r.every(x => x.errorCode === 0), `idempotent send: ${JSON.stringify(r)}`);
	}
	await idem.disconnect();
	sent['kjs-a'] = a;
	ok('idempotent producer, acks=-1: 3000 messages');

	const p = kafka.producer();
	await p.connect();
	const b = messages('b', 2000);
	// acks=1 and gzip for the first half, acks=0 for the rest; both topics
	// in one request with sendBatch.
	const half = b.length / 2;
	const r1 = await p.sendBatch({ acks: 1, compression: CompressionTypes.GZIP,
		topicMessages: [
			{ topic: 'kjs-b', messages: b.slice(0, half).map((m, j) => ({ ...m, partition: j % 4 })) },
			{ topic: 'kjs-c', messages: [{ key: 'auto', value: 'created' }] },
		] });
	expect(r1.length >= 2 && r1.every(x => x.errorCode === 0), `sendBatch: ${JSON.stringify(r1)}`);
	await p.send({ topic: 'kjs-b', acks: 0,
		messages: b.slice(half).map((m, j) => ({ ...m, partition: (half + j) % 4 })) });
	await p.disconnect();
	sent['kjs-b'] = b;
	ok('producer: sendBatch over two topics (acks=1, GZIP, auto-created topic), acks=0');
	return { sent, t0, t1: Date.now() };
}

async function consume_checks(admin, { sent, t0, t1 }) {
	const want = sent['kjs-a'].length + sent['kjs-b'].length;
	const got = { 'kjs-a': [], 'kjs-b': [] };
	const consumer = kafka.consumer({ groupId: 'kjs-group', maxWaitTimeInMs: 200 });
	await consumer.connect();
	await consumer.subscribe({ topics: ['kjs-a', 'kjs-b'], fromBeginning: true });
	let n = 0;
	let done;
	const finished = new Promise(res => { done = res; });
	consumer.on(consumer.events.CRASH, e => fail(`consumer crashed: ${e.payload.error.message}`));
	await consumer.run({
		eachMessage: async ({ topic, partition, message }) => {
			got[topic].push({ partition, ...message });
			if (++n === want) done();
		},
	});
	const timer = setTimeout(() => done(), 60000);
	await finished;
	clearTimeout(timer);
	await consumer.disconnect();
	expect(n === want, `consumed ${n} of ${want}`);
	for (const [topic, msgs] of Object.entries(sent)) {
		const np = topic === 'kjs-a' ? 3 : 4;
		for (let p = 0; p < np; p++) {
			const w = msgs.filter((_, i) => i % np === p);
			const g = got[topic].filter(m => m.partition === p)
				.sort((x, y) => Number(x.offset) - Number(y.offset));
			expect(g.length === w.length, `${topic}/${p}: ${g.length} of ${w.length}`);
			g.forEach((m, i) => {
				const e = w[i];
				const key = m.key === null ? null : m.key.toString();
				const val = m.value;
				const hdr = Object.fromEntries(Object.entries(m.headers || {})
					.map(([k, v]) => [k, v.toString()]));
				expect(Number(m.offset) === i, `${topic}/${p}: offset ${m.offset}, want ${i}`);
				expect(key === e.key, `${topic}/${p}@${i}: key ${key} want ${e.key}`);
				expect(e.value === null ? val === null : val !== null && val.equals(e.value),
					`${topic}/${p}@${i}: value differs`);
				expect(JSON.stringify(hdr) === JSON.stringify(e.headers || {}),
					`${topic}/${p}@${i}: headers ${JSON.stringify(hdr)}`);
				const ts = Number(m.timestamp);
				expect(ts >= t0 && ts <= t1, `${topic}/${p}@${i}: timestamp ${ts}`);
			});
		}
	}
	ok(`group consumer: ${want} messages from the beginning, every key, value, header and timestamp identical`);

	const committed = await admin.fetchOffsets({ groupId: 'kjs-group', topics: ['kjs-a'] });
	const ends = await admin.fetchTopicOffsets('kjs-a');
	const end = Object.fromEntries(ends.map(o => [o.partition, o.high]));
	expect(committed[0].partitions.every(p => p.offset === end[p.partition]),
		`committed ${JSON.stringify(committed)} vs end ${JSON.stringify(end)}`);
	ok('group offsets committed at the end of each partition');
}

async function offset_checks(admin) {
	const offs = await admin.fetchTopicOffsets('kjs-a');
	expect(offs.length === 3 && offs.every(o => o.low === '0' && Number(o.high) === 1000),
		`fetchTopicOffsets: ${JSON.stringify(offs)}`);
	const byTs = await admin.fetchTopicOffsetsByTimestamp('kjs-a', 0);
	expect(byTs.every(o => o.offset === '0'), `by timestamp 0: ${JSON.stringify(byTs)}`);
	const future = await admin.fetchTopicOffsetsByTimestamp('kjs-a', Date.now() + 3600e3);
	expect(future.every(o => Number(o.offset) === 1000), `by future timestamp: ${JSON.stringify(future)}`);
	ok('fetchTopicOffsets, fetchTopicOffsetsByTimestamp');
	await admin.deleteTopics({ topics: ['kjs-b', 'kjs-c'] });
	const topics = await admin.listTopics();
	expect(!topics.includes('kjs-b') && !topics.includes('kjs-c') && topics.includes('kjs-a'),
		`after deleteTopics: ${topics}`);
	ok('deleteTopics');
}

(async () => {
	const admin = kafka.admin();
	await admin.connect();
	await admin_checks(admin);
	const produced = await produce_checks();
	await consume_checks(admin, produced);
	await offset_checks(admin);
	await admin.disconnect();
})().catch(e => fail(`${e.name}: ${e.message}`));
