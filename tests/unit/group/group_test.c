/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "group_test.h"

int64_t t_now;
struct fmq_group *t_co;
char t_dir[256];
struct fmq_group_conf t_conf;

#define MAX_CAPS 4096
static struct cap caps[MAX_CAPS];
static uint32_t n_caps;
static uint64_t next_token;
/* Tokens left unanswered by a simulated crash (never acknowledged). */
static uint64_t dropped[MAX_CAPS];
static uint32_t n_dropped;

static bool
was_dropped(uint64_t t)
{
	for (uint32_t i = 0; i < n_dropped; i++)
		if (dropped[i] == t)
			return true;
	return false;
}

static void
cpy(char *d, const char *p, int32_t len)
{
	if (len < 0 || p == NULL) {
		snprintf(d, CAP_STR, "<null>");
		return;
	}
	if (len >= CAP_STR)
		len = CAP_STR - 1;
	memcpy(d, p, (size_t)len);
	d[len] = '\0';
}

static void
emit_cb(void *arg, uint64_t token, const struct fmq_group_resp *r)
{
	struct cap *c;

	(void)arg;
	CU_ASSERT_FATAL(n_caps < MAX_CAPS);
	c = &caps[n_caps++];
	memset(c, 0, sizeof(*c));
	if ((r->api == FMQ_GROUP_OFFSET_FETCH && r->u.fetch.n_groups) ||
	    (r->api == FMQ_GROUP_LIST && r->u.list.n_groups) ||
	    (r->api == FMQ_GROUP_DESCRIBE && r->u.describe.n_groups)) {
		c->groups = calloc(CAP_N, sizeof(*c->groups));
		CU_ASSERT_PTR_NOT_NULL_FATAL(c->groups);
	}
	c->token = token;
	c->api = r->api;
	c->error = r->error;
	switch (r->api) {
	case FMQ_GROUP_JOIN: {
		const struct fmq_group_join_resp *j = &r->u.join;

		c->generation = j->generation_id;
		cpy(c->member_id, j->member_id.ptr, j->member_id.len);
		cpy(c->leader, j->leader.ptr, j->leader.len);
		cpy(c->protocol_type, j->protocol_type.ptr,
		    j->protocol_type.len);
		cpy(c->protocol_name, j->protocol_name.ptr,
		    j->protocol_name.len);
		c->skip_assignment = j->skip_assignment;
		c->n_members = j->n_members;
		for (uint32_t i = 0; i < j->n_members && i < CAP_N; i++)
			cpy(c->members[i], j->members[i].member_id.ptr,
			    j->members[i].member_id.len);
		break;
	}
	case FMQ_GROUP_SYNC:
		cpy(c->assignment, (const char *)r->u.sync.assignment.ptr,
		    r->u.sync.assignment.len);
		cpy(c->protocol_type, r->u.sync.protocol_type.ptr,
		    r->u.sync.protocol_type.len);
		cpy(c->protocol_name, r->u.sync.protocol_name.ptr,
		    r->u.sync.protocol_name.len);
		break;
	case FMQ_GROUP_LEAVE:
		c->n_items = r->u.leave.n_members;
		for (uint32_t i = 0; i < c->n_items && i < CAP_N; i++)
			c->item_errors[i] = r->u.leave.members[i].error;
		break;
	case FMQ_GROUP_OFFSET_COMMIT:
		c->n_items = r->u.commit.n_parts;
		for (uint32_t i = 0; i < c->n_items && i < CAP_N; i++)
			c->item_errors[i] = r->u.commit.parts[i].error;
		break;
	case FMQ_GROUP_DELETE:
		c->n_items = r->u.del.n_groups;
		for (uint32_t i = 0; i < c->n_items && i < CAP_N; i++)
			c->item_errors[i] = r->u.del.groups[i].error;
		break;
	case FMQ_GROUP_OFFSET_DELETE:
		c->n_items = r->u.offset_delete.n_parts;
		for (uint32_t i = 0; i < c->n_items && i < CAP_N; i++)
			c->item_errors[i] = r->u.offset_delete.parts[i].error;
		break;
	case FMQ_GROUP_OFFSET_FETCH:
		c->n_groups = r->u.fetch.n_groups;
		for (uint32_t g = 0; g < c->n_groups && g < CAP_N; g++) {
			const struct fmq_group_fetch_group_resp *fg =
				&r->u.fetch.groups[g];
			struct cap_group *cg = &c->groups[g];

			cpy(cg->id, fg->group_id.ptr, fg->group_id.len);
			cg->error = fg->error;
			cg->n_parts = fg->n_parts;
			for (uint32_t i = 0; i < fg->n_parts && i < CAP_N; i++) {
				const struct fmq_group_fetch_part *p =
					&fg->parts[i];

				cpy(cg->parts[i].topic, p->topic.ptr,
				    p->topic.len);
				cg->parts[i].partition = p->partition;
				cg->parts[i].offset = p->offset;
				cg->parts[i].leader_epoch = p->leader_epoch;
				cpy(cg->parts[i].metadata, p->metadata.ptr,
				    p->metadata.len);
				cg->parts[i].error = p->error;
			}
		}
		break;
	case FMQ_GROUP_LIST:
		c->n_groups = r->u.list.n_groups;
		for (uint32_t g = 0; g < c->n_groups && g < CAP_N; g++) {
			cpy(c->groups[g].id, r->u.list.groups[g].group_id.ptr,
			    r->u.list.groups[g].group_id.len);
			cpy(c->groups[g].state, r->u.list.groups[g].state.ptr,
			    r->u.list.groups[g].state.len);
			cpy(c->groups[g].protocol_type,
			    r->u.list.groups[g].protocol_type.ptr,
			    r->u.list.groups[g].protocol_type.len);
		}
		break;
	case FMQ_GROUP_DESCRIBE:
		c->n_groups = r->u.describe.n_groups;
		for (uint32_t g = 0; g < c->n_groups && g < CAP_N; g++) {
			const struct fmq_group_described *d =
				&r->u.describe.groups[g];
			struct cap_group *cg = &c->groups[g];

			cpy(cg->id, d->group_id.ptr, d->group_id.len);
			cg->error = d->error;
			cpy(cg->state, d->state.ptr, d->state.len);
			cpy(cg->protocol_type, d->protocol_type.ptr,
			    d->protocol_type.len);
			cpy(cg->protocol, d->protocol.ptr, d->protocol.len);
			cg->n_members = d->n_members;
			for (uint32_t i = 0; i < d->n_members && i < CAP_N;
			     i++) {
				cpy(cg->members[i], d->members[i].member_id.ptr,
				    d->members[i].member_id.len);
				cpy(cg->instances[i],
				    d->members[i].group_instance_id.ptr,
				    d->members[i].group_instance_id.len);
				cpy(cg->assignments[i],
				    (const char *)d->members[i].assignment.ptr,
				    d->members[i].assignment.len);
				cpy(cg->metadata[i],
				    (const char *)d->members[i].metadata.ptr,
				    d->members[i].metadata.len);
			}
		}
		break;
	case FMQ_GROUP_HEARTBEAT:
		break;
	}
}

