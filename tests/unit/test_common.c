/* test_common.c - config, key masking, UTF-8, capped buffers, UUIDs and SHA-256. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "check.h"
#include "../../common/buf.c"
#include "../../common/config.c"
#include "../../common/keymask.c"
#include "../../common/sha256.c"
#include "../../common/utf8.c"
#include "../../common/uuid.c"

/* ---- config ---- */

static void env_clear(void)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		unsetenv(opts[i].name);
}

/* Writes text to a new temporary file; the caller unlinks and frees the path. */
static char *temp_file(const char *text)
{
	char *path = xstrdup("/tmp/test_common_XXXXXX");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads the file holding text; returns config_load's result. */
static int load_text(struct config *c, const char *text, char *err, size_t errlen,
		     char **path_out)
{
	char *path = temp_file(text);
	int rc = config_load(c, path, true, err, errlen);

	if (path_out)
		*path_out = path;
	else
		unlink(path), free(path);
	return rc;
}

static void test_config_defaults(void)
{
	struct config c;
	char err[512] = "";

	env_clear();
	CHECK(config_load(&c, NULL, false, err, sizeof(err)) == 0);
	CHECK_STR(c.proxy_host, "127.0.0.1");
	CHECK(c.proxy_port == 8080);
	CHECK(c.web_port == 8081);
	CHECK_STR(c.openai_api_base, "https://api.openai.com");
	CHECK(c.passthrough_api_key && c.mask_api_key);
	CHECK_STR(c.default_api_key, "");
	CHECK(c.max_requests_history == 1000000);
	CHECK(c.page_size == 20);
	CHECK(c.log_level == LOG_LEVEL_INFO);
	CHECK(c.capture_body_max == 4L << 20);
	CHECK(c.max_request_body == 512L << 20);
	CHECK(c.proxy_threads == 32);
	CHECK(c.upstream_timeout == 0);
	config_release(&c);
	config_release(&c);
	CHECK(config_load(&c, "/nonexistent/config.env", false, err, sizeof(err)) == 0);
	config_release(&c);
	CHECK(config_load(&c, "/nonexistent/config.env", true, err, sizeof(err)) == -1);
	CHECK(strstr(err, "/nonexistent/config.env") != NULL);
	config_release(&c);
}

static void test_config_file(void)
{
	static const char text[] =
		"# OpenAI capture proxy\n"
		"   # indented comment\n"
		"\n"
		"PROXY_PORT=9090\n"
		"export WEB_PORT=9091\n"
		"OPENAI_API_BASE=\"https://example.com/v1/\"   # trailing comment\n"
		"DEFAULT_API_KEY='sk-test-123 # not a comment'\n"
		"INSTANCE_NAME=lab box # comment\n"
		"PAGE_SIZE = 50\r\n"
		"LOG_LEVEL=debug\n"
		"CAPTURE_BODY_MAX=64K\n"
		"MAX_REQUEST_BODY=4M\n"
		"PASSTHROUGH_API_KEY=no\n"
		"DASHBOARD_AUTH_FILE=\n"
		"export  \tPROXY_THREADS=8\n";
	struct config c;
	char err[512] = "";

	env_clear();
	CHECK(load_text(&c, text, err, sizeof(err), NULL) == 0);
	CHECK(c.proxy_port == 9090);
	CHECK(c.web_port == 9091);
	CHECK_STR(c.openai_api_base, "https://example.com/v1");
	CHECK_STR(c.default_api_key, "sk-test-123 # not a comment");
	CHECK_STR(c.instance_name, "lab box");
	CHECK(c.page_size == 50);
	CHECK(c.log_level == LOG_LEVEL_DEBUG);
	CHECK(c.capture_body_max == 65536);
	CHECK(c.max_request_body == 4194304);
	CHECK(!c.passthrough_api_key);
	CHECK_STR(c.dashboard_auth_file, "");
	CHECK(c.proxy_threads == 8);
	config_release(&c);
}

static void test_config_env_wins(void)
{
	struct config c;
	char err[512] = "";

	env_clear();
	setenv("PROXY_PORT", "7070", 1);
	setenv("OPENAI_API_BASE", "http://127.0.0.1:9999///", 1);
	/* the file's bad value is never read: the environment replaces it */
	CHECK(load_text(&c, "PROXY_PORT=abc\nWEB_PORT=9191\n", err, sizeof(err), NULL) == 0);
	CHECK(c.proxy_port == 7070);
	CHECK(c.web_port == 9191);
	CHECK_STR(c.openai_api_base, "http://127.0.0.1:9999");
	config_release(&c);
	env_clear();
}

static void test_config_errors(void)
{
	struct config c;
	char err[512] = "", *path, want[600];

	env_clear();
	setenv("PROXY_PORT", "abc", 1);
	CHECK(config_load(&c, NULL, false, err, sizeof(err)) == -1);
	CHECK(strstr(err, "PROXY_PORT") != NULL && strstr(err, "abc") != NULL);
	config_release(&c);
	setenv("PROXY_PORT", "70000", 1);
	CHECK(config_load(&c, NULL, false, err, sizeof(err)) == -1);
	CHECK(strstr(err, "PROXY_PORT") != NULL);
	config_release(&c);
	env_clear();

	setenv("LOG_LEVEL", "verbose", 1);
	CHECK(config_load(&c, NULL, false, err, sizeof(err)) == -1);
	CHECK(strstr(err, "LOG_LEVEL") != NULL);
	config_release(&c);
	env_clear();

	CHECK(load_text(&c, "# x\nPROXY_PORT=1\nNOT_AN_OPTION=1\n", err, sizeof(err),
			&path) == -1);
	snprintf(want, sizeof(want), "%s:3: unknown option 'NOT_AN_OPTION'", path);
	CHECK_STR(err, want);
	unlink(path), free(path);
	config_release(&c);

	CHECK(load_text(&c, "\n\nWEB_PORT=0\n", err, sizeof(err), &path) == -1);
	snprintf(want, sizeof(want), "%s:3: WEB_PORT", path);
	CHECK(!strncmp(err, want, strlen(want)));
	unlink(path), free(path);
	config_release(&c);

	CHECK(load_text(&c, "just words\n", err, sizeof(err), &path) == -1);
	CHECK(strstr(err, ":1:") != NULL);
	unlink(path), free(path);
	config_release(&c);

}

/* A bad value in the file names the option, whatever its type. */
static void test_config_bad_values(void)
{
	struct config c;
	char err[512] = "";

	env_clear();
	CHECK(load_text(&c, "OPENAI_API_BASE=ftp://x\n", err, sizeof(err), NULL) == -1);
	CHECK(strstr(err, "OPENAI_API_BASE") != NULL);
	config_release(&c);
	CHECK(load_text(&c, "CAPTURE_BODY_MAX=lots\n", err, sizeof(err), NULL) == -1);
	CHECK(strstr(err, "CAPTURE_BODY_MAX") != NULL);
	config_release(&c);
	CHECK(load_text(&c, "MASK_API_KEY_IN_LOGS=maybe\n", err, sizeof(err), NULL) == -1);
	CHECK(strstr(err, "MASK_API_KEY_IN_LOGS") != NULL);
	config_release(&c);
	CHECK(load_text(&c, "PROXY_HOST=bad host\n", err, sizeof(err), NULL) == -1);
	CHECK(strstr(err, "PROXY_HOST") != NULL);
	config_release(&c);
}

static void test_config_sizes(void)
{
	CHECK(config_parse_size("4096") == 4096);
	CHECK(config_parse_size("64K") == 65536);
	CHECK(config_parse_size("64k") == 65536);
	CHECK(config_parse_size("64KB") == 65536);
	CHECK(config_parse_size("4M") == 4194304);
	CHECK(config_parse_size("1G") == 1073741824L);
	CHECK(config_parse_size("0") == 0);
	CHECK(config_parse_size("") == -1);
	CHECK(config_parse_size("-1") == -1);
	CHECK(config_parse_size("4X") == -1);
	CHECK(config_parse_size("4 M") == -1);
	CHECK(config_parse_size(" 4M") == -1);
	CHECK(config_parse_size("M") == -1);
	CHECK(config_parse_size("4MM") == -1);
	CHECK(config_parse_size("99999999999999999G") == -1);
	CHECK(config_parse_size("99999999999999999999") == -1);
}

static char *print_config(const struct config *c, bool secrets)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	config_print_shell(c, f, secrets);
	fclose(f);
	return text;
}

