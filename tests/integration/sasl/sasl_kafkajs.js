// SPDX-License-Identifier: Apache-2.0
// KafkaJS 2.2.4 over SASL_PLAINTEXT (SASL_SSL with FMQ_SASL_CA, a CA
// file), for test_sec_sasl.sh and test_sec_sasl_ssl.sh.
//
//   node sasl_kafkajs.js BROKER MECH USER PASSWORD TOPIC N [SECONDS]
//
// MECH: plain, scram-sha-256, scram-sha-512, oauthbearer (an unsecured
// token from oauthBearerProvider). Produces N messages and reads them
// back. With SECONDS, keeps one producer sending one message a second for
// that long (KafkaJS re-authenticates before session_lifetime_ms ends).
// A PASSWORD of "!bad" expects the login to be refused instead.
'use strict';
const fs = require('fs');
const path = require('path');
const { Kafka, logLevel } =
	require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

const [B, MECH, USER, PW, TOPIC, N, SECS] = process.argv.slice(2);
const n = Number(N || 0);

function jwt(user) {
	const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
	const now = Math.floor(Date.now() / 1000);
	return b64({ alg: 'none' }) + '.' +
		b64({ sub: user, iat: now, exp: now + 3600, scope: 'kafka' }) + '.';
}

const sasl = MECH === 'oauthbearer' ?
	{ mechanism: 'oauthbearer',
	  oauthBearerProvider: async () => ({ value: jwt(USER) }) } :
	{ mechanism: MECH, username: USER, password: PW === '!bad' ? 'wrong' : PW };
const kafka = new Kafka({ clientId: 'sasl-test', brokers: [B], sasl,
	ssl: process.env.FMQ_SASL_CA ?
		{ ca: [fs.readFileSync(process.env.FMQ_SASL_CA)] } : false,
	logLevel: logLevel.NOTHING, connectionTimeout: 5000,
	authenticationTimeout: 5000,
	retry: { retries: PW === '!bad' ? 0 : 5 } });

function die(msg) {
	console.error('FAIL: ' + msg);
	process.exit(1);
}

async function main() {
	if (PW === '!bad') {
		const a = kafka.admin();
		try {
			await a.connect();
			await a.listTopics();
		} catch (e) {
			if (/SASL|auth/i.test(String(e)))
				return;
			die('refused, but not by SASL: ' + e);
		}
		die('wrong password accepted');
	}
	const p = kafka.producer({ allowAutoTopicCreation: true });
	await p.connect();
	const msgs = [];
	for (let i = 0; i < n; i++)
		msgs.push({ value: 'v' + i });
	await p.send({ topic: TOPIC, messages: msgs, acks: -1 });
	if (SECS) {
		const end = Date.now() + Number(SECS) * 1000;
		while (Date.now() < end) {
			await p.send({ topic: TOPIC, messages: [{ value: 'r' }],
				       acks: -1 });
			await new Promise((r) => setTimeout(r, 500));
		}
	}
	await p.disconnect();
	const c = kafka.consumer({ groupId: 'g-' + TOPIC });
	await c.connect();
	await c.subscribe({ topic: TOPIC, fromBeginning: true });
	const got = new Set();
	await new Promise((resolve, reject) => {
		const t = setTimeout(() => reject(new Error('consumed ' +
			got.size + ' of ' + n)), 40000);
		c.run({ eachMessage: async ({ message }) => {
			const v = message.value.toString();
			if (v !== 'r')
				got.add(v);
			if (got.size === n) {
				clearTimeout(t);
				resolve();
			}
		} }).catch(reject);
	});
	await c.disconnect();
}

main().then(() => process.exit(0), (e) => die(String(e && e.stack || e)));