uint64_t
t_token(void)
{
	return ++next_token;
}

uint32_t
t_count(uint64_t token)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < n_caps; i++)
		if (caps[i].token == token)
			n++;
	return n;
}

const struct cap *
t_resp(uint64_t token)
{
	const struct cap *found = NULL;

	for (uint32_t i = 0; i < n_caps; i++)
		if (caps[i].token == token)
			found = &caps[i];
	CU_ASSERT(t_count(token) <= 1);
	return found;
}

void
t_tick(int64_t advance_ms)
{
	t_now += advance_ms;
	fmq_group_tick(t_co, t_now);
}

void
t_open(void)
{
	struct fmq_group_params p;

	memset(&p, 0, sizeof(p));
	p.conf = t_conf;
	p.dir = t_dir;
	p.emit = emit_cb;
	p.store = t_store;
	p.store_arg = t_store_arg;
	t_co = fmq_group_create(&p, t_now);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t_co);
}

const struct fmq_group_store *t_store;
void *t_store_arg;

void
t_crash(void)
{
	for (uint64_t t = 1; t <= next_token; t++)
		if (t_count(t) == 0 && n_dropped < MAX_CAPS)
			dropped[n_dropped++] = t;
	fmq_group_destroy(t_co);
	t_co = NULL;
}

void
t_reopen(void)
{
	t_crash();
	t_open();
}

