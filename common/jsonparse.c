/* jsonparse.c - strict, depth-limited parsing of JSON byte ranges. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#include "jsonparse.h"
#include "banned.h"

bool json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Documents larger than this get a tokener of their own, freed after. */
#define TOK_KEEP_MAX (64 * 1024)

/* One tokener per thread, reset between documents: making one (and its
 * depth stack) for every parse was a few allocations per body. */
static pthread_key_t tok_key;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;

static void tok_free(void *tok)
{
	json_tokener_free(tok);
}

static void tok_key_make(void)
{
	if (pthread_key_create(&tok_key, tok_free) != 0)
		abort();
}

static json_tokener *thread_tokener(void)
{
	json_tokener *tok;

	pthread_once(&tok_once, tok_key_make);
	tok = pthread_getspecific(tok_key);
	if (!tok) {
		tok = json_tokener_new_ex(JSON_MAX_DEPTH);
		if (tok && pthread_setspecific(tok_key, tok) != 0) {
			json_tokener_free(tok);
			tok = NULL;
		}
	}
	if (tok)
		json_tokener_reset(tok);
	return tok;
}

json_object *json_parse_bytes(const char *p, size_t n)
{
	json_tokener *tok;
	json_object *o = NULL;
	size_t end;

	if (!p || n == 0 || n > INT_MAX)
		goto out;
	tok = thread_tokener();
	if (!tok)
		goto out;
	o = json_tokener_parse_ex(tok, p, (int)n);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		end = json_tokener_get_parse_end(tok);
		while (end < n && json_ws(p[end]))
			end++;
		if (end < n) {
			json_object_put(o);
			o = NULL;
		}
	} else {
		json_object_put(o);
		o = NULL;
	}
	/* a cut document leaves the tokener mid-way: reset it now, so a half
	 * parsed value is not kept until the next parse; and a big document
	 * grew the tokener's string buffer, which is not kept either; nor is
	 * one that failed: json-c 0.16's reset keeps a \uD800-\uDBFF pending
	 * from a document cut after it, and the next string would start with
	 * a U+FFFD (fuzz_export: regression-tokener-pending-surrogate) */
	if (n > TOK_KEEP_MAX || !o) {
		pthread_setspecific(tok_key, NULL);
		json_tokener_free(tok);
	} else {
		json_tokener_reset(tok);
	}
out:
	return o;
}

json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o && json_object_is_type(o, json_type_object))
		json_object_object_get_ex(o, key, &v);
	return v;
}
