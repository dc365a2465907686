/* pg.h - running the dashboard's SQL: a statement with its parameters, the
 * thread's connection, and database failures turned into JSON errors.
 *
 * SQL text is assembled only from constant fragments in queries.c; every
 * value from a request travels as a parameter ($1, $2, ...). Sessions are
 * read-only (default_transaction_read_only), in UTC, with a statement
 * timeout, so a heavy filter ends as a 503, never a stuck thread. */
#ifndef PG_H
#define PG_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "buf.h"
#include "dashboard.h"

#define SQLQ_MAX_PARAMS 128
#define PG_STATEMENT_TIMEOUT_MS 15000

struct sqlq {
	struct buf sql;
	char *values[SQLQ_MAX_PARAMS];
	int n;
};

void sqlq_init(struct sqlq *q);
/* Adds a parameter (copied; NULL is SQL NULL) and returns its number for $N. */
int sqlq_param(struct sqlq *q, const char *value);
int sqlq_param_long(struct sqlq *q, long long v);
/* Adds microseconds since 1970 as a UTC timestamptz literal: a constant to
 * the planner, unlike arithmetic on a parameter. */
int sqlq_param_time(struct sqlq *q, long long us);
/* Appends SQL text; fmt is a constant whose only conversions are %d for
 * parameter numbers. */
void sqlq_add(struct sqlq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sqlq_release(struct sqlq *q);

/* Opens the thread's connection if it has none or lost it. 0, or -1 (logged). */
int pg_ready(struct ctx *ctx);
/* Runs q (results in binary format when binary is true). Returns the result
 * of a successful query (the caller PQclears it), or NULL after answering r
 * with a JSON error (503 when the database is down or the query timed out,
 * 500 otherwise). */
PGresult *pg_run(struct req *r, const struct sqlq *q, bool binary);
/* Runs q, a write, in a read-write transaction of its own (sessions are
 * read-only), on DATABASE_URL when the reads go to DASHBOARD_DATABASE_URL.
 * Answers nothing: false after logging the failure, and for a minute after
 * one. */
bool pg_write(struct ctx *ctx, const struct sqlq *q);
/* Starts q in single-row mode: rows then come one by one from pg_next.
 * false after answering r with a JSON error. */
bool pg_stream(struct req *r, const struct sqlq *q);
/* Ends a pg_stream before its last row without reading the rest: asks the
 * server to cancel the statement and drops the rows already on the way, so
 * the connection can run the next statement at once. When the cancel cannot
 * be sent or the connection is not idle after it, the connection is closed
 * (ctx->conn NULL: the next pg_ready opens a fresh one). Logs nothing for
 * the expected "canceling statement" error. */
void pg_stream_cancel(struct ctx *ctx);
/* The next row (PGRES_SINGLE_TUPLE) of a pg_stream, or NULL at the end.
 * *failed is set when the query failed on the way (error already logged;
 * r answered if nothing was sent yet). Call until it returns NULL. */
PGresult *pg_next(struct req *r, bool *failed);

/* Sets the statement_timeout of r's connection to ms for the statements
 * that follow (a timeout error then names it). false after answering r. */
bool pg_timeout_set(struct req *r, long ms);
/* Back to PG_STATEMENT_TIMEOUT_MS; a connection that cannot be told is
 * closed (the next pg_ready opens a fresh one). */
void pg_timeout_restore(struct ctx *ctx);

/* Reports a failed result (or connection) as a JSON error on r, logging the
 * database's message; a timeout names the connection's statement_timeout. */
void pg_fail(struct req *r, PGconn *conn, const PGresult *res, const char *what);

#endif
