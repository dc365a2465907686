/* db.h - connecting to PostgreSQL without ever printing a password. */
#ifndef DB_H
#define DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Connects to url (a postgres:// URL or key=value string) naming the session
 * application_name. Returns the connection, or NULL after logging why
 * (password redacted). Never blocks longer than connect_timeout seconds. */
PGconn *db_connect(const char *url, const char *application_name, int connect_timeout);
/* Copies url into out with any password replaced by ***. */
void db_redact(const char *url, char *out, size_t outlen);
/* Logs PQerrorMessage of conn (or of res when given) after what, one line. */
void db_log_error(const char *what, PGconn *conn, const PGresult *res);

/* true if res failed by statement_timeout or lock_timeout: the database
 * is hung or locked, not refusing what it was sent. NULL is false. */
bool db_timed_out(const PGresult *res);

#endif
