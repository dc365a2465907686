/* reply.h - answering a request: status, headers, body, JSON errors.
 *
 * Every response carries the security headers (a strict Content-Security-
 * Policy, nosniff, no framing, no referrer) and a Cache-Control that fits.
 * Error bodies have one shape everywhere, OpenAI's:
 *   {"error": {"message": "...", "type": "...", "code": "..."}}
 * Messages never contain SQL or database text: that goes to the log. */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

#include "dashboard.h"

enum reply_cache {
	REPLY_NO_STORE,     /* API data and downloads */
	REPLY_NO_CACHE      /* HTML shells: revalidate every time */
};

/* Sends the status line and headers; extra is NULL or more header lines, each
 * ending in \r\n. Only the first call per request has an effect. */
void reply_start(struct req *r, int status, const char *content_type,
		 enum reply_cache cache, const char *extra);
/* Body bytes (dropped for HEAD). */
void reply_write(struct req *r, const void *p, size_t n);
/* A jw_sink_fn writing to the struct req in ctx. */
void reply_sink(void *req, const char *p, size_t n);

/* A JSON error answer. type is OpenAI's (invalid_request_error, not_found_error,
 * server_error, ...), code a short machine word. */
void reply_error(struct req *r, int status, const char *type, const char *code,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void reply_bad_request(struct req *r, const char *message);
void reply_not_found(struct req *r, const char *what);

#endif
