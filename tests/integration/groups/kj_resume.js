// SPDX-License-Identifier: Apache-2.0
// KafkaJS group consumer: join, consume, commit, restart, resume.
//
//   node kj_resume.js BOOTSTRAP TOPIC GROUP FIRST TOTAL
//
// Run 1 joins GROUP, consumes about FIRST messages of TOPIC, commits each
// batch's offsets (commitOffsets, no auto-commit) and disconnects. Run 2, a
// new consumer in the same group, must start on each partition exactly at
// the committed offset and consume the rest: TOTAL messages over both runs,
// none twice, none missing. Values are "<partition>:<offset>". The
// committed offsets are also read back with admin.fetchOffsets, and the
// group must be listed and described by the admin client.
'use strict';
const path = require('path');
const { Kafka, logLevel } = require(path.join(__dirname, '..', 'node',
  'node_modules', 'kafkajs'));

const [bootstrap, topic, group, firstArg, totalArg] = process.argv.slice(2);
const FIRST = Number(firstArg);
const TOTAL = Number(totalArg);
const kafka = new Kafka({ clientId: 'kj-' + group, brokers: [bootstrap],
  logLevel: logLevel.WARN, retry: { retries: 8 } });

function die(msg) {
  console.error('FAIL: ' + msg);
  process.exit(1);
}

async function run(limit) {
  // Small fetches: the runs interleave the partitions and stop inside
  // them.
  const c = kafka.consumer({ groupId: group, sessionTimeout: 10000,
    heartbeatInterval: 1000, maxBytesPerPartition: 1024, maxBytes: 4096 });
  const got = [];
  const first = {};
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({
    autoCommit: false,
    eachBatch: async ({ batch, heartbeat }) => {
      if (got.length >= limit)
        return;
      for (const m of batch.messages) {
        if (!(batch.partition in first))
          first[batch.partition] = Number(m.offset);
        got.push([batch.partition, Number(m.offset), m.value.toString()]);
      }
      const next = Number(batch.messages[batch.messages.length - 1].offset) + 1;
      await c.commitOffsets([{ topic, partition: batch.partition,
        offset: String(next) }]);
      await heartbeat();
    },
  });
  const t0 = Date.now();
  while (got.length < limit && Date.now() - t0 < 60000)
    await new Promise((r) => setTimeout(r, 50));
  await c.disconnect();
  return { got, first };
}

(async () => {
  const r1 = await run(FIRST);
  if (r1.got.length < FIRST)
    die(`run 1 consumed ${r1.got.length} < ${FIRST}`);
  const admin = kafka.admin();
  await admin.connect();
  const offs = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const committed = {};
  for (const p of offs[0].partitions)
    committed[p.partition] = Number(p.offset);
  console.log(`run 1: ${r1.got.length} messages, committed ${JSON.stringify(committed)}`);
  const r2 = await run(TOTAL - r1.got.length);
  console.log(`run 2: ${r2.got.length} messages, first offsets ${JSON.stringify(r2.first)}`);
  for (const [p, off] of Object.entries(r2.first)) {
    if (committed[p] >= 0 && off !== committed[p])
      die(`partition ${p}: run 2 started at ${off}, committed ${committed[p]}`);
  }
  if (!Object.values(committed).some((o) => o > 0 && o < TOTAL / offs[0].partitions.length))
    die(`run 1 did not stop inside a partition: ${JSON.stringify(committed)}`);
  const seen = new Map();
  for (const [p, o, v] of r1.got.concat(r2.got)) {
    if (v !== `${p}:${o}`)
      die(`partition ${p} offset ${o} holds ${v}`);
    const k = `${p}:${o}`;
    seen.set(k, (seen.get(k) || 0) + 1);
  }
  const dups = [...seen].filter(([, n]) => n > 1);
  if (dups.length || seen.size !== TOTAL)
    die(`${seen.size} distinct of ${TOTAL}, ${dups.length} twice`);
  const listed = await admin.listGroups();
  if (!listed.groups.some((g) => g.groupId === group && g.protocolType === 'consumer'))
    die(`listGroups lacks ${group}: ${JSON.stringify(listed)}`);
  const d = await admin.describeGroups([group]);
  if (d.groups[0].state !== 'Empty' || d.groups[0].members.length !== 0)
    die(`describeGroups after both runs: ${JSON.stringify(d.groups[0])}`);
  await admin.disconnect();
  console.log(`kafkajs: ${r1.got.length} + ${r2.got.length} = ${TOTAL} messages, resumed at the committed offsets`);
})().catch((e) => die(e.stack || String(e)));
