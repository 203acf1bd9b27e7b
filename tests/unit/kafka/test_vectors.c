/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The captured client vectors (tests/vectors/kafka/README.md) and what each
 * must decode to. The generic test also re-encodes each and compares bytes.
 */
#include "kafka_test_vectors.h"

/* Byte `off` of a records field, across its pieces (-1 if beyond). */
static int
rec_byte(const struct fmq_kafka_records *r, uint32_t off)
{
	for (uint32_t i = 0; i < r->niov; i++) {
		if (off < r->iov[i].len)
			return ((const uint8_t *)r->iov[i].p)[off];
		off -= r->iov[i].len;
	}
	return -1;
}

/* A one-topic, one-partition produce of a magic-2 batch with attributes
 * (low byte) `codec` and `count` records. */
static bool
produce_batch(const struct fmq_kafka_produce_req *p, int16_t acks, int codec,
	      int count)
{
	const struct fmq_kafka_records *r;

	if (p->acks != acks || p->timeout_ms != 30000 ||
	    p->transactional_id.len != -1 || p->topic_data_count != 1 ||
	    !fmq_kafka_str_eq(p->topic_data[0].name, "capture") ||
	    p->topic_data[0].partition_data_count != 1 ||
	    p->topic_data[0].partition_data[0].index != 0)
		return false;
	r = &p->topic_data[0].partition_data[0].records;
	/* magic at 16, attributes at 21-22, record count at 57-60 */
	return r->len > 61 && rec_byte(r, 16) == 2 &&
	       (rec_byte(r, 22) & 7) == codec && rec_byte(r, 60) == count &&
	       rec_byte(r, 57) == 0;
}

static bool
chk_rd_av3(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_api_versions_req *r = b;

	return h->version == 2 && fmq_kafka_str_eq(h->client_id, "rdkafka") &&
	       fmq_kafka_str_eq(r->client_software_name, "librdkafka") &&
	       fmq_kafka_str_eq(r->client_software_version, "2.0.2");
}

static bool
chk_rd_av0(const struct fmq_kafka_req_hdr *h, const void *b)
{
	(void)b;
	return h->version == 1 && fmq_kafka_str_eq(h->client_id, "rdkafka");
}

static bool
chk_md_none(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_metadata_req *r = b;

	(void)h;
	return r->topics_count == 0 && !r->allow_auto_topic_creation;
}

static bool
chk_md_all(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_metadata_req *r = b;

	(void)h;
	/* null = every topic; v0 has no auto-create field (default true) */
	return r->topics_count == -1 && r->allow_auto_topic_creation;
}

static bool
chk_md_kp_v0(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_metadata_req *r = b;

	(void)h;
	/* v0: an empty list means every topic */
	return r->topics_count == 0 && r->allow_auto_topic_creation;
}

static bool
chk_md_topic(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_metadata_req *r = b;

	(void)h;
	return r->topics_count == 1 &&
	       fmq_kafka_str_eq(r->topics[0].name, "capture");
}

static bool
chk_ipid(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_init_producer_id_req *r = b;

	return h->version == 2 && r->transactional_id.len == -1 &&
	       r->producer_id == -1 && r->producer_epoch == -1;
}

static bool
chk_rd_produce(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_produce_req *p = b;
	const struct fmq_kafka_records *r;

	(void)h;
	if (!produce_batch(p, -1, 0, 2))
		return false;
	/* idempotent: producer id 1000 (from our InitProducerId answer) */
	r = &p->topic_data[0].partition_data[0].records;
	return rec_byte(r, 43) == 0 && rec_byte(r, 49) == 0x03 &&
	       rec_byte(r, 50) == 0xe8;
}

static bool
chk_rd_gzip(const struct fmq_kafka_req_hdr *h, const void *b)
{
	(void)h;
	return produce_batch(b, -1, 1, 20);
}

