#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""SASL clients for test_sec_sasl.sh (run with /usr/bin/python3).

  sasl_py.py confluent BROKER MECH USER PASSWORD TOPIC N   round trip
  sasl_py.py kafkapy   BROKER MECH USER PASSWORD TOPIC N   round trip
  sasl_py.py confluent-bad / kafkapy-bad BROKER MECH USER PASSWORD
                                                  authentication refused
  sasl_py.py unauth BROKER        Metadata before authenticating: closed
  sasl_py.py stall BROKER         SaslHandshake, then silence: closed
                                  10 to 13 s later
  sasl_py.py alter BROKER USER PASSWORD NEWUSER NEWPASSWORD MECH ITER
      PLAIN login (raw SaslHandshake v1 + SaslAuthenticate v0), then
      AlterUserScramCredentials (API 51) upserting NEWUSER, and bad
      requests checked for Kafka's errors; DescribeUserScramCredentials
      (API 50) shows the result.

MECH OAUTHBEARER uses an unsecured (alg none) token for USER. With
FMQ_SASL_CA set (a CA file), the clients speak SASL_SSL and check the
broker's certificate against it.
Exit status 0 when every check held; the reason on stderr otherwise.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time


CA = os.environ.get('FMQ_SASL_CA')


def fail(msg):
    sys.stderr.write('FAIL: %s\n' % msg)
    sys.exit(1)


def unsecured_jwt(user, life=3600):
    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(
            b'=').decode()
    now = int(time.time())
    return '%s.%s.' % (b64({'alg': 'none'}),
                       b64({'sub': user, 'iat': now, 'exp': now + life,
                            'scope': 'kafka'}))


# ------------------------------------------------------- confluent-kafka
def confluent_conf(broker, mech, user, pw):
    c = {'bootstrap.servers': broker, 'security.protocol': 'SASL_PLAINTEXT',
         'sasl.mechanisms': mech}
    if CA:
        c['security.protocol'] = 'SASL_SSL'
        c['ssl.ca.location'] = CA
    if mech == 'OAUTHBEARER':
        c['enable.sasl.oauthbearer.unsecure.jwt'] = True
        c['sasl.oauthbearer.config'] = 'principal=%s' % user
    else:
        c['sasl.username'] = user
        c['sasl.password'] = pw
    return c


def confluent_roundtrip(broker, mech, user, pw, topic, n):
    from confluent_kafka import Consumer, Producer
    p = Producer(dict(confluent_conf(broker, mech, user, pw),
                      **{'linger.ms': 5}))
    errs = []
    for i in range(n):
        p.produce(topic, value=b'v%d' % i,
                  on_delivery=lambda e, m: e and errs.append(e))
    left = p.flush(30)
    if left or errs:
        fail('confluent %s produce: %d left, errors %s' % (mech, left,
                                                           errs[:2]))
    c = Consumer(dict(confluent_conf(broker, mech, user, pw),
                      **{'group.id': 'g-' + topic,
                         'auto.offset.reset': 'earliest'}))
    c.subscribe([topic])
    got = set()
    end = time.time() + 40
    while len(got) < n and time.time() < end:
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        got.add(m.value())
    c.close()
    if len(got) != n:
        fail('confluent %s consumed %d of %d' % (mech, len(got), n))


def confluent_bad(broker, mech, user, pw):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient
    # (The broker's failure counter, checked by the test, tells that
    # the refusal was SASL's.)
    a = AdminClient(dict(confluent_conf(broker, mech, user, pw),
                         **{'log_level': 0}))
    try:
        a.list_topics(timeout=6)
    except KafkaException:
        return
    fail('confluent %s: wrong password accepted' % mech)


# ---------------------------------------------------------- kafka-python
class Token(object):
    def __init__(self, user):
        self.user = user

    def token(self):
        return unsecured_jwt(self.user)


def kafkapy_conf(broker, mech, user, pw):
    c = {'bootstrap_servers': broker, 'security_protocol': 'SASL_PLAINTEXT',
         'sasl_mechanism': mech, 'api_version_auto_timeout_ms': 10000}
    if CA:
        c['security_protocol'] = 'SASL_SSL'
        c['ssl_cafile'] = CA
    if mech == 'OAUTHBEARER':
        c['sasl_oauth_token_provider'] = Token(user)
    else:
        c['sasl_plain_username'] = user
        c['sasl_plain_password'] = pw
    return c


def kafkapy_roundtrip(broker, mech, user, pw, topic, n):
    from kafka import KafkaConsumer, KafkaProducer
    p = KafkaProducer(**kafkapy_conf(broker, mech, user, pw))
    fs = [p.send(topic, b'v%d' % i) for i in range(n)]
    for f in fs:
        f.get(timeout=30)
    p.close()
    c = KafkaConsumer(topic, auto_offset_reset='earliest',
                      consumer_timeout_ms=3000, group_id=None,
                      **kafkapy_conf(broker, mech, user, pw))
    got = set(m.value for m in c)
    c.close()
    if len(got) != n:
        fail('kafka-python %s consumed %d of %d' % (mech, len(got), n))


