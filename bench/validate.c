/* validate.c (acms-bench-validate): microseconds per document for the path `acmsctl validate` takes
 * on JSON text: parse -> value tree -> adapter_prepare -> validator_validate (the document converted once
 * and not hashed for config_hash, its adaptation reasons left unrendered, as acmsctl validate does),
 * offline (no Redis),
 * everything in one arena per document, as the services do. Prints one JSON line:
 *   {"file":..., "bytes":..., "steps":..., "valid":..., "us":<median of runs>, "runs":[...]}
 * Each run is --iters documents after a warm-up; the median of --runs runs is reported. Time is the
 * process's CPU time (CLOCK_PROCESS_CPUTIME_ID), so time spent descheduled on a shared machine does
 * not count; wall time is reported beside it ("wall_us"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/adapter.h"
#include "benchlib.h"
#include "doc.h"
#include "log.h"
#include "profile.h"
#include "validator/validator.h"

typedef struct bench_ctx {
    const char *text;
    size_t len;
    const char *env;
    adapter_ctx actx;
    validator_ctx vctx;
} bench_ctx;

/* One document through the whole path; returns 1 valid, 0 invalid, -1 unusable. */
static int one(const bench_ctx *b, acms_arena *a, size_t *steps, size_t *issues, size_t *warnings)
{
    Acms__V1__Value **docs = NULL;
    size_t ndocs = 0;
    char err[256];
    if (acms_doc_parse(a, b->text, b->len, &docs, &ndocs, err, sizeof err) != ACMS_OK || ndocs != 1) {
        fprintf(stderr, "acms-bench-validate: %s\n", err);
        return -1;
    }
    Acms__V1__ConfigSubmitted *in = acms_pb_new(a, &acms__v1__config_submitted__descriptor);
    in->meta = acms_meta_new(a, "bench", "acms-bench", "bench", "validate", NULL);
    in->meta->timestamp_ms = 0;
    in->environment = (char *)b->env;
    in->document = docs[0];
    in->source_name = "bench.json";
    acms_issues is;
    acms_issues_init(&is, a, "syntax");
    Acms__V1__RuntimeConfiguration *rc = NULL;
    acms_doc_converted written;
    if (adapter_prepare_kept(&b->actx, a, in, &rc, &is, &written) != ACMS_OK)
        return 0;
    Acms__V1__ValidationResult *res = NULL;
    if (validator_validate_converted(&b->vctx, a, rc, docs[0], &written, &res) != ACMS_OK)
        return -1;
    *steps = rc->pipeline->n_steps;
    *issues = res->n_issues;
    *warnings = res->n_warnings;
    return res->valid ? 1 : 0;
}

static int64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
            *len = fread(buf, 1, (size_t)n, f);
            buf[*len] = '\0';
        }
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    const char *file = NULL, *config_dir = "examples";
    bench_ctx b = {.env = "dev"};
    int iters = 0, runs = 7, rc = 1;
    double *per = NULL;
    acms_profiles prof;
    char err[512];
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--env") && v)
            b.env = v, i++;
        else if (!strcmp(argv[i], "--config-dir") && v)
            config_dir = v, i++;
        else if (!strcmp(argv[i], "--iters") && v)
            iters = atoi(v), i++;
        else if (!strcmp(argv[i], "--runs") && v)
            runs = atoi(v), i++;
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            fprintf(stderr, "usage: acms-bench-validate FILE [--env dev] [--config-dir examples] [--iters N] [--runs R]\n");
            return 2;
        }
    }
    if (!file || runs < 1) {
        fprintf(stderr, "usage: acms-bench-validate FILE [--env dev] [--config-dir examples] [--iters N] [--runs R]\n");
        return 2;
    }
    acms_log_init("acms-bench-validate", "error");
    char *text = slurp(file, &b.len);
    if (!text) {
        perror(file);
        return 2;
    }
    b.text = text;
    if (acms_profiles_load(&prof, config_dir, err, sizeof err) != ACMS_OK) {
        fprintf(stderr, "acms-bench-validate: %s: %s\n", config_dir, err);
        free(text);
        return 2;
    }
    b.actx = (adapter_ctx){
        .profiles = &prof, .redis = NULL, .check_secrets = 0, .no_config_hash = 1, .keep_reason_templates = 1};
    b.vctx = (validator_ctx){.profiles = &prof, .redis = NULL};

    size_t steps = 0, issues = 0, warnings = 0;
    int valid;
    {
        acms_arena *a = acms_arena_new(0);
        valid = one(&b, a, &steps, &issues, &warnings);
        acms_arena_free(a);
    }
    if (valid < 0)
        goto out;
    if (iters <= 0) {
        /* about 0.2 s a run: calibrate on a short warm-up */
        int64_t t0 = cpu_us();
        int n = 0;
        while (cpu_us() - t0 < 50000) {
            acms_arena *a = acms_arena_new(0);
            one(&b, a, &steps, &issues, &warnings);
            acms_arena_free(a);
            n++;
        }
        iters = (int)(n * 4);
        if (iters < 10)
            iters = 10;
    }
    per = calloc((size_t)runs, sizeof *per);
    double *copy = calloc((size_t)runs, sizeof *copy), *wall = calloc((size_t)runs, sizeof *wall);
    if (!per || !copy || !wall)
        goto out;
    for (int r = 0; r < runs; r++) {
        int64_t t0 = cpu_us(), w0 = bench_now_us();
        for (int i = 0; i < iters; i++) {
            acms_arena *a = acms_arena_new(0);
            one(&b, a, &steps, &issues, &warnings);
            acms_arena_free(a);
        }
        per[r] = (double)(cpu_us() - t0) / iters;
        wall[r] = (double)(bench_now_us() - w0) / iters;
    }
    memcpy(copy, per, (size_t)runs * sizeof *per);
    double wall_med = bench_median(wall, (size_t)runs);
    free(wall);
    printf("{\"file\":\"%s\",\"bytes\":%zu,\"steps\":%zu,\"valid\":%s,\"errors\":%zu,\"warnings\":%zu,\"iters\":%d,"
           "\"us\":%.3f,\"wall_us\":%.3f,\"runs\":[",
           file, b.len, steps, valid ? "true" : "false", issues, warnings, iters, bench_median(copy, (size_t)runs),
           wall_med);
    for (int r = 0; r < runs; r++)
        printf("%s%.3f", r ? "," : "", per[r]);
    printf("]}\n");
    free(copy);
    rc = 0;
out:
    free(per);
    acms_profiles_release(&prof);
    free(text);
    return rc;
}
