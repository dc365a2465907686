/* searchtext.c - the words of a request and its reply, for full-text search. */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "jsonparse.h"

#include "searchtext.h"
#include "buf.h"
#include "utf8.h"
#include "banned.h"

/* A run of base64 characters this long is an encoded file, not words. */
#define BLOB_MIN 200

struct search {
	struct buf out;
	bool need_sep;   /* the next text starts a new piece: '\n' first */
};


static bool full(const struct search *s)
{
	return s->out.len >= s->out.cap;
}

/* Appends p[0..n) as valid UTF-8. Only what can still fit is read (plus a
 * character's worth, so the cut is not mistaken for a broken character). */
static void emit(struct search *s, const char *p, size_t n)
{
	size_t room;

	if (n == 0 || full(s))
		return;
	if (s->need_sep && s->out.len)
		buf_addch(&s->out, '\n');
	s->need_sep = false;
	room = s->out.cap - s->out.len;
	if (n > room && n - room > 4)
		n = room + 4;
	utf8_sanitize(p, n, &s->out);
}

/* The base64 alphabets (standard and URL-safe) and padding: a table, as
 * every byte of the text is looked up. */
static const bool b64_chars[256] = {
	['A' ... 'Z'] = true, ['a' ... 'z'] = true, ['0' ... '9'] = true,
	['+'] = true, ['/'] = true, ['='] = true, ['-'] = true, ['_'] = true,
};

static size_t b64_run(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && b64_chars[(unsigned char)p[i]])
		i++;
	return i;
}

/* Start of the first maximal run of at least BLOB_MIN base64 characters in
 * p[0..n), its length in *len; n if there is none. Looks at the last byte of
 * each BLOB_MIN window first: in prose that byte, or a space a word before
 * it, rules the whole window out, so few bytes are read. */
static size_t find_blob(const char *p, size_t n, size_t *len)
{
	size_t i = 0, j, k;

	while (n - i >= BLOB_MIN) {
		k = i + BLOB_MIN - 1;
		if (!b64_chars[(unsigned char)p[k]]) {
			i = k + 1;
			continue;
		}
		for (j = k; j > i && b64_chars[(unsigned char)p[j - 1]]; j--)
			;
		if (j == i) {   /* p[i..k] are all base64, and i starts a run */
			*len = b64_run(p + i, n - i);
			return i;
		}
		i = j;          /* the run through k starts at j: try from there */
	}
	return n;
}

/* "data:MEDIATYPE[;base64],..." - a comma before any space tells it from
 * prose that happens to start with "data:". */
static bool data_url(const char *p, size_t n)
{
	size_t i;

	if (n < 5 || memcmp(p, "data:", 5))
		return false;
	for (i = 5; i < n && i < 256 && !json_ws(p[i]); i++)
		if (p[i] == ',')
			return true;
	return false;
}

/* Adds one string as a piece of its own, leaving out base64 blobs inside it;
 * a data: URL is left out whole. */
static void add_text(struct search *s, const char *p, size_t n)
{
	size_t start = 0, at, len = 0;

	if (data_url(p, n))
		return;
	s->need_sep = true;
	while (start < n && !full(s)) {
		at = start + find_blob(p + start, n - start, &len);
		emit(s, p + start, at - start);
		if (at == n)
			return;
		start = at + len;
	}
}

static bool is_array(json_object *o)
{
	return o && json_object_is_type(o, json_type_array);
}

/* Adds o if it is a string; other types add nothing. */
static void add_str(struct search *s, json_object *o)
{
	if (o && json_object_is_type(o, json_type_string))
		add_text(s, json_object_get_string(o),
			 (size_t)json_object_get_string_len(o));
}

/* Content is a string or a list of parts; only parts with "text" are words
 * (text, input_text, output_text), not image, audio or file parts. */
static void add_content(struct search *s, json_object *c)
{
	size_t i, n;

	add_str(s, c);
	if (!is_array(c))
		return;
	n = json_object_array_length(c);
	for (i = 0; i < n && !full(s); i++)
		add_str(s, jget(json_object_array_get_idx(c, i), "text"));
}

/* Index of the newest user turn in list (0 if none): the turns before it
 * were new in earlier calls, which are captured and indexed themselves;
 * indexing a conversation's whole history again on every call made the
 * full-text index most of the database's work. */
static size_t last_user_turn(json_object *list, size_t n)
{
	size_t i = n;
	const char *role;

	while (i-- > 0) {
		role = json_object_get_string(jget(json_object_array_get_idx(list, i), "role"));
		if (role && !strcmp(role, "user"))
			return i;
	}
	return 0;
}

/* messages[] of chat, or input[] of the Responses API: each element a string
 * or an item with "content"; from the newest user turn on. */
static void add_items(struct search *s, json_object *list)
{
	json_object *item;
	size_t i, n;

	add_str(s, list);
	if (!is_array(list))
		return;
	n = json_object_array_length(list);
	for (i = last_user_turn(list, n); i < n && !full(s); i++) {
		item = json_object_array_get_idx(list, i);
		add_str(s, item);
		add_content(s, jget(item, "content"));
	}
}

static void add_request(struct search *s, json_object *o)
{
	if (o) {
		add_str(s, jget(o, "instructions"));
		add_content(s, jget(o, "system"));
		add_items(s, jget(o, "messages"));
		add_items(s, jget(o, "prompt"));
		add_items(s, jget(o, "input"));
	}
}

char *searchtext_build_json(json_object *request, const char *reply, size_t reply_len,
			    size_t max)
{
	struct search s;
	char *text;
	size_t len;

	buf_init(&s.out, max);
	s.need_sep = false;
	add_request(&s, request);
	if (reply)
		add_text(&s, reply, reply_len);
	text = buf_detach(&s.out, &len);
	text[utf8_floor(text, len)] = '\0';
	return text;
}

char *searchtext_build(const char *request_body, size_t request_len,
		       const char *reply, size_t reply_len, size_t max)
{
	json_object *o = json_parse_bytes(request_body, request_len);
	char *text = searchtext_build_json(o, reply, reply_len, max);

	json_object_put(o);
	return text;
}
