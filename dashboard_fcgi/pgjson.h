/* pgjson.h - columns of a text-format PGresult written as typed JSON values.
 *
 * NULL columns become null. Numbers are checked before they are written:
 * a value that is not a finite number becomes null rather than bad JSON. */
#ifndef PGJSON_H
#define PGJSON_H

#include <libpq-fe.h>

#include "jsonw.h"

void pj_text(struct jw *w, const PGresult *res, int row, int col);
void pj_int(struct jw *w, const PGresult *res, int row, int col);
void pj_float(struct jw *w, const PGresult *res, int row, int col);
void pj_bool(struct jw *w, const PGresult *res, int row, int col);

/* The same, preceded by a key. */
void pj_key_text(struct jw *w, const char *key, const PGresult *res, int row, int col);
void pj_key_int(struct jw *w, const char *key, const PGresult *res, int row, int col);
void pj_key_float(struct jw *w, const char *key, const PGresult *res, int row, int col);
void pj_key_bool(struct jw *w, const char *key, const PGresult *res, int row, int col);

/* The column as a long long; dflt when NULL or not an integer. */
long long pj_long(const PGresult *res, int row, int col, long long dflt);

#endif
