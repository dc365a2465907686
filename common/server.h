/* server.h - the FastCGI accept loop both programs run: N threads, clean stop.
 *
 * lighttpd gives each request its own FastCGI connection, so concurrency is
 * the number of threads. SIGTERM or SIGINT stops accepting (the listen socket
 * is shut down to wake threads blocked in accept), lets requests in progress
 * finish, runs on_stop, removes the pid file and returns. */
#ifndef SERVER_H
#define SERVER_H

#include <fcgiapp.h>
#include <stdbool.h>

struct server {
	const char *name;          /* program name, for logs and the pid file */
	int threads;
	/* Optional: makes a thread's context (a curl handle, a db connection). */
	void *(*thread_init)(void *app);
	void (*thread_free)(void *ctx);
	/* Serves one accepted request; must call server_finish itself (early, so
	 * lighttpd is answered before slow bookkeeping). */
	void (*handle)(FCGX_Request *req, void *ctx, void *app);
	/* Optional: runs once after the last request finished. */
	void (*on_stop)(void *app);
	void *app;
};

/* Blocks the stop signals in the calling thread (and so in every thread it
 * creates later): call it first in main, before any thread exists. */
void server_block_signals(void);
/* Writes getpid() to $CAPTURE_RUN/NAME.pid when CAPTURE_RUN is set. */
void server_write_pidfile(const char *name);
/* true once a stop signal arrived: long transfers check it to end early. */
bool server_stopping(void);
/* FCGX_Finish_r, closing the connection at once when lingering on it
 * serves nothing (a Unix socket, the request body read to its end). */
void server_finish(FCGX_Request *req);
/* Runs the accept loop until a stop signal; returns 0, or -1 if it could not
 * start (not under a FastCGI server, thread creation failed). */
int server_run(struct server *s);

#endif
