/* Monotonic time in milliseconds: deadlines and waits (never the wall clock,
 * which a container's host may step). */
#ifndef K3S_INIT_CLOCK_H
#define K3S_INIT_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC; -1 with errno if the clock cannot be read. */
long long clock_monotonic_ms(void);

/* Microseconds on CLOCK_MONOTONIC, for the debug log's step timings; -1 with
 * errno if the clock cannot be read. */
long long clock_monotonic_us(void);
/* Sleep for ms milliseconds (restarted after a signal). */
void clock_sleep_ms(long ms);

#endif
