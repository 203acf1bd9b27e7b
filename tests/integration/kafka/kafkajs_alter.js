// SPDX-License-Identifier: Apache-2.0
// KafkaJS 2.2.4 admin.alterConfigs (AlterConfigs, API 33) against FluxMQ,
// for test_kafka_alter_configs.sh.
//
//   node kafkajs_alter.js BROKER
//
// validateOnly changes nothing; a set replaces the topic's whole config
// (keys not listed revert to their defaults); describeConfigs shows it; an
// unknown topic and a bad value fail with Kafka's errors.
'use strict';
const path = require('path');
const { Kafka, logLevel, ConfigResourceTypes } =
	require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

const kafka = new Kafka({
	clientId: 'fluxmq-alter', brokers: [process.argv[2]],
	logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 },
});

function fail(msg) {
	console.error(`FAIL: kafkajs alter: ${msg}`);
	process.exit(1);
}
function expect(cond, msg) { if (!cond) fail(msg); }

const T = 'ac-kjs';

async function describe(admin) {
	const dc = await admin.describeConfigs({ includeSynonyms: false,
		resources: [{ type: ConfigResourceTypes.TOPIC, name: T }] });
	const out = {};
	for (const e of dc.resources[0].configEntries)
		out[e.configName] = [e.configValue, e.isDefault];
	return out;
}

function alter(admin, name, entries, validateOnly) {
	return admin.alterConfigs({ validateOnly: !!validateOnly,
		resources: [{ type: ConfigResourceTypes.TOPIC, name,
			configEntries: entries }] });
}

async function main() {
	const admin = kafka.admin();
	await admin.connect();
	await admin.createTopics({ waitForLeaders: true, topics: [{ topic: T,
		numPartitions: 2,
		configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
	await alter(admin, T, [{ name: 'max.message.bytes', value: '70000' }], true);
	let d = await describe(admin);
	expect(d['max.message.bytes'][1] === true && d['retention.ms'][0] === '3600000',
		`validateOnly changed something: ${JSON.stringify(d)}`);
	const r = await alter(admin, T, [{ name: 'max.message.bytes', value: '70000' },
		{ name: 'message.timestamp.type', value: 'LogAppendTime' }]);
	expect(r.resources.length === 1 && r.resources[0].errorCode === 0,
		`alterConfigs answer ${JSON.stringify(r)}`);
	d = await describe(admin);
	expect(d['max.message.bytes'][0] === '70000' && d['max.message.bytes'][1] === false &&
		d['message.timestamp.type'][0] === 'LogAppendTime' &&
		d['retention.ms'][0] === '604800000' && d['retention.ms'][1] === true,
		`after alterConfigs: ${JSON.stringify(d)}`);
	for (const [name, entries, want] of [
		['ac-kjs-none', [{ name: 'retention.ms', value: '1' }], 'UNKNOWN_TOPIC_OR_PARTITION'],
		[T, [{ name: 'retention.ms', value: 'x' }], 'INVALID_CONFIG']]) {
		let err = null;
		try {
			await alter(admin, name, entries);
		} catch (e) {
			err = e.type || e.name;
		}
		expect(err === want, `alterConfigs ${name}: ${err}, want ${want}`);
	}
	d = await describe(admin);
	expect(d['max.message.bytes'][0] === '70000', 'a failed alter changed the topic');
	await admin.disconnect();
	console.log('PASS: kafkajs alter: alterConfigs (validateOnly, full replacement, ' +
		'UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG) and describeConfigs');
}

main().catch(e => fail(e.stack || String(e)));
