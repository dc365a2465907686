/* pages.c - the HTML shells of the main and detail pages.
 *
 * The pages are static files in www/ (read once at start); their scripts
 * fetch everything else from the JSON API. Served from here rather than as
 * static files so they carry the Content-Security-Policy and the Host check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"
#include "log.h"
#include "reply.h"
#include "uuid.h"
#include "xalloc.h"
#include "banned.h"

#define PAGE_MAX (1 << 20)

static const char fallback_html[] =
	"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<title>Capture dashboard</title></head><body>"
	"<p>The dashboard's page files (www/) were not found: see the server log.</p>"
	"</body></html>\n";

static const char not_found_html[] =
	"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	"<title>Not found - Capture dashboard</title>"
	"<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">"
	"<link rel=\"stylesheet\" href=\"/static/css/app.css\"></head>"
	"<body><main class=\"notfound\"><h1>404</h1><p>There is no page here.</p>"
	"<p><a href=\"/\">Back to the request list</a></p></main></body></html>\n";

static int load_file(const char *dir, const char *name, struct page *p)
{
	char path[4096];
	struct buf b;
	char chunk[8192];
	size_t n;
	FILE *f;
	int rc = -1;

	buf_init(&b, PAGE_MAX);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f) {
		log_error("cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	if (b.truncated || !b.len) {
		log_error("%s: empty or larger than %d bytes", path, PAGE_MAX);
		goto out;
	}
	p->html = buf_detach(&b, &p->len);
	rc = 0;
out:
	buf_release(&b);
	return rc;
}

int pages_load(struct app *app, const char *www_dir)
{
	int rc = 0;

	if (load_file(www_dir, "index.html", &app->index) < 0)
		rc = -1;
	if (load_file(www_dir, "request.html", &app->detail) < 0)
		rc = -1;
	return rc;
}

void pages_release(struct app *app)
{
	free(app->index.html);
	free(app->detail.html);
	app->index.html = app->detail.html = NULL;
}

static void send_page(struct req *r, int status, const struct page *p)
{
	reply_start(r, status, "text/html; charset=utf-8", REPLY_NO_CACHE, NULL);
	if (p->html)
		reply_write(r, p->html, p->len);
	else
		reply_write(r, fallback_html, sizeof(fallback_html) - 1);
}

void page_index(struct req *r)
{
	send_page(r, 200, &r->app->index);
}

void page_request(struct req *r)
{
	send_page(r, 200, &r->app->detail);
}

void page_not_found(struct req *r)
{
	reply_start(r, 404, "text/html; charset=utf-8", REPLY_NO_CACHE, NULL);
	reply_write(r, not_found_html, sizeof(not_found_html) - 1);
}
