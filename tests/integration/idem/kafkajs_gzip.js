// SPDX-License-Identifier: Apache-2.0
// KafkaJS side of test_compression_clients.sh: gzip is the codec KafkaJS
// ships. "produce" reads {brokers, topics, records: [[key, value]...]} on
// stdin and sends the records gzip-compressed to every topic (partition 0);
// "consume" reads {brokers, topic, count} and prints [[key, value]...] of
// the first count records of partition 0.
'use strict';
const path = require('path');
const { Kafka, CompressionTypes, logLevel } =
  require(path.join(__dirname, '..', 'node', 'node_modules', 'kafkajs'));

async function main() {
  const mode = process.argv[2];
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const kafka = new Kafka({ clientId: 'fmq-cmx', brokers: input.brokers,
                            logLevel: logLevel.NOTHING });
  if (mode === 'produce') {
    const p = kafka.producer({ allowAutoTopicCreation: false });
    await p.connect();
    for (const t of input.topics) {
      await p.send({ topic: t, compression: CompressionTypes.GZIP, acks: -1,
                     messages: input.records.map(([k, v]) =>
                       ({ key: k, value: v, partition: 0 })) });
    }
    await p.disconnect();
    return;
  }
  const c = kafka.consumer({ groupId: 'fmq-cmx-kj-' + input.topic });
  const out = [];
  await c.connect();
  await c.subscribe({ topic: input.topic, fromBeginning: true });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      'timeout after ' + out.length + ' records')), 60000);
    c.run({ eachMessage: async ({ message }) => {
      if (out.length < input.count)
        out.push([message.key.toString(), message.value.toString()]);
      if (out.length === input.count) { clearTimeout(timer); resolve(); }
    } }).catch(reject);
  });
  await c.disconnect();
  // A pipe takes big writes asynchronously: exit only once it is flushed.
  await new Promise((resolve) => process.stdout.write(JSON.stringify(out),
                                                      resolve));
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
