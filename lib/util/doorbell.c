/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Doorbell between data-path threads (see fmq_util.h). The protocol is
 * Dekker's: the sleeper publishes "asleep" then looks at its rings; the
 * sender publishes its ring entry then looks at "asleep". With a full fence
 * on each side at least one of them sees the other's store, so work is
 * never left on a ring while its owner sleeps out a whole timeout.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fmq_util.h"

int
fmq_doorbell_init(struct fmq_doorbell *db)
{
	db->asleep = 0;
	db->rung = 0;
	db->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return db->fd < 0 ? -errno : 0;
}

void
fmq_doorbell_fini(struct fmq_doorbell *db)
{
	if (db->fd >= 0)
		close(db->fd);
	db->fd = -1;
}

void
fmq_doorbell_signal(struct fmq_doorbell *db)
{
	uint64_t one = 1;
	ssize_t rc;

	__atomic_fetch_add(&db->rung, 1, __ATOMIC_RELAXED);
	/* EAGAIN only when the counter is near overflow: still readable. */
	rc = write(db->fd, &one, sizeof(one));
	(void)rc;
}

void
fmq_doorbell_disarm(struct fmq_doorbell *db, bool fired)
{
	uint64_t v;
	ssize_t rc;

	/* Flag already 0: a sender took it and wrote, or is about to; then
	 * the next sleep fires at once and that disarm reads it. */
	if (__atomic_exchange_n(&db->asleep, 0, __ATOMIC_ACQ_REL) == 0 ||
	    fired) {
		rc = read(db->fd, &v, sizeof(v));
		(void)rc;
	}
}