static void test_config_print(void)
{
	struct config c;
	char err[512] = "", *text;

	env_clear();
	setenv("INSTANCE_NAME", "it's a 'lab'", 1);
	setenv("DEFAULT_API_KEY", "sk-secret-value-123", 1);
	setenv("DATABASE_URL", "postgres://u:hunter2@db/x", 1);
	CHECK(config_load(&c, NULL, false, err, sizeof(err)) == 0);
	text = print_config(&c, false);
	CHECK(strstr(text, "INSTANCE_NAME='it'\\''s a '\\''lab'\\'''\n") != NULL);
	CHECK(strstr(text, "PROXY_PORT=8080\n") != NULL);
	CHECK(strstr(text, "PROXY_HOST='127.0.0.1'\n") != NULL);
	CHECK(strstr(text, "LOG_LEVEL=INFO\n") != NULL);
	CHECK(strstr(text, "MASK_API_KEY_IN_LOGS=true\n") != NULL);
	CHECK(strstr(text, "CAPTURE_BODY_MAX=4194304\n") != NULL);
	CHECK(strstr(text, "sk-secret") == NULL);
	CHECK(strstr(text, "hunter2") == NULL);
	CHECK(strstr(text, "DEFAULT_API_KEY") == NULL);
	free(text);
	text = print_config(&c, true);
	CHECK(strstr(text, "DEFAULT_API_KEY='sk-secret-value-123'\n") != NULL);
	CHECK(strstr(text, "DATABASE_URL='postgres://u:hunter2@db/x'\n") != NULL);
	free(text);
	config_release(&c);
	env_clear();
}

