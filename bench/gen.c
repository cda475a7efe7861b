/* gen.c (acms-bench-gen): writes a generated pipeline document on stdout, as compact JSON, YAML,
 * or a Makefile with the same dependency graph (for the coordinator vs make comparison).
 * Deterministic: the same options print the same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"

static int usage(void)
{
    fprintf(stderr, "usage: acms-bench-gen [--steps N] [--seed S] [--format json|yaml|make] [--shape realistic|tree]\n"
                    "                      [--max-parallel N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    size_t steps = 6;
    unsigned long long seed = 1;
    const char *format = "json";
    bench_shape shape = BENCH_SHAPE_REALISTIC;
    int max_parallel = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (!strcmp(argv[i], "--steps"))
            steps = strtoul(v, NULL, 10);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(v, NULL, 10);
        else if (!strcmp(argv[i], "--format"))
            format = v;
        else if (!strcmp(argv[i], "--shape"))
            shape = !strcmp(v, "tree") ? BENCH_SHAPE_TREE : BENCH_SHAPE_REALISTIC;
        else if (!strcmp(argv[i], "--max-parallel"))
            max_parallel = atoi(v);
        else
            return usage();
        i++;
    }
    if (steps == 0)
        return usage();
    if (!strcmp(format, "make")) {
        /* the tree only: step i runs after step (i-1)/2, every recipe is `true` */
        printf(".PHONY: all");
        for (size_t i = 0; i < steps; i++)
            printf(" s%zu", i);
        printf("\nall:");
        for (size_t i = 0; i < steps; i++)
            printf(" s%zu", i);
        printf("\n");
        for (size_t i = 0; i < steps; i++) {
            if (i == 0)
                printf("s0:\n\t@true\n");
            else
                printf("s%zu: s%zu\n\t@true\n", i, (i - 1) / 2);
        }
        return 0;
    }
    char *doc = bench_pipeline(steps, seed, !strcmp(format, "json"), shape, max_parallel);
    fputs(doc, stdout);
    if (strcmp(format, "json") == 0)
        putchar('\n');
    free(doc);
    return 0;
}
