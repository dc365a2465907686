/* jsonw.h - a streaming JSON writer: values go straight to a sink, no tree.
 *
 * The writer tracks nesting and puts the commas itself; callers only say
 * what comes next. Strings are bytes with a length: invalid UTF-8 becomes
 * U+FFFD, and besides what JSON requires, <, >, &, ' and U+2028/U+2029 are
 * written as \u escapes, so the output stays inert even if some client ever
 * pastes it into HTML or a script. Nesting deeper than JW_MAX_DEPTH is a
 * programming error (the writer stops adding commas, the output stays
 * bounded). Nothing here allocates. */
#ifndef JSONW_H
#define JSONW_H

#include <stdbool.h>
#include <stddef.h>

#define JW_MAX_DEPTH 32

typedef void (*jw_sink_fn)(void *ctx, const char *p, size_t n);

struct jw {
	jw_sink_fn sink;
	void *ctx;
	int depth;
	bool after_key;                  /* a key was written: no comma next */
	bool has_items[JW_MAX_DEPTH];    /* the open container holds a value */
};

void jw_init(struct jw *w, jw_sink_fn sink, void *ctx);

void jw_object_begin(struct jw *w);
void jw_object_end(struct jw *w);
void jw_array_begin(struct jw *w);
void jw_array_end(struct jw *w);
/* Writes "key": inside an object; the next call writes its value. */
void jw_key(struct jw *w, const char *key);

void jw_string(struct jw *w, const char *p, size_t n);
/* s may be NULL: writes null. */
void jw_cstring(struct jw *w, const char *s);
void jw_int(struct jw *w, long long v);
/* Non-finite values are written as null. */
void jw_double(struct jw *w, double v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* Writes p[0..n) as it is: the caller vouches that it is one JSON value. */
void jw_raw(struct jw *w, const char *p, size_t n);

/* A string written in pieces: begin, any number of parts, end. */
void jw_string_begin(struct jw *w);
void jw_string_part(struct jw *w, const char *p, size_t n);
void jw_string_end(struct jw *w);

/* Appends the JSON escape of p[0..n) (without the quotes) through sink: the
 * string-content part of jw_string, for callers that build a string from
 * several pieces. */
void jw_escape(jw_sink_fn sink, void *ctx, const char *p, size_t n);

#endif
