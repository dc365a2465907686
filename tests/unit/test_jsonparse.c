/* test_jsonparse.c - json_parse_bytes reads one value, and a parse leaves nothing behind for the next. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "../../common/jsonparse.c"

static json_object *parse(const char *s)
{
	return json_parse_bytes(s, strlen(s));
}

static void test_one_value(void)
{
	json_object *o = parse(" {\"a\": [1, \"x\"]}\r\n\t");

	CHECK(o && json_object_is_type(o, json_type_object));
	json_object_put(o);
	CHECK(parse("{\"a\": 1} x") == NULL);
	CHECK(parse("{\"a\": 1}{}") == NULL);
	CHECK(parse("{\"a\": ") == NULL);
	CHECK(parse("") == NULL);
	CHECK(json_parse_bytes(NULL, 3) == NULL);
}

/* The string of a parsed {"c": "..."} is exactly want (want_len bytes). */
static void check_c(const char *doc, const char *want, size_t want_len)
{
	json_object *o = parse(doc), *c = jget(o, "c");

	CHECK(c && json_object_is_type(c, json_type_string));
	CHECK(c && (size_t)json_object_get_string_len(c) == want_len &&
	      !memcmp(json_object_get_string(c), want, want_len));
	json_object_put(o);
}

/* A body cut right after the first half of a surrogate pair (an emoji cut
 * at the capture cap) must not put a U+FFFD in front of the next body's
 * first \u escape: json-c's reset keeps that half pending. */
static void test_cut_surrogate(void)
{
	CHECK(parse("{\"c\": \"cut \\ud83d") == NULL);
	check_c("{\"c\": \"\\u00e9\"}", "\xc3\xa9", 2);
	CHECK(parse("\"x\\uD800") == NULL);
	check_c("{\"c\": \"a\\u0041\"}", "aA", 2);
	CHECK(parse("{\"c\": \"half\\ud83d\\u") == NULL);
	check_c("{\"c\": \"\\ud83d\\ude00\"}", "\xf0\x9f\x98\x80", 4);
}

int main(void)
{
	test_one_value();
	test_cut_surrogate();
	return check_done("test_jsonparse");
}
