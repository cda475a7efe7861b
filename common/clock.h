/* clock.h: an injectable monotonic clock for code that waits for or bounds time (deadlines,
 * backoffs). A NULL acms_clock is the system's: acms_mono_ms (acms.h) and nanosleep. A test hands
 * in its own to decide what time it is and to record the waits instead of sleeping them, so
 * what it checks does not depend on how loaded the machine is. */
#ifndef ACMS_CLOCK_H
#define ACMS_CLOCK_H

#include <stdint.h>

typedef struct acms_clock {
    int64_t (*mono_ms)(void *ud);           /* monotonic milliseconds */
    void (*sleep_ms)(void *ud, int64_t ms); /* waits ms (ms > 0) */
    void *ud;
} acms_clock;

/* Monotonic milliseconds from c, or acms_mono_ms() when c is NULL. */
int64_t acms_clock_mono(const acms_clock *c);
/* Waits ms milliseconds on c (nothing when ms <= 0); with c NULL, nanosleep resumed after signals. */
void acms_clock_sleep(const acms_clock *c, int64_t ms);

#endif
