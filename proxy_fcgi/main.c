/* main.c - proxy_fcgi: the FastCGI program that forwards /v1/... and captures each call. */
#include <curl/curl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "checkconfig.h"
#include "forward.h"
#include "journal.h"
#include "log.h"
#include "maint.h"
#include "server.h"
#include "writer.h"
#include "xalloc.h"
#include "banned.h"

struct app {
	struct config cfg;
	char *instance;
	struct journal *journal;
	struct writer *writer;
	struct maint *maint;
};

struct worker {
	struct forward_ctx *fx;
	struct journal_file jf;
};

static void *thread_init(void *arg)
{
	struct worker *w = xcalloc(1, sizeof(*w));
	struct journal_file jf = JOURNAL_FILE_INIT;

	(void)arg;
	w->fx = forward_ctx_new();
	w->jf = jf;
	return w;
}

static void thread_free(void *ctx)
{
	struct worker *w = ctx;

	forward_ctx_free(w->fx);
	journal_file_release(&w->jf);
	free(w);
}

/* The capture is journaled before the front server hears that the response
 * is complete: once a client has its answer, a crash cannot lose the record. */
static void handle(FCGX_Request *req, void *ctx, void *arg)
{
	struct app *app = arg;
	struct worker *w = ctx;
	struct capture *c = forward_request(w->fx, req, &app->cfg);

	if (!c)
		return;
	c->instance = xstrdup(app->instance);
	capture_finish(c);
	journal_append(app->journal, &w->jf, c);
	server_finish(req);
	log_debug("%s %s %s -> %d %s %.1f ms", c->id, c->method, c->path, c->status,
		  capture_outcome_name(c->outcome), c->duration_ms);
	writer_push(app->writer, c);
}

static void on_stop(void *arg)
{
	struct app *app = arg;

	maint_stop(app->maint);
	writer_stop(app->writer);
	journal_close(app->journal);
}

static char *instance_name(const struct config *cfg)
{
	char host[256];

	if (*cfg->instance_name)
		return xstrdup(cfg->instance_name);
	if (gethostname(host, sizeof(host)) != 0)
		return xstrdup("proxy");
	host[sizeof(host) - 1] = '\0';
	return xstrdup(host);
}

/* glibc keeps up to 7 freed chunks of each small size per thread (tcache).
 * Once a capture backlog has drained, those of 30-odd threads pin pages
 * all over the heap: RSS stayed ~20 MB above where it started even after
 * malloc_trim, and came back to within 1 MB with the cache off, at no CPU
 * cost we could measure (see README, Performance). glibc reads the setting
 * only at start, from GLIBC_TUNABLES: so start again, once, with it set.
 * Skipped when the operator set it, and under valgrind (the new image
 * would run outside it). If exec fails we go on as we are. */
static void restart_without_tcache(char **argv)
{
	const char *t = getenv("GLIBC_TUNABLES"), *pre = getenv("LD_PRELOAD");
	struct buf v;

	if ((t && strstr(t, "glibc.malloc.tcache_count=")) || (pre && strstr(pre, "vgpreload")))
		return;
	buf_init(&v, BUF_NO_CAP);
	if (t && *t) {
		buf_adds(&v, t);
		buf_addch(&v, ':');
	}
	buf_adds(&v, "glibc.malloc.tcache_count=0");
	if (setenv("GLIBC_TUNABLES", v.data, 1) == 0)
		execv("/proc/self/exe", argv);
	buf_release(&v);
}

static int load_config(struct config *cfg)
{
	const char *path = getenv("CAPTURE_CONFIG");
	char err[1024];

	if (config_load(cfg, path && *path ? path : "config.env", path && *path,
			err, sizeof(err))) {
		log_error("configuration: %s", err);
		return -1;
	}
	if (!*cfg->database_url) {
		log_error("DATABASE_URL is empty: start through `make run`, which provides one");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct server srv = { 0 };
	struct app app = { 0 };
	int rc = 1;

	restart_without_tcache(argv);
	server_block_signals();
	/* big body buffers go back to the system when freed, instead of
	 * staying in each thread's heap: memory follows the cap, not history */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	mallopt(M_TOP_PAD, 0);
	if (argc > 1 && !strcmp(argv[1], "--check-config"))
		return checkconfig_main();
	if (argc > 1) {
		fprintf(stderr, "usage: proxy_fcgi [--check-config]\n"
			"Runs under lighttpd (see lighttpd.conf); start it with `make run`.\n");
		return 2;
	}
	log_init("proxy_fcgi", LOG_LEVEL_INFO);
	if (load_config(&app.cfg))
		goto out;
	log_init("proxy_fcgi", app.cfg.log_level);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	app.instance = instance_name(&app.cfg);
	app.journal = journal_open(app.cfg.spool_dir);
	app.writer = writer_start(&app.cfg, app.journal);
	app.maint = maint_start(&app.cfg);
	server_write_pidfile("proxy_fcgi");
	srv.name = "proxy_fcgi";
	srv.threads = app.cfg.proxy_threads;
	srv.thread_init = thread_init;
	srv.thread_free = thread_free;
	srv.handle = handle;
	srv.on_stop = on_stop;
	srv.app = &app;
	rc = server_run(&srv) ? 1 : 0;
	if (rc) {
		on_stop(&app);
	}
	curl_global_cleanup();
out:
	free(app.instance);
	config_release(&app.cfg);
	return rc;
}
