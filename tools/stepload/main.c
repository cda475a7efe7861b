/* acms-stepload: a step workload for tests and benchmarks. In order: checks required variables,
 * appends "<ACMS_RUN_ID> <ACMS_STEP> <ACMS_ATTEMPT>" to --touch FILE (one O_APPEND write, so each
 * started attempt leaves exactly one line), prints requested variables, allocates and touches
 * --mem-mb MiB gradually (~100 ms), burns --cpu-ms of CPU time, sleeps --sleep-ms, exits --exit CODE.
 * Plain C and libc only. Usage errors exit 2; a missing required variable exits 4. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_NAMES 16
#ifndef ACMS_VERSION
#define ACMS_VERSION "0.0.0"
#endif

typedef struct opts {
    long mem_mb, cpu_ms, sleep_ms, exit_code;
    const char *touch;
    const char *require[MAX_NAMES];
    size_t nrequire;
    const char *print[MAX_NAMES];
    size_t nprint;
} opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: acms-stepload [--mem-mb N] [--cpu-ms M] [--sleep-ms S] [--touch FILE] [--exit CODE]\n"
               "                     [--fail-if-env-missing NAME]... [--print-env NAME]... | --help | --version\n"
               "Allocates and touches N MiB over ~100 ms, burns M ms of CPU, sleeps S ms, appends\n"
               "\"$ACMS_RUN_ID $ACMS_STEP $ACMS_ATTEMPT\" to FILE first, and exits CODE (default 0).\n");
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !*s || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--version")) {
            printf("acms-stepload %s\n", ACMS_VERSION);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "acms-stepload: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        long *num = !strcmp(a, "--mem-mb")     ? &o->mem_mb
                    : !strcmp(a, "--cpu-ms")   ? &o->cpu_ms
                    : !strcmp(a, "--sleep-ms") ? &o->sleep_ms
                    : !strcmp(a, "--exit")     ? &o->exit_code
                                               : NULL;
        if (num) {
            if (parse_long(v, num) < 0 || (num == &o->exit_code && *num > 255)) {
                fprintf(stderr, "acms-stepload: %s: '%s' is not a valid number\n", a, v);
                return -1;
            }
        } else if (!strcmp(a, "--touch")) {
            o->touch = v;
        } else if (!strcmp(a, "--fail-if-env-missing") && o->nrequire < MAX_NAMES) {
            o->require[o->nrequire++] = v;
        } else if (!strcmp(a, "--print-env") && o->nprint < MAX_NAMES) {
            o->print[o->nprint++] = v;
        } else {
            fprintf(stderr, "acms-stepload: unknown or repeated option '%s'\n", a);
            return -1;
        }
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static long cpu_ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v ? v : dflt;
}

static int touch(const char *path)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%s %s %s\n", env_or("ACMS_RUN_ID", "-"), env_or("ACMS_STEP", "-"),
                     env_or("ACMS_ATTEMPT", "-"));
    if (n < 0 || (size_t)n >= sizeof line) {
        fprintf(stderr, "acms-stepload: identity line too long\n");
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n) {
        fprintf(stderr, "acms-stepload: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {0};
    if (parse(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < o.nrequire; i++)
        if (!getenv(o.require[i])) {
            fprintf(stderr, "acms-stepload: required variable %s is not set\n", o.require[i]);
            return 4;
        }
    if (o.touch && touch(o.touch) < 0)
        return 3;
    for (size_t i = 0; i < o.nprint; i++)
        printf("%s=%s\n", o.print[i], env_or(o.print[i], ""));
    fflush(stdout);

    char *mem = NULL;
    if (o.mem_mb > 0) {
        size_t total = (size_t)o.mem_mb << 20;
        mem = malloc(total);
        if (!mem) {
            fprintf(stderr, "acms-stepload: cannot allocate %ld MiB\n", o.mem_mb);
            return 5;
        }
        long page = sysconf(_SC_PAGESIZE);
        size_t step = total / 10 + 1;
        for (size_t done = 0; done < total; done += step) { /* ten slices over ~100 ms */
            size_t end = done + step < total ? done + step : total;
            for (size_t p = done; p < end; p += (size_t)(page > 0 ? page : 4096))
                mem[p] = (char)(p >> 12);
            sleep_ms(10);
        }
        fprintf(stderr, "acms-stepload: touched %ld MiB\n", o.mem_mb);
    }
    if (o.cpu_ms > 0) {
        long start = cpu_ms_now();
        volatile unsigned long x = 0;
        while (cpu_ms_now() - start < o.cpu_ms)
            for (int i = 0; i < 100000; i++)
                x += (unsigned long)i * 2654435761u;
    }
    if (o.sleep_ms > 0)
        sleep_ms(o.sleep_ms);
    free(mem);
    if (o.exit_code)
        fprintf(stderr, "acms-stepload: exiting with code %ld as asked\n", o.exit_code);
    return (int)o.exit_code;
}
