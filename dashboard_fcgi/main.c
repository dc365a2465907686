/* main.c - dashboard_fcgi: the web dashboard and its JSON API over the captures.
 *
 * lighttpd spawns it on the WEB_PORT listener and hands it every request
 * except those under /static/. DASHBOARD_THREADS (dashboard.h) threads serve requests, each with its
 * own read-only PostgreSQL session. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "dashboard.h"
#include "hostcheck.h"
#include "log.h"
#include "pg.h"
#include "reply.h"
#include "route.h"
#include "server.h"
#include "xalloc.h"
#include "banned.h"

static void *thread_init(void *app)
{
	struct ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->app = app;
	/* not fatal: each request tries again and answers 503 meanwhile */
	pg_ready(ctx);
	return ctx;
}

static void thread_free(void *p)
{
	struct ctx *ctx = p;

	if (ctx) {
		PQfinish(ctx->conn);
		PQfinish(ctx->wconn);
	}
	free(ctx);
}

static void handle(FCGX_Request *fr, void *ctx, void *app)
{
	const char *uri = FCGX_GetParam("REQUEST_URI", fr->envp);
	const char *method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	const char *q;
	struct req r = { .fcgi = fr, .ctx = ctx, .app = app };
	struct timespec t0, t1;

	if (!uri || !*uri)
		uri = "/";
	q = strchr(uri, '?');
	r.path = q ? xmemdupz(uri, (size_t)(q - uri)) : xstrdup(uri);
	r.query = q ? q + 1 : "";
	r.method = method ? method : "GET";
	clock_gettime(CLOCK_MONOTONIC, &t0);
	route(&r);
	if (!r.replied)
		reply_error(&r, 500, "server_error", "internal_error", "no answer was produced");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_debug("%s %s %d %.1f ms", r.method, r.path, r.status,
		  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	/* frees the parameters r.method points into */
	server_finish(fr);
	free(r.path);
}

/* www/ of the install: $CAPTURE_ROOT/www, else ../www beside the binary. */
static void www_dir(char *out, size_t outlen)
{
	const char *root = getenv("CAPTURE_ROOT");
	char exe[PATH_MAX];
	ssize_t n;

	if (root && *root) {
		snprintf(out, outlen, "%s/www", root);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(out, outlen, "%s/../www", n > 0 ? dirname(exe) : ".");
}

static int setup(struct app *app)
{
	char err[512], www[PATH_MAX + 8];
	int rc = -1;

	if (config_load(&app->cfg, getenv("CAPTURE_CONFIG"), false, err, sizeof(err)) < 0) {
		fprintf(stderr, "dashboard_fcgi: %s\n", err);
		goto out;
	}
	log_init("dashboard_fcgi", (enum log_level)app->cfg.log_level);
	app->db_url = *app->cfg.dashboard_database_url ? app->cfg.dashboard_database_url :
		      app->cfg.database_url;
	if (!*app->db_url)
		log_error("neither DASHBOARD_DATABASE_URL nor DATABASE_URL is set: "
			  "the API will answer 503");
	app->loopback_only = addr_is_loopback(app->cfg.web_host);
	www_dir(www, sizeof(www));
	if (pages_load(app, www) < 0)
		log_error("page files missing under %s: pages show a notice", www);
	rc = 0;
out:
	return rc;
}

int main(void)
{
	struct app app;
	struct server s = {
		.name = "dashboard_fcgi",
		.threads = DASHBOARD_THREADS,
		.thread_init = thread_init,
		.thread_free = thread_free,
		.handle = handle,
		.app = &app,
	};
	int rc = 1;

	server_block_signals();
	memset(&app, 0, sizeof(app));
	if (setup(&app) < 0)
		goto out;
	server_write_pidfile("dashboard_fcgi");
	rc = server_run(&s) < 0 ? 1 : 0;
out:
	pages_release(&app);
	config_release(&app.cfg);
	return rc;
}
