// SPDX-License-Identifier: Apache-2.0
// KafkaJS over TLS: node kafkajs_tls.js HOST:PORT CA TOPIC N [CERT KEY]
// N records out, the same N read back by a group consumer; exit 1 otherwise.
// With CERT and KEY the client presents that certificate (mTLS).
const fs = require('fs');
const path = require('path');
const { Kafka, logLevel } = require(path.join(__dirname, '..', 'node',
	'node_modules', 'kafkajs'));

const [broker, ca, topic, nstr, cert, key] = process.argv.slice(2);
const n = parseInt(nstr, 10);

async function main() {
	const ssl = { ca: [fs.readFileSync(ca, 'utf8')] };
	if (cert) {
		ssl.cert = fs.readFileSync(cert, 'utf8');
		ssl.key = fs.readFileSync(key, 'utf8');
	}
	const kafka = new Kafka({ clientId: 'kafkajs-tls', brokers: [broker],
		ssl, logLevel: logLevel.ERROR });
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
