/* dashboard.h - what the dashboard's modules share: the program, a worker
 * thread's context and the request being served.
 *
 * One struct app lives for the whole process and is read-only once the
 * threads run. Each worker thread owns one struct ctx (its own PostgreSQL
 * connection, NULL while the database is unreachable). A struct req lives
 * for one request. */
#ifndef DASHBOARD_H
#define DASHBOARD_H

#include <fcgiapp.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"

#define DASHBOARD_THREADS 8

struct page {
	char *html;
	size_t len;
};

struct app {
	struct config cfg;
	const char *db_url;        /* DASHBOARD_DATABASE_URL or DATABASE_URL */
	struct page index;         /* www/index.html: the main page */
	struct page detail;        /* www/request.html: one capture */
	bool loopback_only;        /* WEB_HOST is a loopback address */
};

struct ctx {
	struct app *app;
	PGconn *conn;
	long timeout_ms;           /* conn's statement_timeout (pg.c) */
	PGconn *wconn;             /* to DATABASE_URL for writes, when reads go to a replica */
	time_t write_failed;       /* when a write last failed, monotonic s (none tried for a minute) */
};

struct req {
	FCGX_Request *fcgi;
	struct ctx *ctx;
	struct app *app;
	const char *method;
	bool head;                 /* HEAD: headers only */
	char *path;                /* REQUEST_URI before '?', owned */
	const char *query;         /* after '?', "" if none; points into REQUEST_URI */
	bool replied;              /* the status line went out */
	int status;                /* the status sent, for the log */
};

#endif
