/* forward.h - relays one FastCGI request to the upstream API and back.
 *
 * Each worker thread owns a forward_ctx: one curl handle whose connections
 * to the upstream are kept alive between requests. */
#ifndef FORWARD_H
#define FORWARD_H

#include <fcgiapp.h>

#include "capture.h"
#include "config.h"

struct forward_ctx;

struct forward_ctx *forward_ctx_new(void);
/* NULL is fine. */
void forward_ctx_free(struct forward_ctx *fx);

/* Serves req: forwards /v1/... to cfg->openai_api_base and streams the
 * response back (each SSE chunk flushed as it comes, the rest flushed at the
 * end); anything else gets a 404. The caller ends req (FCGX_Finish_r) after
 * it has made the capture safe. Returns the capture, not yet finished
 * (capture_finish), which the caller owns; NULL for requests that are not
 * captured (paths outside /v1/). Never touches the database. */
struct capture *forward_request(struct forward_ctx *fx, FCGX_Request *req,
				const struct config *cfg);

#endif
