/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition from registered render callbacks. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fmq_util.h"

struct source {
	fmq_metrics_fn fn;
	void *arg;
};

struct fmq_metrics {
	struct source *src;
	size_t n, cap;
};

struct fmq_metrics_out {
	char *buf;
	size_t len, cap;
	bool oom;
};

struct fmq_metrics *
fmq_metrics_create(void)
{
	return calloc(1, sizeof(struct fmq_metrics));
}

void
fmq_metrics_free(struct fmq_metrics *reg)
{
	if (reg == NULL)
		return;
	free(reg->src);
	free(reg);
}

int
fmq_metrics_register(struct fmq_metrics *reg, fmq_metrics_fn fn, void *arg)
{
	if (reg->n == reg->cap) {
		size_t cap = reg->cap ? reg->cap * 2 : 16;
		struct source *s = realloc(reg->src, cap * sizeof(*s));
		if (s == NULL)
			return -ENOMEM;
		reg->src = s;
		reg->cap = cap;
	}
	reg->src[reg->n].fn = fn;
	reg->src[reg->n].arg = arg;
	reg->n++;
	return 0;
}

static void
out_printf(struct fmq_metrics_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
out_printf(struct fmq_metrics_out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->oom)
		return;
	for (;;) {
		size_t room = o->cap - o->len;
		va_start(ap, fmt);
		int n = vsnprintf(o->buf + o->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < room) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap * 2 + (size_t)n;
		char *b = realloc(o->buf, cap);
		if (b == NULL) {
			o->oom = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

void
fmq_metrics_family(struct fmq_metrics_out *out, const char *name,
		   const char *type, const char *help)
{
	out_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
fmq_metrics_u64(struct fmq_metrics_out *out, const char *name,
		const char *labels, uint64_t v)
{
	if (labels != NULL && labels[0] != '\0')
		out_printf(out, "%s{%s} %" PRIu64 "\n", name, labels, v);
	else
		out_printf(out, "%s %" PRIu64 "\n", name, v);
}

void
fmq_metrics_f64(struct fmq_metrics_out *out, const char *name,
		const char *labels, double v)
{
	if (labels != NULL && labels[0] != '\0')
		out_printf(out, "%s{%s} %.9g\n", name, labels, v);
	else
		out_printf(out, "%s %.9g\n", name, v);
}

void
fmq_metrics_one(struct fmq_metrics_out *out, const char *name,
		const char *type, const char *help, uint64_t v)
{
	fmq_metrics_family(out, name, type, help);
	fmq_metrics_u64(out, name, NULL, v);
}

static uint64_t
def_get(const struct fmq_metric_def *d, const void *base)
{
	const char *p = (const char *)base + d->off;
	uint64_t v;
	uint32_t v32;

	if (d->size == sizeof(v32)) {
		memcpy(&v32, p, sizeof(v32));
		return v32;
	}
	memcpy(&v, p, sizeof(v));
	return v;
}

void
fmq_metrics_table(struct fmq_metrics_out *out, const struct fmq_metric_def *d,
		  size_t n, const void *base)
{
	for (size_t i = 0; i < n; i++)
		fmq_metrics_one(out, d[i].name, d[i].type, d[i].help,
				def_get(&d[i], base));
}

void
fmq_metrics_table_each(struct fmq_metrics_out *out,
		       const struct fmq_metric_def *d, size_t n,
		       const void *const *bases, unsigned int nbase,
		       const char *label)
{
	char lbl[64];

	for (size_t i = 0; i < n; i++) {
		fmq_metrics_family(out, d[i].name, d[i].type, d[i].help);
		for (unsigned int j = 0; j < nbase; j++) {
			if (bases[j] == NULL)
				continue;
			snprintf(lbl, sizeof(lbl), "%s=\"%u\"", label, j);
			fmq_metrics_u64(out, d[i].name, lbl,
					def_get(&d[i], bases[j]));
		}
	}
}

char *
fmq_metrics_render(struct fmq_metrics *reg, size_t *len)
{
	struct fmq_metrics_out o = { .cap = 16384 };

	o.buf = malloc(o.cap);
	if (o.buf == NULL)
		return NULL;
	o.buf[0] = '\0';
	for (size_t i = 0; i < reg->n; i++)
		reg->src[i].fn(&o, reg->src[i].arg);
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
