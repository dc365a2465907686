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

/* Serves req: forwards /v1/... to cfg->openai_api_base, streams the response
 * back (each SSE chunk flushed as it comes) and finishes req. Anything else
 * gets a 404. Returns the finished capture (caller owns it), or NULL for
 * requests that are not captured (paths outside /v1/). Never fails the
 * client because of the database: nothing here touches it. */
struct capture *forward_request(struct forward_ctx *fx, FCGX_Request *req,
				const struct config *cfg);

#endif
