/* jsonv.c - strict, allocation-free JSON validation. */
#include <string.h>

#include "jsonv.h"
#include "utf8.h"
#include "banned.h"

struct jv {
	const unsigned char *p;
	size_t n, i;
	int depth;
	char stack[JSONV_MAX_DEPTH];   /* '{' or '[' per open container */
};

static void skip_ws(struct jv *v)
{
	while (v->i < v->n && (v->p[v->i] == ' ' || v->p[v->i] == '\t' ||
			       v->p[v->i] == '\n' || v->p[v->i] == '\r'))
		v->i++;
}

static bool literal(struct jv *v, const char *word)
{
	size_t len = strlen(word);

	if (v->n - v->i < len || memcmp(v->p + v->i, word, len))
		return false;
	v->i += len;
	return true;
}

static bool digits(struct jv *v)
{
	size_t start = v->i;

	while (v->i < v->n && v->p[v->i] >= '0' && v->p[v->i] <= '9')
		v->i++;
	return v->i > start;
}

static bool number(struct jv *v)
{
	if (v->i < v->n && v->p[v->i] == '-')
		v->i++;
	if (v->i < v->n && v->p[v->i] == '0')
		v->i++;
	else if (!digits(v))
		return false;
	if (v->i < v->n && v->p[v->i] == '.') {
		v->i++;
		if (!digits(v))
			return false;
	}
	if (v->i < v->n && (v->p[v->i] == 'e' || v->p[v->i] == 'E')) {
		v->i++;
		if (v->i < v->n && (v->p[v->i] == '+' || v->p[v->i] == '-'))
			v->i++;
		if (!digits(v))
			return false;
	}
	return true;
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of the valid multi-byte UTF-8 sequence at i, 0 if invalid. */
static size_t utf8_len(const struct jv *v)
{
	unsigned cp;
	size_t len = utf8_decode(v->p + v->i, v->n - v->i, &cp);

	return cp >= 0x80 ? len : 0;
}

static bool escape(struct jv *v)
{
	unsigned char c;
	int k;

	if (++v->i >= v->n)
		return false;
	c = v->p[v->i];
	if (strchr("\"\\/bfnrt", c) && c) {
		v->i++;
		return true;
	}
	if (c != 'u')
		return false;
	for (k = 1; k <= 4; k++)
		if (v->i + (size_t)k >= v->n || !is_hex(v->p[v->i + (size_t)k]))
			return false;
	v->i += 5;
	return true;
}

static bool string(struct jv *v)
{
	v->i++;        /* the opening quote */
	while (v->i < v->n) {
		unsigned char c = v->p[v->i];
		size_t len;

		if (c == '"') {
			v->i++;
			return true;
		}
		if (c == '\\') {
			if (!escape(v))
				return false;
			continue;
		}
		if (c < 0x20)
			return false;
		if (c < 0x80) {
			v->i++;
			continue;
		}
		len = utf8_len(v);
		if (!len)
			return false;
		v->i += len;
	}
	return false;
}

/* One scalar or the opening of a container (pushed on the stack). */
static bool value_start(struct jv *v)
{
	unsigned char c;

	skip_ws(v);
	if (v->i >= v->n)
		return false;
	c = v->p[v->i];
	if (c == '{' || c == '[') {
		if (v->depth >= JSONV_MAX_DEPTH)
			return false;
		v->stack[v->depth++] = (char)c;
		v->i++;
		return true;
	}
	if (c == '"')
		return string(v);
	if (c == 't')
		return literal(v, "true");
	if (c == 'f')
		return literal(v, "false");
	if (c == 'n')
		return literal(v, "null");
	return number(v);
}

/* Inside an object, before a member: a key and its colon. */
static bool member_key(struct jv *v)
{
	skip_ws(v);
	if (v->i >= v->n || v->p[v->i] != '"' || !string(v))
		return false;
	skip_ws(v);
	if (v->i >= v->n || v->p[v->i] != ':')
		return false;
	v->i++;
	return true;
}

/* Right after a container opened: true if it closed at once (empty). */
static bool close_empty(struct jv *v)
{
	char want = v->stack[v->depth - 1] == '{' ? '}' : ']';

	skip_ws(v);
	if (v->i < v->n && v->p[v->i] == want) {
		v->i++;
		v->depth--;
		return true;
	}
	return false;
}

/* After a complete value inside containers: closes what ends here; returns
 * 1 when another value is due (after a comma), 0 at the top level, -1 bad. */
static int after_value(struct jv *v)
{
	while (v->depth > 0) {
		char want = v->stack[v->depth - 1] == '{' ? '}' : ']';

		skip_ws(v);
		if (v->i >= v->n)
			return -1;
		if (v->p[v->i] == ',') {
			v->i++;
			return 1;
		}
		if (v->p[v->i] != want)
			return -1;
		v->i++;
		v->depth--;
	}
	return 0;
}

bool jsonv_valid(const char *p, size_t n)
{
	struct jv v = { .p = (const unsigned char *)p, .n = n };
	bool ok = false;

	for (;;) {
		int depth_before = v.depth;
		int next;

		if (v.depth > 0 && v.stack[v.depth - 1] == '{' && !member_key(&v))
			goto out;
		if (!value_start(&v))
			goto out;
		if (v.depth > depth_before) {
			if (!close_empty(&v))
				continue;   /* first member or element of the new container */
		}
		next = after_value(&v);
		if (next < 0)
			goto out;
		if (next == 0)
			break;
	}
	skip_ws(&v);
	ok = v.i == v.n;
out:
	return ok;
}
