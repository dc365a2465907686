/* pg.c - the dashboard's statements, connections and database errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int session_setup(PGconn *conn)
{
	PGresult *res = PQexec(conn, session_sql);
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;

	if (rc < 0)
		db_log_error("dashboard session setup", conn, res);
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
	rc = session_setup(ctx->conn);
out:
	return rc;
}

void pg_fail(struct req *r, PGconn *conn, const PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	db_log_error(what, conn, res);
	if (state && !strcmp(state, "57014"))
		reply_error(r, 503, "server_error", "query_timeout",
			    "the query took longer than %d s: narrow the time range or filters",
			    PG_STATEMENT_TIMEOUT_MS / 1000);
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

bool pg_stream(struct req *r, const struct sqlq *q)
{
	PGconn *conn;
	bool ok = false;

	if (!ensure_conn(r))
		goto out;
	conn = r->ctx->conn;
	if (!PQsendQueryParams(conn, q->sql.data, q->n, NULL,
			       (const char *const *)q->values, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(conn)) {
		pg_fail(r, conn, NULL, "dashboard query");
		goto out;
	}
	ok = true;
out:
	return ok;
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
