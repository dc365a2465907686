/* db.c - PostgreSQL connections and password-free error messages. */
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "banned.h"

void db_redact(const char *url, char *out, size_t outlen)
{
	const char *scheme = strstr(url, "://");
	const char *at, *colon, *pw;
	size_t o = 0;

	pw = strstr(url, "password=");
	if (scheme && (at = strchr(scheme + 3, '@')) != NULL &&
	    (colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3))) != NULL) {
		snprintf(out, outlen, "%.*s:***%s", (int)(colon - url), url, at);
		return;
	}
	if (pw) {
		size_t end = strcspn(pw + 9, "& ");

		o = (size_t)(pw - url) + 9;
		snprintf(out, outlen, "%.*s***%s", (int)o, url, pw + 9 + end);
		return;
	}
	snprintf(out, outlen, "%s", url);
}

static void one_line(char *s)
{
	char *nl;

	while ((nl = strchr(s, '\n')) != NULL)
		*nl = ' ';
}

void db_log_error(const char *what, PGconn *conn, const PGresult *res)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", res ? PQresultErrorMessage(res) :
		 conn ? PQerrorMessage(conn) : "no connection");
	one_line(msg);
	log_error("%s: %s", what, msg);
}

PGconn *db_connect(const char *url, const char *application_name, int connect_timeout)
{
	/* TCP keepalives and a user timeout notice a database host that went
	 * away without closing the connection (ignored on Unix sockets) */
	const char *keys[] = { "dbname", "application_name", "connect_timeout", "keepalives",
			       "keepalives_idle", "keepalives_interval", "keepalives_count",
			       "tcp_user_timeout", NULL };
	char timeout[16], safe[512];
	const char *vals[9];
	PGconn *conn;

	snprintf(timeout, sizeof(timeout), "%d", connect_timeout);
	vals[0] = url;
	vals[1] = application_name;
	vals[2] = timeout;
	vals[3] = "1";
	vals[4] = "10";
	vals[5] = "5";
	vals[6] = "3";
	vals[7] = "30000";
	vals[8] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(conn) == CONNECTION_OK)
		return conn;
	db_redact(url, safe, sizeof(safe));
	{
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", conn ? PQerrorMessage(conn) : "out of memory");
		one_line(msg);
		log_error("cannot connect to %s: %s", safe, msg);
	}
	PQfinish(conn);
	return NULL;
}

bool db_timed_out(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state && (!strcmp(state, "57014") || !strcmp(state, "55P03"));
}
