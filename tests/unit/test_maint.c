/* test_maint.c - how often the history is pruned. */
#include <limits.h>

#include "check.h"
#include "../../proxy_fcgi/maint.c"

static void test_prune_every(void)
{
	CHECK(prune_every_s(50, 0) == 10);            /* a short history: every tick */
	CHECK(prune_every_s(200000, 0) == 10);
	CHECK(prune_every_s(400000, 0) == 20);
	CHECK(prune_every_s(1000000, 0) == 50);       /* the default: 75 ms of index walk */
	CHECK(prune_every_s(1000000, 10000) == 50);
	CHECK(prune_every_s(1000000, 10001) == 10);   /* captures coming in fast: every tick */
	CHECK(prune_every_s(100000000, 0) == 60);     /* never longer than a minute */
	CHECK(prune_every_s(LONG_MAX, 0) == 60);
}

int main(void)
{
	test_prune_every();
	return check_done("test_maint");
}