void
t_setup(void)
{
	snprintf(t_dir, sizeof(t_dir), "/tmp/fmq-group-test-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(t_dir));
	n_caps = 0;
	t_now = 1700000000000LL;
	fmq_group_conf_defaults(&t_conf);
	/* Most tests want the first rebalance to finish at the next tick. */
	t_conf.initial_rebalance_delay_ms = 0;
	t_open();
}

void
t_teardown(void)
{
	char path[512];
	DIR *d;
	struct dirent *de;

	if (t_co != NULL) {
		/* Answer everything still parked, then check that every
		 * token issued got exactly one response. */
		CU_ASSERT(fmq_group_shutdown(t_co, t_now) == 0);
		for (uint64_t t = 1; t <= next_token; t++) {
			uint32_t n = t_count(t);

			if (was_dropped(t)) {
				CU_ASSERT_EQUAL(n, 0);
				continue;
			}
			if (n != 1)
				fprintf(stderr, "token %lu answered %u times\n",
					(unsigned long)t, n);
			CU_ASSERT_EQUAL(n, 1);
		}
		fmq_group_destroy(t_co);
		t_co = NULL;
	}
	for (uint32_t i = 0; i < n_caps; i++)
		free(caps[i].groups);
	next_token = 0;
	n_caps = 0;
	n_dropped = 0;
	d = opendir(t_dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", t_dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(t_dir);
}

/* ------------------------------------------------------------------------
 * Request builders
 * ---------------------------------------------------------------------- */

static struct fmq_group_str
S(const char *s)
{
	if (s == NULL)
		return FMQ_GROUP_STR_NULL;
	return (struct fmq_group_str){ s, (int32_t)strlen(s) };
}

int
t_sub_meta(uint8_t *b, const char *topics)
{
	char tmp[512];
	int n = 0, cnt = 0;
	char *save, *t;
	uint8_t *cntp;

	b[n++] = 0;
	b[n++] = 0;     /* version 0 */
	cntp = b + n;
	n += 4;
	snprintf(tmp, sizeof(tmp), "%s", topics);
	for (t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t l = strlen(t);

		b[n++] = (uint8_t)(l >> 8);
		b[n++] = (uint8_t)l;
		memcpy(b + n, t, l);
		n += (int)l;
		cnt++;
	}
	cntp[0] = 0;
	cntp[1] = 0;
	cntp[2] = 0;
	cntp[3] = (uint8_t)cnt;
	/* user data: null */
	b[n++] = 0xff;
	b[n++] = 0xff;
	b[n++] = 0xff;
	b[n++] = 0xff;
	return n;
}

static uint64_t
join_raw(const char *gid, const char *mid, const char *iid, int16_t version,
	 const char *ptype, struct fmq_group_protocol *pr, uint32_t np,
	 int32_t session_ms, int32_t rebalance_ms)
{
	struct fmq_group_join_req req;
	uint64_t tok = t_token();

	memset(&req, 0, sizeof(req));
	req.version = version;
	req.group_id = S(gid);
	req.member_id = S(mid ? mid : "");
	req.group_instance_id = S(iid);
	req.client_id = S("client");
	req.client_host = S("/127.0.0.1");
	req.session_timeout_ms = session_ms;
	req.rebalance_timeout_ms = rebalance_ms;
	req.protocol_type = S(ptype);
	req.protocols = pr;
	req.n_protocols = np;
	CU_ASSERT(fmq_group_join(t_co, tok, &req, t_now) == 0);
	return tok;
}

uint64_t
t_join(const char *gid, const char *mid, const char *iid, int16_t version,
       const char *ptype, const char *protocols, int32_t session_ms,
       int32_t rebalance_ms)
{
	struct fmq_group_protocol pr[8];
	char tmp[512], *save, *t;
	uint32_t np = 0;

	snprintf(tmp, sizeof(tmp), "%s", protocols);
	for (t = strtok_r(tmp, ",", &save); t && np < 8;
	     t = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(t, ':');

		if (colon)
			*colon = '\0';
		pr[np].name = S(t);
		pr[np].metadata.ptr = (const uint8_t *)(colon ? colon + 1 : "");
		pr[np].metadata.len = colon ? (int32_t)strlen(colon + 1) : 0;
		np++;
	}
	return join_raw(gid, mid, iid, version, ptype, pr, np, session_ms,
			rebalance_ms);
}

uint64_t
t_join_consumer(const char *gid, const char *mid, const char *iid,
		int16_t version, const char *topics)
{
	uint8_t meta[512];
	struct fmq_group_protocol pr = { S("range"), { meta, 0 } };

	pr.metadata.len = t_sub_meta(meta, topics);
	return join_raw(gid, mid, iid, version, "consumer", &pr, 1, 10000,
			30000);
}

uint64_t
t_join_new(const char *gid, const char *protocols, char *mid_out)
{
	uint64_t tok = t_join(gid, "", NULL, 5, "consumer", protocols, 10000,
			      30000);
	const struct cap *c = t_resp(tok);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->error, FMQ_KERR_MEMBER_ID_REQUIRED);
	strcpy(mid_out, c->member_id);
	return t_join(gid, mid_out, NULL, 5, "consumer", protocols, 10000,
		      30000);
}

uint64_t
t_sync(const char *gid, const char *mid, const char *iid, int32_t gen,
       const char *assign)
{
	struct fmq_group_sync_req req;
	struct fmq_group_assignment as[CAP_N];
	char tmp[1024], *save, *t;
	uint32_t n = 0;
	uint64_t tok = t_token();

	memset(&req, 0, sizeof(req));
	req.group_id = S(gid);
	req.generation_id = gen;
	req.member_id = S(mid);
	req.group_instance_id = S(iid);
	req.protocol_type = FMQ_GROUP_STR_NULL;
	req.protocol_name = FMQ_GROUP_STR_NULL;
	if (assign != NULL) {
		snprintf(tmp, sizeof(tmp), "%s", assign);
		for (t = strtok_r(tmp, ";", &save); t && n < CAP_N;
		     t = strtok_r(NULL, ";", &save)) {
			char *eq = strchr(t, '=');

			*eq = '\0';
			as[n].member_id = S(t);
			as[n].assignment.ptr = (const uint8_t *)(eq + 1);
			as[n].assignment.len = (int32_t)strlen(eq + 1);
			n++;
		}
		req.assignments = as;
		req.n_assignments = n;
	}
	CU_ASSERT(fmq_group_sync(t_co, tok, &req, t_now) == 0);
	return tok;
}

uint64_t
t_heartbeat(const char *gid, const char *mid, const char *iid, int32_t gen)
{
	struct fmq_group_heartbeat_req req = {
		.group_id = S(gid), .generation_id = gen,
		.member_id = S(mid), .group_instance_id = S(iid),
	};
	uint64_t tok = t_token();

	CU_ASSERT(fmq_group_heartbeat(t_co, tok, &req, t_now) == 0);
	return tok;
}

uint64_t
t_leave(const char *gid, const char *members)
{
	struct fmq_group_leave_member lm[CAP_N];
	struct fmq_group_leave_req req;
	char tmp[1024];
	char *save, *t;
	uint32_t n = 0;
	uint64_t tok = t_token();

	snprintf(tmp, sizeof(tmp), "%s", members);
	for (t = strtok_r(tmp, ";", &save); t && n < CAP_N;
	     t = strtok_r(NULL, ";", &save)) {
		char *slash = strchr(t, '/');

		*slash = '\0';
		lm[n].member_id = S(t);
		lm[n].group_instance_id = strcmp(slash + 1, "-") == 0 ?
			FMQ_GROUP_STR_NULL : S(slash + 1);
		n++;
	}
	req.group_id = S(gid);
	req.members = lm;
	req.n_members = n;
	CU_ASSERT(fmq_group_leave(t_co, tok, &req, t_now) == 0);
	return tok;
}

static uint32_t
parse_tps(const char *parts, char names[][CAP_STR], int32_t *pp, int64_t *off)
{
	char tmp[1024], *save, *t;
	uint32_t n = 0;

	snprintf(tmp, sizeof(tmp), "%s", parts);
	for (t = strtok_r(tmp, ";", &save); t && n < CAP_N;
	     t = strtok_r(NULL, ";", &save)) {
		char *colon = strchr(t, ':');
		char *eq = strchr(t, '=');

		*colon = '\0';
		snprintf(names[n], CAP_STR, "%s", t);
		pp[n] = atoi(colon + 1);
		off[n] = eq ? atoll(eq + 1) : 0;
		n++;
	}
	return n;
}

uint64_t
t_commit(const char *gid, const char *mid, const char *iid, int32_t gen,
	 const char *parts)
{
	static char names[CAP_N][CAP_STR];
	struct fmq_group_commit_part cp[CAP_N];
	struct fmq_group_commit_req req;
	int32_t pp[CAP_N];
	int64_t off[CAP_N];
	uint32_t n = parse_tps(parts, names, pp, off);
	uint64_t tok = t_token();

	memset(cp, 0, sizeof(cp));
	for (uint32_t i = 0; i < n; i++) {
		cp[i].topic = S(names[i]);
		cp[i].partition = pp[i];
		cp[i].offset = off[i];
		cp[i].leader_epoch = 7;
		cp[i].metadata = S("md");
	}
	memset(&req, 0, sizeof(req));
	req.group_id = S(gid);
	req.generation_id = gen;
	req.member_id = S(mid ? mid : "");
	req.group_instance_id = S(iid);
	req.retention_ms = -1;
	req.commit_timestamp = -1;
	req.parts = cp;
	req.n_parts = n;
	CU_ASSERT(fmq_group_offset_commit(t_co, tok, &req, t_now) == 0);
	return tok;
}

uint64_t
t_fetch(const char *groups, const char *parts, bool stable)
{
	static char gnames[CAP_N][CAP_STR];
	static char names[CAP_N][CAP_STR];
	struct fmq_group_fetch_group fg[CAP_N];
	struct fmq_group_tp tps[CAP_N];
	struct fmq_group_fetch_req req;
	int32_t pp[CAP_N];
	int64_t off[CAP_N];
	uint32_t np = 0, ng = 0;
	char tmp[1024], *save, *t;
	uint64_t tok = t_token();

	if (parts != NULL) {
		np = parse_tps(parts, names, pp, off);
		for (uint32_t i = 0; i < np; i++) {
			tps[i].topic = S(names[i]);
			tps[i].partition = pp[i];
		}
	}
	snprintf(tmp, sizeof(tmp), "%s", groups);
	for (t = strtok_r(tmp, "|", &save); t && ng < CAP_N;
	     t = strtok_r(NULL, "|", &save)) {
		snprintf(gnames[ng], CAP_STR, "%s", t);
		fg[ng].group_id = S(gnames[ng]);
		fg[ng].parts = parts ? tps : NULL;
		fg[ng].n_parts = parts ? (int32_t)np : -1;
		ng++;
	}
	req.require_stable = stable;
	req.groups = fg;
	req.n_groups = ng;
	CU_ASSERT(fmq_group_offset_fetch(t_co, tok, &req, t_now) == 0);
	return tok;
}

int64_t
t_committed(const char *gid, const char *topic, int32_t p)
{
	char parts[256];
	const struct cap *c;

	snprintf(parts, sizeof(parts), "%s:%d", topic, p);
	c = t_resp(t_fetch(gid, parts, false));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->groups[0].error, 0);
	CU_ASSERT_EQUAL(c->groups[0].parts[0].error, 0);
	return c->groups[0].parts[0].offset;
}