static bool
chk_rd_lz4(const struct fmq_kafka_req_hdr *h, const void *b)
{
	(void)h;
	return produce_batch(b, -1, 3, 20);
}

static bool
chk_kp_produce(const struct fmq_kafka_req_hdr *h, const void *b)
{
	(void)h;
	return produce_batch(b, 1, 0, 1);
}

static bool
chk_lo(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_list_offsets_req *r = b;

	(void)h;
	return r->replica_id == -1 && r->topics_count == 1 &&
	       fmq_kafka_str_eq(r->topics[0].name, "capture") &&
	       r->topics[0].partitions_count == 1 &&
	       r->topics[0].partitions[0].timestamp == -2;  /* earliest */
}

static bool
chk_fetch(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_fetch_req *r = b;

	(void)h;
	return r->replica_id == -1 && r->max_wait_ms == 500 &&
	       r->min_bytes == 1 && r->topics_count == 1 &&
	       fmq_kafka_str_eq(r->topics[0].topic, "capture") &&
	       r->topics[0].partitions_count == 1 &&
	       r->topics[0].partitions[0].fetch_offset == 0;
}

static bool
chk_fc(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_find_coordinator_req *r = b;

	(void)h;
	return fmq_kafka_str_eq(r->key, "fmq-capture-group") &&
	       r->key_type == 0;
}

static bool
chk_jg(const struct fmq_kafka_req_hdr *h, const void *b)
{
	const struct fmq_kafka_join_group_req *r = b;

	(void)h;
	return fmq_kafka_str_eq(r->group_id, "fmq-capture-group") &&
	       fmq_kafka_str_eq(r->protocol_type, "consumer") &&
	       r->member_id.len == 0 && r->protocols_count >= 1 &&
	       r->rebalance_timeout_ms == 300000 &&
	       r->protocols[0].metadata.len > 0;
}

const struct kt_vector kt_vectors[] = {
	{ "rdkafka_apiversions_v3.bin", 18, 3, chk_rd_av3 },
	{ "rdkafka_apiversions_v0.bin", 18, 0, chk_rd_av0 },
	{ "rdkafka_metadata_v4_brokers.bin", 3, 4, chk_md_none },
	{ "rdkafka_metadata_v4_all.bin", 3, 4, chk_md_all },
	{ "rdkafka_metadata_v4_topic.bin", 3, 4, chk_md_topic },
	{ "rdkafka_initproducerid_v4.bin", 22, 4, chk_ipid },
	{ "rdkafka_produce_v7_idempotent.bin", 0, 7, chk_rd_produce },
	{ "rdkafka_produce_v7_gzip.bin", 0, 7, chk_rd_gzip },
	{ "rdkafka_produce_v7_lz4.bin", 0, 7, chk_rd_lz4 },
	{ "rdkafka_listoffsets_v2.bin", 2, 2, chk_lo },
	{ "rdkafka_fetch_v11.bin", 1, 11, chk_fetch },
	{ "rdkafka_findcoordinator_v2.bin", 10, 2, chk_fc },
	{ "rdkafka_joingroup_v5.bin", 11, 5, chk_jg },
	{ "kafkapython_apiversions_v0.bin", 18, 0, NULL },
	{ "kafkapython_metadata_v0.bin", 3, 0, chk_md_kp_v0 },
	{ "kafkapython_metadata_v1.bin", 3, 1, chk_md_all },
	{ "kafkapython_metadata_v1_topic.bin", 3, 1, chk_md_topic },
	{ "kafkapython_produce_v7.bin", 0, 7, chk_kp_produce },
	{ "kafkapython_fetch_v4.bin", 1, 4, chk_fetch },
	{ "kafkapython_findcoordinator_v0.bin", 10, 0, chk_fc },
	{ "kafkapython_joingroup_v2.bin", 11, 2, chk_jg },
};
const size_t kt_nvectors = sizeof(kt_vectors) / sizeof(kt_vectors[0]);
