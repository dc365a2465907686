/* hostcheck.c - loopback names and addresses, for the DNS-rebinding guard. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "hostcheck.h"
#include "banned.h"

bool addr_is_loopback(const char *addr)
{
	return !strcmp(addr, "localhost") || !strncmp(addr, "127.", 4) ||
	       !strcmp(addr, "::1") || !strcmp(addr, "[::1]");
}

bool host_is_loopback(const char *host)
{
	char name[256];
	size_t n;

	if (!host || !*host)
		return false;
	if (host[0] == '[') {
		n = strcspn(host, "]");
		return n == 4 && !strncmp(host, "[::1]", 5) && (host[5] == '\0' || host[5] == ':');
	}
	n = strcspn(host, ":");
	if (n == 0 || n >= sizeof(name))
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	if (!strcasecmp(name, "localhost") || !strcasecmp(name, "localhost."))
		return true;
	if (strncmp(name, "127.", 4))
		return false;
	for (n = 4; name[n]; n++)
		if (!isdigit((unsigned char)name[n]) && name[n] != '.')
			return false;
	return true;
}
