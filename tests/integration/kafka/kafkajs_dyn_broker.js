// SPDX-License-Identifier: Apache-2.0
// KafkaJS 2.2.4 admin.alterConfigs on a BROKER resource (dynamic broker
// configs), for test_dynamic_broker_configs.sh.
//
//   node kafkajs_dyn_broker.js BROKER
//
// Sets message.max.bytes=3000 on broker "1" (AlterConfigs replaces that
// broker's dynamic set); describeConfigs with synonyms shows it in force
// (DYNAMIC_BROKER_CONFIG, 2) over the file's or built-in value.
'use strict';
const path = require('path');
const { Kafka, logLevel, ConfigResourceTypes } =
	require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

const kafka = new Kafka({
	clientId: 'fluxmq-dyn', brokers: [process.argv[2]],
	logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 },
});

function fail(msg) {
	console.error(`FAIL: kafkajs dynamic broker config: ${msg}`);
	process.exit(1);
}

(async () => {
	const admin = kafka.admin();
	await admin.connect();
	await admin.alterConfigs({ validateOnly: false, resources: [{
		type: ConfigResourceTypes.BROKER, name: '1',
		configEntries: [{ name: 'message.max.bytes', value: '3000' }] }] });
	const dc = await admin.describeConfigs({ includeSynonyms: true,
		resources: [{ type: ConfigResourceTypes.BROKER, name: '1',
			configNames: ['message.max.bytes'] }] });
	const e = dc.resources[0].configEntries[0];
	if (e === undefined || e.configValue !== '3000' || e.readOnly ||
	    e.configSource !== 2)
		fail(`described ${JSON.stringify(e)}`);
	const syn = (e.configSynonyms || []).map((s) => s.configSource);
	if (syn[0] !== 2 || syn[syn.length - 1] !== 5)
		fail(`synonyms ${JSON.stringify(e.configSynonyms)}`);
	await admin.disconnect();
	console.log('PASS: KafkaJS alterConfigs message.max.bytes=3000 on ' +
		'broker 1 (DYNAMIC_BROKER_CONFIG, synonyms down to the default)');
})().catch((err) => fail(err.message));
