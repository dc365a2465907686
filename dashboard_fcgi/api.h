/* api.h - the JSON API and the pages, one function per endpoint.
 *
 * Each answers r completely, errors included (JSON errors for the /api/ paths).
 * They only read: every statement runs in a read-only session. */
#ifndef API_H
#define API_H

#include <stdbool.h>

#include "dashboard.h"

/* GET /api/requests: a filtered page of captures, newest first. */
void api_requests(struct req *r);
/* GET /api/request/{id}: one capture with headers, bodies and events. */
void api_request(struct req *r, const char *id);
/* GET /api/request/{id}/body/{request|response}: the stored body bytes. */
void api_request_body(struct req *r, const char *id, bool response);
/* GET /api/stats: totals, latency percentiles, per model, over time. */
void api_stats(struct req *r);
/* GET /api/export?format=jsonl|csv|har: the filtered captures as a
 * download, streamed (export.c). */
void api_export(struct req *r);
/* GET /api/info: what the pages need to know (proxy URL, page size). */
void api_info(struct req *r);

/* GET / and GET /request/{id}: the HTML shells (their script does the rest). */
void page_index(struct req *r);
void page_request(struct req *r);
/* Any other path outside /api/ and /static/. */
void page_not_found(struct req *r);
/* Reads www/index.html and www/request.html into app; -1 if missing. */
int pages_load(struct app *app, const char *www_dir);
void pages_release(struct app *app);

#endif
