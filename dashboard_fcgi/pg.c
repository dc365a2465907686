/* pg.c - the dashboard's statements, connections and database errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "pg.h"
#include "reply.h"
#include "xalloc.h"
#include "banned.h"

void sqlq_init(struct sqlq *q)
{
	memset(q, 0, sizeof(*q));
	buf_init(&q->sql, BUF_NO_CAP);
}

int sqlq_param(struct sqlq *q, const char *value)
{
	if (q->n >= SQLQ_MAX_PARAMS) {
		/* a programming error: the builders never come near the limit */
		log_error("sqlq: more than %d parameters", SQLQ_MAX_PARAMS);
		abort();
	}
	q->values[q->n] = xstrdup(value);
	return ++q->n;
}

int sqlq_param_long(struct sqlq *q, long long v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%lld", v);
	return sqlq_param(q, tmp);
}

int sqlq_param_time(struct sqlq *q, long long us)
{
	long long s = us / 1000000, frac = us % 1000000;
	time_t t;
	struct tm tm;
	char tmp[48];

	if (frac < 0) {
		frac += 1000000;
		s--;
	}
	t = (time_t)s;
	/* a cursor can say any time: past the years a literal can spell, the
	 * infinities order the same way */
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999)
		return sqlq_param(q, us < 0 ? "-infinity" : "infinity");
	if (tm.tm_year + 1900 < 1)
		return sqlq_param(q, "-infinity");
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	return sqlq_param(q, tmp);
}

void sqlq_add(struct sqlq *q, const char *fmt, ...)
{
	char *text;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	text = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_add(&q->sql, text, (size_t)n);
	free(text);
}