/* ---- keymask ---- */

static void test_key_from_auth(void)
{
	size_t n;
	const char *k;

	k = key_from_auth("Bearer sk-abc", &n);
	CHECK(n == 6 && !strncmp(k, "sk-abc", n));
	k = key_from_auth("  bearer   sk-x  ", &n);
	CHECK(n == 4 && !strncmp(k, "sk-x", n));
	k = key_from_auth("Basic dXNlcjpwYXNz", &n);
	CHECK(n == 12 && !strncmp(k, "dXNlcjpwYXNz", n));
	k = key_from_auth("sk-raw-key", &n);
	CHECK(n == 10 && !strncmp(k, "sk-raw-key", n));
	/* a word that merely starts like a scheme is not one */
	k = key_from_auth("Basicx secret", &n);
	CHECK(n == 13);
	k = key_from_auth("Bearerx secret", &n);
	CHECK(n == 14);
}

static void test_key_hint(void)
{
	char h[KEY_HINT_MAX];

	key_hint("sk-proj-abcdefghijklmnopqrstuvwxyz1234", 38, h);
	CHECK_STR(h, "sk-proj-…1234");
	key_hint("sk-abcdefghijklmnopqrstuvwxyz1234", 33, h);
	CHECK_STR(h, "sk-…1234");
	key_hint("sk-svcacct-abcdefghijklmnop5678", 31, h);
	CHECK_STR(h, "sk-…5678");
	key_hint("abcdefgh1234", 12, h);
	CHECK_STR(h, "…1234");
	key_hint("sk-12345678", 11, h);
	CHECK_STR(h, "…");
	key_hint("", 0, h);
	CHECK_STR(h, "…");
}

static void test_key_fingerprint(void)
{
	static const char key[] = "sk-proj-abcdefghijklmnop1234";
	char a[KEY_FINGERPRINT_LEN + 1], b[KEY_FINGERPRINT_LEN + 1];
	size_t i;
	bool hex = true;

	key_fingerprint(key, strlen(key), a);
	key_fingerprint(key, strlen(key), b);
	CHECK_STR(a, b);
	CHECK_STR(a, "5e86526394a43413");
	CHECK(strlen(a) == 16);
	for (i = 0; i < 16; i++)
		hex = hex && (isdigit((unsigned char)a[i]) || (a[i] >= 'a' && a[i] <= 'f'));
	CHECK(hex);
	key_fingerprint(key, strlen(key) - 1, b);
	CHECK(strcmp(a, b) != 0);
}

