/* headers.c - header names from CGI params and hop-by-hop filtering. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "headers.h"
#include "banned.h"

static const char *const hop_by_hop[] = {
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "TE", "Trailer", "Trailers", "Transfer-Encoding",
	"Upgrade", NULL
};

/* Set by curl from the request we build, or meaningless after decoding. */
static const char *const curl_owned[] = {
	"Host", "Content-Length", "Expect", "Accept-Encoding", NULL
};

static bool in_list(const char *name, size_t len, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == len && !strncasecmp(name, *list, len))
			return true;
	return false;
}

const char *hdr_from_cgi(const char *param, char *out, size_t outlen)
{
	const char *p = param + 5, *eq;
	size_t o = 0;
	bool word_start = true;

	if (strncmp(param, "HTTP_", 5) || !(eq = strchr(p, '=')) || eq == p)
		return NULL;
	if ((size_t)(eq - p) + 1 > outlen)
		return NULL;
	for (; p < eq; p++) {
		if (*p == '_') {
			out[o++] = '-';
			word_start = true;
			continue;
		}
		if (word_start && !strncmp(p, "OPENAI", 6) && (p + 6 == eq || p[6] == '_')) {
			memcpy(out + o, "OpenAI", 6);
			o += 6;
			p += 5;
		} else {
			out[o++] = (char)(word_start ? toupper((unsigned char)*p) :
					  tolower((unsigned char)*p));
		}
		word_start = false;
	}
	out[o] = '\0';
	return eq + 1;
}

/* true if the comma-separated list names name[0..n) (case-insensitive). */
static bool list_has(const char *list, const char *name, size_t n)
{
	while (list && *list) {
		size_t len;

		list += strspn(list, " \t,");
		len = strcspn(list, " \t,");
		if (len && len == n && !strncasecmp(list, name, n))
			return true;
		list += len;
	}
	return false;
}

bool hdr_request_drop(const char *name, const char *connection)
{
	size_t len = strlen(name);

	return in_list(name, len, hop_by_hop) || in_list(name, len, curl_owned) ||
	       !strncasecmp(name, "X-Capture-", 10) || list_has(connection, name, len);
}

bool hdr_response_drop(const char *name, size_t len, bool decoded, const char *connection)
{
	/* "Status" would set the status lighttpd sends (CGI rules) */
	if (in_list(name, len, hop_by_hop) || (len == 6 && !strncasecmp(name, "Status", 6)))
		return true;
	if (list_has(connection, name, len))
		return true;
	if (decoded && ((len == 14 && !strncasecmp(name, "Content-Length", 14)) ||
			(len == 16 && !strncasecmp(name, "Content-Encoding", 16))))
		return true;
	return false;
}

bool hdr_value_unsafe(const char *value, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
			return true;
	return false;
}
