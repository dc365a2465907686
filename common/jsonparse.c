/* jsonparse.c - strict, depth-limited parsing of JSON byte ranges. */
#include <limits.h>

#include "jsonparse.h"
#include "banned.h"

bool json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

json_object *json_parse_bytes(const char *p, size_t n)
{
	json_tokener *tok;
	json_object *o = NULL;
	size_t end;

	if (!p || n == 0 || n > INT_MAX)
		goto out;
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
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
	json_tokener_free(tok);
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
