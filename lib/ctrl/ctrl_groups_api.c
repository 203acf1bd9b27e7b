/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the group API mapping lands: group requests are
 * refused by closing the connection (counted as malformed). */
#define FMQ_CTRL_INTERNAL
#include "ctrl_priv.h"

bool
ctrl_groups_handle(struct fmq_ctrl *c, struct fmq_bfwd *f,
		   const struct fmq_kafka_req_hdr *hdr, void *req)
{
	(void)c; (void)f; (void)hdr; (void)req;
	return false;
}

void ctrl_groups_emit(void *arg, uint64_t token,
		      const struct fmq_group_resp *resp);
void
ctrl_groups_emit(void *arg, uint64_t token, const struct fmq_group_resp *resp)
{
	(void)arg; (void)token; (void)resp;
}