static void test_key_header(void)
{
	CHECK(key_header("Authorization"));
	CHECK(key_header("authorization"));
	CHECK(key_header("API-KEY"));
	CHECK(key_header("x-api-key"));
	CHECK(key_header("Proxy-Authorization"));
	CHECK(!key_header("Content-Type"));
	CHECK(!key_header("OpenAI-Organization"));
}

static char *mask_value(const char *v)
{
	struct buf b;

	buf_init(&b, 1024);
	key_mask_value(v, &b);
	return buf_detach(&b, NULL);
}

static char *mask_query(const char *q)
{
	struct buf b;

	buf_init(&b, 1024);
	key_mask_query(q, &b);
	return buf_detach(&b, NULL);
}

static void test_key_mask(void)
{
	char *s;

	s = mask_value("Bearer sk-proj-abcdefghijklmnop1234");
	CHECK_STR(s, "Bearer sk-proj-…1234");
	free(s);
	s = mask_value("sk-abcdefghijklmnop9876");
	CHECK_STR(s, "sk-…9876");
	free(s);
	s = mask_value("Bearer short");
	CHECK_STR(s, "Bearer …");
	free(s);

	s = mask_query("api-version=2024-06-01&api-key=sk-abcdefghijklmnop9999&"
		       "monkey=banana&key=AIzaSyDEADBEEF12345678&keys=k&x&&token=");
	CHECK_STR(s, "api-version=2024-06-01&api-key=sk-…9999&monkey=banana&"
		  "key=…5678&keys=k&x&&token=…");
	free(s);
	s = mask_query("API_KEY=abcdefghijklmnop&access_token=ya29.a0AfH6SMBxyz0123");
	CHECK_STR(s, "API_KEY=…mnop&access_token=…0123");
	free(s);
	s = mask_query("");
	CHECK_STR(s, "");
	free(s);
	/* %-encoded names are keys too */
	s = mask_query("api%5Fkey=sk-abcdefghijklmnop7777&api%2dkey=sk-abcdefghijklmnop6666&k%65y=");
	CHECK_STR(s, "api%5Fkey=sk-…7777&api%2dkey=sk-…6666&k%65y=…");
	free(s);
}

/* ---- utf8 ---- */