def kafkapy_bad(broker, mech, user, pw):
    from kafka import KafkaProducer
    from kafka.errors import KafkaError
    try:
        p = KafkaProducer(**dict(kafkapy_conf(broker, mech, user, pw),
                                 max_block_ms=5000))
        p.send('never', b'x').get(timeout=5)
    except (KafkaError, AssertionError) as e:
        return
    fail('kafka-python %s: wrong password accepted' % mech)


# -------------------------------------------------- raw protocol client
class Raw(object):
    def __init__(self, broker):
        h, p = broker.rsplit(':', 1)
        self.s = socket.create_connection((h, int(p)), timeout=10)
        self.corr = 0

    def recv_n(self, n):
        b = b''
        while len(b) < n:
            d = self.s.recv(n - len(b))
            if not d:
                return None
            b += d
        return b

    def request(self, api, ver, body, flexible=False):
        self.corr += 1
        cid = b'sasl-test'
        hdr = struct.pack('>hhih', api, ver, self.corr, len(cid)) + cid
        if flexible:
            hdr += b'\x00'
        msg = hdr + body
        self.s.sendall(struct.pack('>i', len(msg)) + msg)
        n = self.recv_n(4)
        if n is None:
            return None
        r = self.recv_n(struct.unpack('>i', n)[0])
        if r is None:
            return None
        corr = struct.unpack('>i', r[:4])[0]
        if corr != self.corr:
            fail('correlation id %d, want %d' % (corr, self.corr))
        return r[5:] if flexible else r[4:]

    def plain_login(self, user, pw):
        mech = b'PLAIN'
        r = self.request(17, 1, struct.pack('>h', len(mech)) + mech)
        if r is None or struct.unpack('>h', r[:2])[0] != 0:
            fail('SaslHandshake PLAIN refused')
        tok = b'\0' + user.encode() + b'\0' + pw.encode()
        r = self.request(36, 0, struct.pack('>i', len(tok)) + tok)
        if r is None or struct.unpack('>h', r[:2])[0] != 0:
            fail('PLAIN login of %s refused' % user)


def uvarint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(s):
    s = s.encode() if isinstance(s, str) else s
    return uvarint(len(s) + 1) + s


def carr(items):
    return uvarint(len(items) + 1) + b''.join(items)


def rd_uvarint(b, i):
    shift = n = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7f) << shift
        if not c & 0x80:
            return n, i
        shift += 7


def rd_cstr(b, i):
    n, i = rd_uvarint(b, i)
    if n == 0:
        return None, i
    return b[i:i + n - 1].decode(), i + n - 1


def alter(raw, dels, ups):
    """dels: [(name, mech)], ups: [(name, mech, iters, salt, salted)]"""
    body = carr([cstr(n) + struct.pack('>b', m) + b'\x00' for n, m in dels])
    body += carr([cstr(n) + struct.pack('>bi', m, it) + cstr(salt) +
                  cstr(sp) + b'\x00' for n, m, it, salt, sp in ups])
    body += b'\x00'
    r = raw.request(51, 0, body, flexible=True)
    if r is None:
        fail('AlterUserScramCredentials: connection closed')
    i = 4
    n, i = rd_uvarint(r, i)
    res = {}
    for _ in range(n - 1):
        user, i = rd_cstr(r, i)
        err = struct.unpack('>h', r[i:i + 2])[0]
        i += 2
        msg, i = rd_cstr(r, i)
        i += 1
        res[user] = (err, msg)
    return res


def describe(raw, users):
    body = carr([cstr(u) + b'\x00' for u in users]) if users is not None \
        else b'\x00'
    r = raw.request(50, 0, body + b'\x00', flexible=True)
    if r is None:
        fail('DescribeUserScramCredentials: connection closed')
    i = 4
    top = struct.unpack('>h', r[i:i + 2])[0]
    i += 2
    _, i = rd_cstr(r, i)
    n, i = rd_uvarint(r, i)
    res = {}
    for _ in range(n - 1):
        user, i = rd_cstr(r, i)
        err = struct.unpack('>h', r[i:i + 2])[0]
        i += 2
        _, i = rd_cstr(r, i)
        k, i = rd_uvarint(r, i)
        infos = []
        for _ in range(k - 1):
            m, it = struct.unpack('>bi', r[i:i + 5])
            i += 6
            infos.append((m, it))
        i += 1
        res[user] = (err, sorted(infos))
    return top, res


def scram_salted(mech, pw, salt, iters):
    h = 'sha256' if mech == 1 else 'sha512'
    return hashlib.pbkdf2_hmac(h, pw.encode(), salt, iters)


