// SPDX-License-Identifier: Apache-2.0
// KafkaJS over TLS: node kafkajs_tls.js HOST:PORT CA TOPIC N
// N records out, the same N read back by a group consumer; exit 1 otherwise.
const fs = require('fs');
const path = require('path');
const { Kafka, logLevel } = require(path.join(__dirname, '..', 'node',
	'node_modules', 'kafkajs'));

const [broker, ca, topic, nstr] = process.argv.slice(2);
const n = parseInt(nstr, 10);

async function main() {
	const kafka = new Kafka({ clientId: 'kafkajs-tls', brokers: [broker],
		ssl: { ca: [fs.readFileSync(ca, 'utf8')] },
		logLevel: logLevel.ERROR });
	const p = kafka.producer();
	await p.connect();
	const messages = [];
	for (let i = 0; i < n; i++)
		messages.push({ value: `kafkajs-${i}` });
	await p.send({ topic, messages });
	await p.disconnect();
	const c = kafka.consumer({ groupId: `tls-${topic}` });
	await c.connect();
	await c.subscribe({ topic, fromBeginning: true });
	const got = new Set();
	await new Promise((resolve, reject) => {
		const t = setTimeout(() => reject(new Error(
			`read ${got.size} of ${n} records back`)), 40000);
		c.run({ eachMessage: async ({ message }) => {
			got.add(message.value.toString());
			if (got.size === n) {
				clearTimeout(t);
				resolve();
			}
		} }).catch(reject);
	});
	await c.disconnect();
	console.log(`kafkajs: ${n} records out and back over TLS`);
}

main().then(() => process.exit(0), (e) => {
	console.error('kafkajs_tls:', e.message);
	process.exit(1);
});
