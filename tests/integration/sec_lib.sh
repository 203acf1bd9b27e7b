# SPDX-License-Identifier: Apache-2.0
# Certificates for the security tests (TLS, SASL_SSL), made with the openssl
# CLI. Source after lib.sh. Every key is ECDSA P-256 (cheap handshakes);
# broker certificates carry subjectAltName=IP:$FMQ_IP because librdkafka
# and kafka-python check the broker's name against it.
#
#   fmq_sec_ca DIR                 DIR/ca.pem, DIR/ca.key: a test CA
#   fmq_sec_broker_cert DIR NAME   DIR/NAME.pem: key + certificate + CA
#                                  (ssl.keystore.location), signed by DIR's CA
#   fmq_sec_client_cert DIR NAME SUBJ
#                                  DIR/NAME.key, DIR/NAME.crt, signed by
#                                  DIR's CA, subject SUBJ ("/O=acme/CN=alice")
#   fmq_sec_certs DIR              all of the above: ca, broker, client
#                                  (CN=alice,OU=eng,O=acme)

fmq_sec_ca() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
		-subj "/O=FluxMQ test/CN=FluxMQ test CA" 2>/dev/null ||
		fail "openssl: test CA"
}

# _fmq_sec_sign DIR NAME SUBJ EXTFILE: DIR/NAME.key and DIR/NAME.crt.
_fmq_sec_sign() {
	local d=$1 n=$2 subj=$3 ext=$4
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/$n.key" -out "$d/$n.csr" -subj "$subj" 2>/dev/null ||
		fail "openssl: key and CSR for $n"
	openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -out "$d/$n.crt" -days 2 -extfile "$ext" \
		2>/dev/null || fail "openssl: sign $n"
	rm -f "$d/$n.csr"
}

fmq_sec_broker_cert() {
	local d=$1 n=$2
	printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' \
		"$FMQ_IP" >"$d/$n.ext"
	_fmq_sec_sign "$d" "$n" "/O=FluxMQ test/CN=$n" "$d/$n.ext"
	cat "$d/$n.key" "$d/$n.crt" "$d/ca.pem" >"$d/$n.pem.new"
	mv -f "$d/$n.pem.new" "$d/$n.pem"
}

fmq_sec_client_cert() {
	local d=$1 n=$2 subj=$3
	printf 'extendedKeyUsage=clientAuth\n' >"$d/$n.ext"
	_fmq_sec_sign "$d" "$n" "$subj" "$d/$n.ext"
}

fmq_sec_certs() {
	local d=$1
	fmq_sec_ca "$d"
	fmq_sec_broker_cert "$d" broker
	fmq_sec_client_cert "$d" client "/O=acme/OU=eng/CN=alice"
}
