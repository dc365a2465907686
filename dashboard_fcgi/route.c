/* route.c - dispatch on method and REQUEST_URI. */
#include <string.h>

#include "api.h"
#include "hostcheck.h"
#include "reply.h"
#include "route.h"
#include "uuid.h"
#include "banned.h"

/* If path is prefix followed by a UUID and then exactly rest, copies the
 * UUID into id. */
static bool match_id(const char *path, const char *prefix, const char *rest,
		     char id[UUID_STR_LEN + 1])
{
	size_t pn = strlen(prefix);

	if (strncmp(path, prefix, pn) || strlen(path + pn) < UUID_STR_LEN)
		return false;
	if (strcmp(path + pn + UUID_STR_LEN, rest))
		return false;
	memcpy(id, path + pn, UUID_STR_LEN);
	id[UUID_STR_LEN] = '\0';
	return true;
}

static void route_api(struct req *r)
{
	const char *p = r->path;
	char id[UUID_STR_LEN + 1];

	if (!strcmp(p, "/api/requests"))
		api_requests(r);
	else if (!strcmp(p, "/api/stats"))
		api_stats(r);
	else if (!strcmp(p, "/api/export"))
		api_export(r);
	else if (!strcmp(p, "/api/info"))
		api_info(r);
	else if (match_id(p, "/api/request/", "", id))
		api_request(r, id);
	else if (match_id(p, "/api/request/", "/body/request", id))
		api_request_body(r, id, false);
	else if (match_id(p, "/api/request/", "/body/response", id))
		api_request_body(r, id, true);
	else if (!strncmp(p, "/api/request/", 13) && !strchr(p + 13, '/'))
		reply_not_found(r, "no capture with this id (ids are UUIDs)");
	else
		reply_not_found(r, "no such API endpoint");
}

static void route_page(struct req *r)
{
	char id[UUID_STR_LEN + 1];

	if (!strcmp(r->path, "/") || !strcmp(r->path, "/index.html"))
		page_index(r);
	else if (match_id(r->path, "/request/", "", id) && uuid_valid(id))
		page_request(r);
	else
		page_not_found(r);
}

void route(struct req *r)
{
	bool get = !strcmp(r->method, "GET"), head = !strcmp(r->method, "HEAD");

	r->head = head;
	if (r->app->loopback_only &&
	    !host_is_loopback(FCGX_GetParam("HTTP_HOST", r->fcgi->envp))) {
		reply_error(r, 403, "permission_error", "host_not_allowed",
			    "the dashboard answers only to localhost, 127.0.0.1 and [::1] "
			    "while WEB_HOST is a loopback address");
	} else if (!get && !head) {
		reply_error(r, 405, "invalid_request_error", "method_not_allowed",
			    "only GET (and HEAD) are served here; the dashboard only reads");
	} else if (!strncmp(r->path, "/api/", 5) || !strcmp(r->path, "/api")) {
		route_api(r);
	} else {
		route_page(r);
	}
}
