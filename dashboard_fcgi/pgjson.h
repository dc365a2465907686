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
/* A one-dimensional text[] column (its text form: {a,"b c",NULL}) as an
 * array of strings, NULL elements as null; null when the column is NULL or
 * not such an array. */
void pj_text_array(struct jw *w, const PGresult *res, int row, int col);

/* The same, preceded by a key. */
void pj_key_text(struct jw *w, const char *key, const PGresult *res, int row, int col);
void pj_key_int(struct jw *w, const char *key, const PGresult *res, int row, int col);
/* "usage": {prompt, completion, total, cached, reasoning tokens} from the five
 * consecutive columns starting at col (the order of the captures table). */
void pj_key_usage(struct jw *w, const PGresult *res, int row, int col);
void pj_key_float(struct jw *w, const char *key, const PGresult *res, int row, int col);
void pj_key_bool(struct jw *w, const char *key, const PGresult *res, int row, int col);
void pj_key_text_array(struct jw *w, const char *key, const PGresult *res, int row, int col);

/* Writes the text form of a one-dimensional text[] (p[0..n)) as a JSON
 * array through w, or checks it only when w is NULL. 0, or -1 when p is
 * not such an array (then w may hold part of one: check first). */
int pj_array_walk(const char *p, size_t n, struct jw *w);

/* The column as a long long; dflt when NULL or not an integer. */
long long pj_long(const PGresult *res, int row, int col, long long dflt);

#endif