static uint32_t
split_names(const char *s, char names[][CAP_STR], struct fmq_group_str *out)
{
	char tmp[1024], *save, *t;
	uint32_t n = 0;

	snprintf(tmp, sizeof(tmp), "%s", s);
	for (t = strtok_r(tmp, "|", &save); t && n < CAP_N;
	     t = strtok_r(NULL, "|", &save)) {
		snprintf(names[n], CAP_STR, "%s", t);
		out[n] = S(names[n]);
		n++;
	}
	return n;
}

uint64_t
t_list(const char *states)
{
	static char names[CAP_N][CAP_STR];
	struct fmq_group_str st[CAP_N];
	struct fmq_group_list_req req = { st, 0 };
	uint64_t tok = t_token();

	if (states != NULL)
		req.n_states = split_names(states, names, st);
	CU_ASSERT(fmq_group_list(t_co, tok, &req, t_now) == 0);
	return tok;
}

uint64_t
t_describe(const char *groups)
{
	static char names[CAP_N][CAP_STR];
	struct fmq_group_str ids[CAP_N];
	struct fmq_group_describe_req req = { 5, ids, 0 };
	uint64_t tok = t_token();

	req.n_groups = split_names(groups, names, ids);
	CU_ASSERT(fmq_group_describe(t_co, tok, &req, t_now) == 0);
	return tok;
}

uint64_t
t_delete(const char *groups)
{
	static char names[CAP_N][CAP_STR];
	struct fmq_group_str ids[CAP_N];
	struct fmq_group_delete_req req = { ids, 0 };
	uint64_t tok = t_token();

	req.n_groups = split_names(groups, names, ids);
	CU_ASSERT(fmq_group_delete(t_co, tok, &req, t_now) == 0);
	return tok;
}

uint64_t
t_offset_delete(const char *gid, const char *parts)
{
	static char names[CAP_N][CAP_STR];
	struct fmq_group_tp tps[CAP_N];
	struct fmq_group_offset_delete_req req;
	int32_t pp[CAP_N];
	int64_t off[CAP_N];
	uint32_t n = parse_tps(parts, names, pp, off);
	uint64_t tok = t_token();

	for (uint32_t i = 0; i < n; i++) {
		tps[i].topic = S(names[i]);
		tps[i].partition = pp[i];
	}
	req.group_id = S(gid);
	req.parts = tps;
	req.n_parts = n;
	CU_ASSERT(fmq_group_offset_delete(t_co, tok, &req, t_now) == 0);
	return tok;
}
