/* test_stats.c - the timeline's bucket widths. */
#include "check.h"
#include "../../dashboard_fcgi/stats.c"

/* queries.c prices the live statistics per UTC day inside each bucket:
 * every width must divide a day or be whole days. */
static void test_buckets_nest_in_days(void)
{
	long long span;

	for (span = 60; span < 20LL * 365 * 86400; span = span * 5 / 4 + 1) {
		long b = bucket_seconds(span);

		CHECK(86400 % b == 0 || b % 86400 == 0);
		CHECK(span / b < TIMELINE_POINTS || b == 2592000);
	}
}

int main(void)
{
	test_buckets_nest_in_days();
	return check_done("test_stats");
}