void sqlq_release(struct sqlq *q)
{
	int i;

	for (i = 0; i < q->n; i++)
		free(q->values[i]);
	buf_release(&q->sql);
	q->n = 0;
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* jit: its compile time dwarfs the short queries served here; work_mem:
 * the latency percentiles sort one double per capture in memory;
 * client_min_messages: a search without words makes PostgreSQL send a
 * NOTICE, which libpq would print to the error log for every such search. */
static const char session_sql[] =
	"SET TimeZone = 'UTC'; "
	"SET client_min_messages = warning; "
	"SET default_transaction_read_only = on; "
	"SET statement_timeout = " STR(PG_STATEMENT_TIMEOUT_MS) "; "
	"SET jit = off; "
	"SET work_mem = '64MB'";

/* A search's matches are scattered table pages, which a bitmap scan then
 * asks the kernel for ahead of reading them (at a million captures, a
 * common word's cold matches took 7-10 instead of 10-13 us each). A server
 * without posix_fadvise refuses it: set apart, and only logged. */
static const char prefetch_sql[] = "SET effective_io_concurrency = 200";

static int session_setup(struct ctx *ctx)
{
	PGresult *res = PQexec(ctx->conn, session_sql);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;

	if (rc < 0)
		db_log_error("dashboard session setup", ctx->conn, res);
	ctx->timeout_ms = PG_STATEMENT_TIMEOUT_MS;
	PQclear(res);
	res = PQexec(ctx->conn, prefetch_sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		log_debug("%s: %s", prefetch_sql, PQerrorMessage(ctx->conn));
	PQclear(res);
	return rc;
}

int pg_ready(struct ctx *ctx)
{
	int rc = -1;

	if (ctx->conn && PQstatus(ctx->conn) == CONNECTION_OK) {
		rc = 0;
		goto out;
	}
	if (ctx->conn) {
		PQreset(ctx->conn);
		if (PQstatus(ctx->conn) != CONNECTION_OK) {
			db_log_error("reconnecting", ctx->conn, NULL);
			goto out;
		}
	} else {
		ctx->conn = db_connect(ctx->app->db_url, "dashboard_fcgi", 5);
		if (!ctx->conn)
			goto out;
	}
	rc = session_setup(ctx);
out:
	return rc;
}

/* The statement_timeout of r's connection, in whole seconds (at least 1). */
static long timeout_seconds(const struct req *r)
{
	long ms = r->ctx && r->ctx->timeout_ms > 0 ? r->ctx->timeout_ms : PG_STATEMENT_TIMEOUT_MS;

	return ms < 1000 ? 1 : ms / 1000;
}

void pg_fail(struct req *r, PGconn *conn, const PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	db_log_error(what, conn, res);
	if (state && !strcmp(state, "57014"))
		reply_error(r, 503, "server_error", "query_timeout",
			    "the query took longer than %ld s: narrow the time range or filters",
			    timeout_seconds(r));
	else if (!conn || PQstatus(conn) != CONNECTION_OK || (state && !strncmp(state, "08", 2)))
		reply_error(r, 503, "server_error", "database_unavailable",
			    "the database is unavailable; try again shortly");
	else
		reply_error(r, 500, "server_error", "internal_error",
			    "the query failed (details are in the server log)");
}

static bool ensure_conn(struct req *r)
{
	if (pg_ready(r->ctx) == 0)
		return true;
	reply_error(r, 503, "server_error", "database_unavailable",
		    "the database is unavailable; try again shortly");
	return false;
}

PGresult *pg_run(struct req *r, const struct sqlq *q, bool binary)
{
	PGresult *res = NULL;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (!ensure_conn(r))
			goto out;
		res = PQexecParams(r->ctx->conn, q->sql.data, q->n, NULL,
				   (const char *const *)q->values, NULL, NULL, binary ? 1 : 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			goto out;
		/* a connection that broke since the last request: one retry */
		if (PQstatus(r->ctx->conn) == CONNECTION_OK || attempt == 1)
			break;
		PQclear(res);
		res = NULL;
	}
	pg_fail(r, r->ctx->conn, res, "dashboard query");
	PQclear(res);
	res = NULL;
out:
	return res;
}

/* true when sql (a command) succeeded, else logs why. */
static bool exec_command(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		log_warn("dashboard write: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/* The connection for writes: the reading one, unless the reads go to
 * DASHBOARD_DATABASE_URL (a replica, maybe) and DATABASE_URL is known: then
 * one of its own. NULL when there is none. */
static PGconn *write_conn(struct ctx *ctx)
{
	const struct config *c = &ctx->app->cfg;

	if (!*c->dashboard_database_url || !*c->database_url ||
	    !strcmp(c->dashboard_database_url, c->database_url))
		return pg_ready(ctx) == 0 ? ctx->conn : NULL;
	if (ctx->wconn && PQstatus(ctx->wconn) == CONNECTION_OK)
		return ctx->wconn;
	PQfinish(ctx->wconn);
	ctx->wconn = db_connect(c->database_url, "dashboard_fcgi writes", 2);
	if (ctx->wconn && !exec_command(ctx->wconn, "SET statement_timeout = " STR(PG_STATEMENT_TIMEOUT_MS))) {
		PQfinish(ctx->wconn);
		ctx->wconn = NULL;
	}
	return ctx->wconn;
}

/* q in a read-write transaction on conn; false after logging why not. */
static bool write_on(PGconn *conn, const struct sqlq *q)
{
	PGresult *res;
	bool ok;

	if (!exec_command(conn, "BEGIN READ WRITE"))
		return false;
	res = PQexecParams(conn, q->sql.data, q->n, NULL, (const char *const *)q->values,
			   NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		log_warn("dashboard write: %s", PQerrorMessage(conn));
	PQclear(res);
	return exec_command(conn, ok ? "COMMIT" : "ROLLBACK") && ok;
}

static time_t monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* After a failure (a read-only replica, a primary away) no write is tried
 * for a minute: each would log again, or wait for a connection. */
bool pg_write(struct ctx *ctx, const struct sqlq *q)
{
	PGconn *conn;

	if (ctx->write_failed && monotonic_seconds() - ctx->write_failed < 60)
		return false;
	conn = write_conn(ctx);
	if (conn && write_on(conn, q))
		return true;
	ctx->write_failed = monotonic_seconds();
	return false;
}

bool pg_stream(struct req *r, const struct sqlq *q)
{
	PGconn *conn;
	bool ok = false;

	if (!ensure_conn(r))
		goto out;
	conn = r->ctx->conn;
	if (!PQsendQueryParams(conn, q->sql.data, q->n, NULL,
			       (const char *const *)q->values, NULL, NULL, 0)) {
		pg_fail(r, conn, NULL, "dashboard query");
		goto out;
	}
	if (!PQsetSingleRowMode(conn)) {
		/* the query is running: it must not be left in flight */
		pg_fail(r, conn, NULL, "dashboard query (single-row mode)");
		pg_stream_cancel(r->ctx);
		goto out;
	}
	ok = true;
out:
	return ok;
}

/* Asks the server to cancel the connection's statement; false when the
 * request could not be delivered. */
static bool cancel_send(PGconn *conn)
{
	PGcancel *cancel = PQgetCancel(conn);
	char err[256] = "no cancel handle";
	bool ok = cancel && PQcancel(cancel, err, sizeof(err));

	if (!ok)
		log_error("cancelling a dashboard query: %s", err);
	if (cancel)
		PQfreeCancel(cancel);
	return ok;
}

void pg_stream_cancel(struct ctx *ctx)
{
	PGresult *res;

	if (!ctx->conn)
		return;
	if (cancel_send(ctx->conn)) {
		/* the rows already sent, then the cancel's error (or the end) */
		while ((res = PQgetResult(ctx->conn)) != NULL)
			PQclear(res);
		if (PQstatus(ctx->conn) == CONNECTION_OK &&
		    PQtransactionStatus(ctx->conn) == PQTRANS_IDLE)
			return;
	}
	/* reading the rest could take as long as the statement: drop the connection */
	PQfinish(ctx->conn);
	ctx->conn = NULL;
}

bool pg_timeout_set(struct req *r, long ms)
{
	struct sqlq q;
	PGresult *res;

	sqlq_init(&q);
	sqlq_add(&q, "SELECT set_config('statement_timeout', $%d, false)",
		 sqlq_param_long(&q, ms));
	res = pg_run(r, &q, false);
	sqlq_release(&q);
	if (res)
		r->ctx->timeout_ms = ms;
	PQclear(res);
	return res != NULL;
}

void pg_timeout_restore(struct ctx *ctx)
{
	PGresult *res;

	if (!ctx->conn || PQstatus(ctx->conn) != CONNECTION_OK)
		return;
	res = PQexec(ctx->conn, "SET statement_timeout = " STR(PG_STATEMENT_TIMEOUT_MS));
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		ctx->timeout_ms = PG_STATEMENT_TIMEOUT_MS;
	} else {
		log_error("restoring statement_timeout: %s", PQerrorMessage(ctx->conn));
		PQfinish(ctx->conn);
		ctx->conn = NULL;
	}
	PQclear(res);
}

PGresult *pg_next(struct req *r, bool *failed)
{
	PGconn *conn = r->ctx->conn;
	PGresult *res;

	while ((res = PQgetResult(conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE)
			return res;
		if (st != PGRES_TUPLES_OK) {
			*failed = true;
			pg_fail(r, conn, res, "dashboard query");
		}
		PQclear(res);
	}
	return NULL;
}
