/* server.c - threaded FastCGI accept loop with sigwait-driven shutdown. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

/* FastCGI servers hand the listening socket over as fd 0 */
#define LISTEN_FD 0
#include "xalloc.h"
#include "banned.h"

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stopping;
static bool unix_listen;
static char pidfile_path[4096];

void server_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	/* a client that left shows as a failed write, not a signal */
	signal(SIGPIPE, SIG_IGN);
}

void server_write_pidfile(const char *name)
{
	const char *dir = getenv("CAPTURE_RUN");
	FILE *f;

	if (!dir || !*dir)
		return;
	snprintf(pidfile_path, sizeof(pidfile_path), "%s/%s.pid", dir, name);
	f = fopen(pidfile_path, "w");
	if (!f) {
		log_warn("cannot write %s: %s", pidfile_path, strerror(errno));
		pidfile_path[0] = '\0';
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

bool server_stopping(void)
{
	return stopping != 0;
}

static bool listens_on_unix(void)
{
	struct sockaddr_storage a;
	socklen_t n = sizeof(a);

	return getsockname(LISTEN_FD, (struct sockaddr *)&a, &n) == 0 && a.ss_family == AF_UNIX;
}

/* libfcgi closes a connection lingering: shutdown, then poll and read
 * until the front server closes, lest TCP answer its late bytes with a
 * reset that discards the response. A Unix socket has no such reset once
 * everything sent to us was read, as it is when the request body was read
 * to its end: then close at once (the linger cost each request a poll, a
 * read and two wake-ups). */
void server_finish(FCGX_Request *req)
{
	/* an error also marks the stream as ended: only a clean end counts */
	req->detached = unix_listen && req->in && FCGX_HasSeenEOF(req->in) &&
			!FCGX_GetError(req->in);
	FCGX_Finish_r(req);
}

struct worker {
	struct server *s;
	pthread_t tid;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct server *s = w->s;
	void *ctx = s->thread_init ? s->thread_init(s->app) : NULL;
	FCGX_Request req;
	int rc;

	FCGX_InitRequest(&req, 0, 0);
	for (;;) {
		pthread_mutex_lock(&accept_lock);
		rc = stopping ? -1 : FCGX_Accept_r(&req);
		pthread_mutex_unlock(&accept_lock);
		if (rc < 0)
			break;
		s->handle(&req, ctx, s->app);
		server_finish(&req);
	}
	FCGX_Free(&req, 1);
	if (s->thread_free)
		s->thread_free(ctx);
	return NULL;
}

static void wait_for_stop(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
		; /* lighttpd may forward HUP on log rotation: nothing to reopen */
	log_info("signal %d: stopping, finishing requests in progress", sig);
	stopping = 1;
	/* wakes every thread blocked in accept(); they see stopping and leave */
	shutdown(LISTEN_FD, SHUT_RDWR);
}

int server_run(struct server *s)
{
	struct worker *w;
	int i, started = 0, rc = -1;

	if (FCGX_Init() != 0 || FCGX_IsCGI()) {
		fprintf(stderr, "%s: run me under a FastCGI server (lighttpd), "
			"not from a shell\n", s->name);
		return -1;
	}
	/* FCGX_Init put a SIGPIPE handler of its own in place of our SIG_IGN.
	 * lighttpd often closes the connection as soon as it has a response's
	 * Content-Length worth of body, so the END_REQUEST write fails with
	 * EPIPE on most requests: one signal delivery each, for nothing. */
	signal(SIGPIPE, SIG_IGN);
	unix_listen = listens_on_unix();
	w = xcalloc((size_t)s->threads, sizeof(*w));
	for (i = 0; i < s->threads; i++) {
		w[i].s = s;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i])) {
			log_error("pthread_create: %s", strerror(errno));
			break;
		}
		started++;
	}
	if (started == s->threads) {
		log_info("serving with %d threads", started);
		rc = 0;
		wait_for_stop();
	} else {
		stopping = 1;
		shutdown(LISTEN_FD, SHUT_RDWR);
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	free(w);
	if (s->on_stop)
		s->on_stop(s->app);
	if (pidfile_path[0])
		unlink(pidfile_path);
	return rc;
}