def cmd_alter(broker, user, pw, new, newpw, mech, iters):
    raw = Raw(broker)
    raw.plain_login(user, pw)
    m = 1 if mech == 'SCRAM-SHA-256' else 2
    salt = os.urandom(16)
    sp = scram_salted(m, newpw, salt, iters)
    res = alter(raw, [], [(new, m, iters, salt, sp)])
    if res.get(new, (None,))[0] != 0:
        fail('upsert %s: %s' % (new, res))
    # Kafka's errors: too few iterations, unknown mechanism, deleting a
    # missing credential, the same credential twice, an empty name.
    res = alter(raw, [('nobody', 1)],
                [('lowiter', 1, 1000, salt, sp), ('badmech', 7, 4096, salt,
                                                  sp),
                 ('twice', 1, 4096, salt, sp), ('twice', 1, 4096, salt, sp),
                 ('', 1, 4096, salt, sp)])
    want = {'nobody': 91, 'lowiter': 93, 'badmech': 33, 'twice': 92,
            '': 93}
    for u, e in want.items():
        if res.get(u, (None,))[0] != e:
            fail('alter %r: want error %d, got %s' % (u, e, res.get(u)))
    top, d = describe(raw, [new, 'nobody'])
    if top != 0 or d[new] != (0, [(m, iters)]) or d['nobody'][0] != 91:
        fail('describe: %s %s' % (top, d))
    top, d = describe(raw, None)
    if new not in d or user not in d:
        fail('describe all: %s' % d)
    print('alter/describe ok: %s' % sorted(d))


def cmd_unauth(broker):
    raw = Raw(broker)
    # Metadata v1, all topics, before any SaslHandshake.
    r = raw.request(3, 1, struct.pack('>i', -1))
    if r is not None:
        fail('unauthenticated Metadata answered')
    # ApiVersions is allowed first, then still no Metadata.
    raw = Raw(broker)
    r = raw.request(18, 0, b'')
    if r is None:
        fail('ApiVersions before authentication closed')
    r = raw.request(3, 1, struct.pack('>i', -1))
    if r is not None:
        fail('Metadata after ApiVersions answered')
    # An oversized pre-authentication request closes too.
    raw = Raw(broker)
    raw.s.sendall(struct.pack('>i', 600000) + b'\0' * 1024)
    try:
        d = raw.s.recv(10)
    except (ConnectionResetError, socket.timeout):
        d = b''
    if d:
        fail('oversized pre-authentication request answered')
    # kafka-python's legacy SaslHandshake v0 + raw PLAIN token, by hand.
    raw = Raw(broker)
    r = raw.request(17, 0, struct.pack('>h', 5) + b'PLAIN')
    if r is None or struct.unpack('>h', r[:2])[0] != 0:
        fail('SaslHandshake v0 PLAIN refused')
    tok = b'\0nobody\0pw'
    raw.s.sendall(struct.pack('>i', len(tok)) + tok)
    if raw.recv_n(4) is not None:
        fail('raw v0 token of an unknown user answered')
    # An unknown mechanism: error 33 with the enabled list.
    raw = Raw(broker)
    r = raw.request(17, 1, struct.pack('>h', 6) + b'GSSAPI')
    if r is None or struct.unpack('>h', r[:2])[0] != 33 or b'PLAIN' not in r:
        fail('SaslHandshake GSSAPI: want error 33 and the list, got %r' % r)
    print('unauthenticated requests closed')


def cmd_stall(broker):
    raw = Raw(broker)
    r = raw.request(17, 1, struct.pack('>h', 13) + b'SCRAM-SHA-256')
    if r is None or struct.unpack('>h', r[:2])[0] != 0:
        fail('SaslHandshake SCRAM-SHA-256 refused')
    t0 = time.time()
    raw.s.settimeout(20)
    try:
        d = raw.s.recv(1)
    except socket.timeout:
        fail('a stalled SASL exchange was still open after 20 s')
    except ConnectionResetError:
        d = b''
    dt = time.time() - t0
    if d or dt < 9.5 or dt > 13:
        fail('stalled exchange: got %r after %.1f s' % (d, dt))
    print('stalled exchange closed after %.1f s' % dt)


def main():
    a = sys.argv[1:]
    if not a:
        fail(__doc__)
    c = a[0]
    if c == 'confluent':
        confluent_roundtrip(a[1], a[2], a[3], a[4], a[5], int(a[6]))
    elif c == 'kafkapy':
        kafkapy_roundtrip(a[1], a[2], a[3], a[4], a[5], int(a[6]))
    elif c == 'confluent-bad':
        confluent_bad(a[1], a[2], a[3], a[4])
    elif c == 'kafkapy-bad':
        kafkapy_bad(a[1], a[2], a[3], a[4])
    elif c == 'stall':
        cmd_stall(a[1])
    elif c == 'unauth':
        cmd_unauth(a[1])
    elif c == 'alter':
        cmd_alter(a[1], a[2], a[3], a[4], a[5], a[6], int(a[7]))
    else:
        fail('unknown command %s' % c)


if __name__ == '__main__':
    main()
