/* clock.c: the wall clock and the monotonic clock in milliseconds (acms.h), and the injectable
 * monotonic clock (clock.h). */
#include "clock.h"

#include <errno.h>
#include <time.h>

#include "acms.h"

int64_t acms_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t acms_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t acms_clock_mono(const acms_clock *c)
{
    return c && c->mono_ms ? c->mono_ms(c->ud) : acms_mono_ms();
}

void acms_clock_sleep(const acms_clock *c, int64_t ms)
{
    if (ms <= 0)
        return;
    if (c && c->sleep_ms) {
        c->sleep_ms(c->ud, ms);
        return;
    }
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
