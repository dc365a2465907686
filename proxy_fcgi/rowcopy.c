/* rowcopy.c - captures too big for query parameters go to PostgreSQL by COPY. */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "row.h"
#include "rowcopy.h"
#include "xalloc.h"
#include "banned.h"

/* Bytes handed to libpq at a time. */
#define PIECE (64 * 1024)

/* COPY text data being written out in pieces. */
struct copy_out {
	PGconn *db;
	int failed;
	size_t len;
	char buf[PIECE];
};

bool rowcopy_wanted(const struct spool_row *row)
{
	size_t bytes = 0;
	int i;

	if (row->n != ROW_NPARAMS)
		return false;
	for (i = 0; i < row->n; i++)
		if (row->vals[i])
			bytes += row->fmts[i] ? (size_t)row->lens[i] : strlen(row->vals[i]);
	return bytes > ROWCOPY_MIN;
}

static void flush_piece(struct copy_out *o)
{
	if (!o->failed && o->len && PQputCopyData(o->db, o->buf, (int)o->len) != 1)
		o->failed = 1;
	o->len = 0;
}

static void put(struct copy_out *o, const char *p, size_t n)
{
	while (n) {
		size_t k = sizeof(o->buf) - o->len < n ? sizeof(o->buf) - o->len : n;

		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
		if (o->len == sizeof(o->buf))
			flush_piece(o);
	}
}

/* A text value with COPY's escapes for backslash, tab, newline and CR. */
static void put_text(struct copy_out *o, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\t' ? "\\t" :
				  *s == '\n' ? "\\n" : *s == '\r' ? "\\r" : NULL;

		if (!esc)
			continue;
		put(o, run, (size_t)(s - run));
		put(o, esc, 2);
		run = s + 1;
	}
	put(o, run, (size_t)(s - run));
}

/* Bytes as bytea's hex input, "\x..." (its backslash escaped for COPY),
 * written straight into the piece: a call per byte was most of the time. */
static void put_bytes(struct copy_out *o, const unsigned char *p, int n)
{
	static const char hex[] = "0123456789abcdef";
	int i = 0;

	put(o, "\\\\x", 3);
	while (i < n) {
		char *d = o->buf + o->len;
		int k = (int)((sizeof(o->buf) - o->len) / 2);

		if (k > n - i)
			k = n - i;
		for (int j = 0; j < k; j++) {
			d[2 * j] = hex[p[i + j] >> 4];
			d[2 * j + 1] = hex[p[i + j] & 15];
		}
		o->len += 2 * (size_t)k;
		i += k;
		if (sizeof(o->buf) - o->len < 2)
			flush_piece(o);
	}
}

static void put_row(struct copy_out *o, const struct spool_row *row)
{
	int i;

	for (i = 0; i < row->n; i++) {
		if (i)
			put(o, "\t", 1);
		if (!row->vals[i])
			put(o, "\\N", 2);
		else if (row->fmts[i])
			put_bytes(o, (const unsigned char *)row->vals[i], row->lens[i]);
		else
			put_text(o, row->vals[i]);
	}
	put(o, "\n", 1);
}

/* Runs sql; true if it gave want, else keeps the result in *failed_res. */
static bool exec_ok(PGconn *db, const char *sql, ExecStatusType want, PGresult **failed_res)
{
	PGresult *res = PQexec(db, sql);

	if (PQresultStatus(res) == want) {
		PQclear(res);
		return true;
	}
	*failed_res = res;
	return false;
}

/* Streams the rows into the staging table; NULL, or the failed result. */
static PGresult *copy_rows(PGconn *db, const struct spool_row *const *rows, int n)
{
	struct copy_out *o;
	PGresult *res = NULL;
	int i;

	if (!exec_ok(db, row_stage_copy_sql, PGRES_COPY_IN, &res))
		return res;
	o = xcalloc(1, sizeof(*o));
	o->db = db;
	for (i = 0; i < n && !o->failed; i++)
		put_row(o, rows[i]);
	flush_piece(o);
	PQputCopyEnd(db, o->failed ? "capture proxy: sending the rows failed" : NULL);
	free(o);
	while ((res = PQgetResult(db)) != NULL && PQresultStatus(res) == PGRES_COMMAND_OK)
		PQclear(res);
	return res;
}

int rowcopy_insert(PGconn *db, const struct spool_row *const *rows, int n)
{
	PGresult *res = NULL;
	int rc = 0;

	/* the staging table is made on first use: a connection that never
	 * sends a big row never waits on a lock of captures for it */
	if (!exec_ok(db, "BEGIN", PGRES_COMMAND_OK, &res) ||
	    !exec_ok(db, row_stage_create_sql, PGRES_COMMAND_OK, &res) || (res = copy_rows(db, rows, n)) ||
	    !exec_ok(db, row_stage_insert_sql, PGRES_COMMAND_OK, &res) ||
	    !exec_ok(db, "COMMIT", PGRES_COMMAND_OK, &res)) {
		db_log_error("insert big captures", db, res);
		rc = db_timed_out(res) || PQstatus(db) != CONNECTION_OK ? -1 : 1;
		PQclear(res);
		PQclear(PQexec(db, "ROLLBACK"));
	}
	return rc;
}