static void test_utf8_valid(void)
{
	static const char *const good[] = {
		"", "abc", "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80",
		"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
	};
	static const char *const bad[] = {
		"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xc2\x41", "\xe0\x80\xaf",
		"\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xe6\x97", "\xf0\x80\x80\xaf",
		"\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
		"\xfe", "\xff", "a\xff" "b",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(utf8_is_text(good[i], strlen(good[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!utf8_is_text(bad[i], strlen(bad[i])));
	CHECK(!utf8_is_text("a\0b", 3));
	CHECK(utf8_is_text("a\0b", 1));
}

static char *sanitize(const char *p, size_t n)
{
	struct buf b;

	buf_init(&b, BUF_NO_CAP);
	utf8_sanitize(p, n, &b);
	return buf_detach(&b, NULL);
}

static void test_utf8_sanitize(void)
{
	char *s;

	s = sanitize("na\xc3\xafve", 6);
	CHECK_STR(s, "na\xc3\xafve");
	free(s);
	s = sanitize("a\xff" "b", 3);
	CHECK_STR(s, "a\xef\xbf\xbd" "b");
	free(s);
	s = sanitize("a\0b", 3);
	CHECK_STR(s, "a\xef\xbf\xbd" "b");
	free(s);
	s = sanitize("\xed\xa0\x80", 3);
	CHECK_STR(s, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	free(s);
	s = sanitize("ok\xe6\x97", 4);
	CHECK_STR(s, "ok\xef\xbf\xbd\xef\xbf\xbd");
	CHECK(utf8_is_text(s, strlen(s)));
	free(s);
	s = sanitize("", 0);
	CHECK_STR(s, "");
	free(s);
}

static void test_utf8_floor(void)
{
	/* a, é (2), 日 (3), 😀 (4), b: boundaries at 0 1 3 6 10 11 */
	static const char s[] = "a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80" "b";
	static const size_t want[] = { 0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 11 };
	size_t n;
	int bad = 0;

	for (n = 0; n <= 11; n++)
		if (utf8_floor(s, n) != want[n])
			bad++;
	CHECK(bad == 0);
	CHECK(utf8_floor("abc", 2) == 2);
	CHECK(utf8_floor("", 0) == 0);
}

/* ---- buf ---- */

static void test_buf_cap(void)
{
	struct buf b;

	buf_init(&b, 5);
	CHECK(b.data == NULL && b.len == 0);
	buf_adds(&b, "hello world");
	CHECK(b.len == 5 && b.total == 11 && b.truncated);
	CHECK_STR(b.data, "hello");
	buf_addch(&b, '!');
	buf_addf(&b, "%d", 42);
	CHECK(b.len == 5 && b.total == 14);
	buf_reset(&b);
	CHECK(b.len == 0 && b.total == 0 && !b.truncated && b.cap == 5);
	CHECK_STR(b.data, "");
	buf_adds(&b, "abc");
	CHECK(!b.truncated && b.total == 3);
	buf_release(&b);
	CHECK(b.data == NULL && b.cap == 5);

	buf_init(&b, 0);
	buf_add(&b, "x", 1);
	CHECK(b.len == 0 && b.total == 1 && b.truncated);
	CHECK_STR(b.data, "");
	buf_release(&b);
}

/* A reserved body never reallocates on its way to the cap. */
static void test_buf_reserve(void)
{
	struct buf b;
	char *first;

	buf_init(&b, 100);
	buf_reserve(&b, 1000);
	CHECK(b.alloc == 101 && b.len == 0);
	CHECK_STR(b.data, "");
	first = b.data;
	buf_add(&b, "0123456789", 10);
	buf_reserve(&b, 50);
	CHECK(b.data == first && b.alloc == 101);
	while (b.total < 200)
		buf_add(&b, "0123456789", 10);
	CHECK(b.data == first && b.len == 100 && b.total == 200 && b.truncated);
	buf_release(&b);

	buf_init(&b, BUF_NO_CAP);
	buf_reserve(&b, 10);
	buf_adds(&b, "0123456789abc");
	CHECK(b.len == 13 && b.alloc >= 14);
	CHECK_STR(b.data, "0123456789abc");
	buf_release(&b);
}

static void test_buf_grow(void)
{
	struct buf b;
	char *p;
	size_t n, i;
	bool same = true;

	buf_init(&b, BUF_NO_CAP);
	buf_add(&b, "", 0);
	CHECK(b.data != NULL && b.len == 0);
	for (i = 0; i < 100000; i++)
		buf_addch(&b, (char)('a' + i % 26));
	CHECK(b.len == 100000 && !b.truncated && b.data[100000] == '\0');
	for (i = 0; i < 100000; i++)
		same = same && b.data[i] == (char)('a' + i % 26);
	CHECK(same);
	buf_reset(&b);
	buf_add(&b, "a\0b", 3);
	CHECK(b.len == 3 && !memcmp(b.data, "a\0b", 4));
	p = buf_detach(&b, &n);
	CHECK(n == 3 && b.data == NULL && b.len == 0);
	free(p);
	p = buf_detach(&b, &n);
	CHECK(n == 0 && p && *p == '\0');
	free(p);
}

static void test_buf_addf(void)
{
	struct buf b;
	char big[600];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, BUF_NO_CAP);
	buf_addf(&b, "%s=%d;", "n", 7);
	buf_addf(&b, "%s", big);
	CHECK(b.len == 4 + 599);
	CHECK(!strncmp(b.data, "n=7;xxx", 7));
	buf_release(&b);
	buf_init(&b, 10);
	buf_addf(&b, "%s", big);
	CHECK(b.len == 10 && b.total == 599 && b.truncated);
	buf_release(&b);
}

/* ---- uuid ---- */

static void test_uuid_format(void)
{
	char id[UUID_STR_LEN + 1], other[UUID_STR_LEN + 1];
	size_t i;
	bool lower = true;

	uuid_v7(id, 1645557742000LL);
	CHECK(strlen(id) == 36);
	CHECK(uuid_valid(id));
	CHECK(!strncmp(id, "017f22e2-79b0-7", 15));
	CHECK(strchr("89ab", id[19]) != NULL);
	for (i = 0; i < 36; i++)
		lower = lower && !isupper((unsigned char)id[i]);
	CHECK(lower);
	uuid_v7(other, 1645557742000LL);
	CHECK(strcmp(id, other) != 0);
}

static void test_uuid_order_and_time(void)
{
	static const int64_t times[] = { 0, 1, 999, 1732000000000LL, 1732000000001LL,
					 (1LL << 48) - 1 };
	char prev[UUID_STR_LEN + 1] = "", id[UUID_STR_LEN + 1];
	size_t i;
	int bad = 0;
	int64_t ms;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		uuid_v7(id, times[i]);
		if (uuid_v7_time(id) != times[i] || strcmp(prev, id) >= 0)
			bad++;
		memcpy(prev, id, sizeof(id));
	}
	CHECK(bad == 0);
	for (ms = 1732000000000LL; ms < 1732000000000LL + 2000; ms++) {
		uuid_v7(id, ms);
		if (strcmp(prev, id) >= 0 && ms > 1732000000000LL)
			bad++;
		if (uuid_v7_time(id) != ms || id[14] != '7' || !strchr("89ab", id[19]))
			bad++;
		memcpy(prev, id, sizeof(id));
	}
	CHECK(bad == 0);
}

static void test_uuid_valid(void)
{
	CHECK(uuid_valid("017f22e2-79b0-7cc3-98c4-dc0c0c07398f"));
	CHECK(uuid_valid("017F22E2-79B0-7CC3-98C4-DC0C0C07398F"));
	CHECK(!uuid_valid(""));
	CHECK(!uuid_valid("017f22e2-79b0-7cc3-98c4-dc0c0c07398"));
	CHECK(!uuid_valid("017f22e2-79b0-7cc3-98c4-dc0c0c07398f0"));
	CHECK(!uuid_valid("017f22e2079b0-7cc3-98c4-dc0c0c07398f"));
	CHECK(!uuid_valid("017f22e2-79b0-7cc3-98c4-dc0c0c07398g"));
	CHECK(!uuid_valid("017f22e279b07cc398c4dc0c0c07398f"));
	CHECK(!uuid_valid("{17f22e2-79b0-7cc3-98c4-dc0c0c07398f"));
	CHECK(uuid_v7_time("017f22e2-79b0-7cc3-98c4-dc0c0c07398f") == 1645557742000LL);
	CHECK(uuid_v7_time("550e8400-e29b-41d4-a716-446655440000") == -1);
	CHECK(uuid_v7_time("not-a-uuid") == -1);
}

/* ---- sha256 ---- */

static void hex_digest(const void *p, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	int i;

	sha256(p, n, d);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}

static void test_sha256(void)
{
	static const struct { size_t n; const char *digest; } as[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
		{ 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0" },
		{ 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	};
	char out[65];
	char *a = malloc(1000000);
	size_t i;

	hex_digest("", 0, out);
	CHECK_STR(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_digest("abc", 3, out);
	CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, out);
	CHECK_STR(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(a, 'a', 1000000);
	for (i = 0; i < sizeof(as) / sizeof(as[0]); i++) {
		hex_digest(a, as[i].n, out);
		CHECK_STR(out, as[i].digest);
	}
	free(a);
}

int main(void)
{
	test_buf_reserve();
	test_config_defaults();
	test_config_file();
	test_config_env_wins();
	test_config_errors();
	test_config_bad_values();
	test_config_sizes();
	test_config_print();
	test_key_from_auth();
	test_key_hint();
	test_key_fingerprint();
	test_key_header();
	test_key_mask();
	test_utf8_valid();
	test_utf8_sanitize();
	test_utf8_floor();
	test_buf_cap();
	test_buf_grow();
	test_buf_addf();
	test_uuid_format();
	test_uuid_order_and_time();
	test_uuid_valid();
	test_sha256();
	return check_done("test_common");
}
