/* doc_fixture.h: shared helpers of the document, catalogue and profile unit tests: the repository
 * root (ACMS_REPO, or walking up from the working directory to a dir holding examples/catalog.yaml),
 * parsing a string or a file into one document, and scratch directories that clean up after
 * themselves. static inline, so unused helpers cost nothing. */
#ifndef ACMS_TEST_DOC_FIXTURE_H
#define ACMS_TEST_DOC_FIXTURE_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doc.h"

/* The repository root into buf, or NULL. */
static inline const char *dfx_repo(char *buf, size_t size)
{
    const char *env = getenv("ACMS_REPO");
    char probe[PATH_MAX + 32];
    if (env && *env) {
        int n = snprintf(buf, size, "%s", env);
        return n < 0 || (size_t)n >= size ? NULL : buf;
    }
    if (!getcwd(buf, size)) return NULL;
    for (;;) {
        int n = snprintf(probe, sizeof probe, "%s/examples/catalog.yaml", buf);
        if (n > 0 && (size_t)n < sizeof probe && access(probe, R_OK) == 0) return buf;
        char *slash = strrchr(buf, '/');
        if (!slash || slash == buf) return NULL;
        *slash = '\0';
    }
}

/* <repo>/rel into buf (NULL when the repository is not found). */
static inline const char *dfx_path(char *buf, size_t size, const char *rel)
{
    char root[PATH_MAX];
    if (!dfx_repo(root, sizeof root)) return NULL;
    int n = snprintf(buf, size, "%s/%s", root, rel);
    return n < 0 || (size_t)n >= size ? NULL : buf;
}

/* Parses text and returns its first document (NULL on error, with err filled). */
static inline Acms__V1__Value *dfx_parse(acms_arena *a, const char *text, char *err, size_t errsize)
{
    Acms__V1__Value **docs = NULL;
    size_t n = 0;
    if (acms_doc_parse(a, text, strlen(text), &docs, &n, err, errsize) != ACMS_OK || n == 0) return NULL;
    return docs[0];
}

/* A fresh scratch directory (mkdtemp) into buf. */
static inline const char *dfx_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/acms-test-XXXXXX");
    return mkdtemp(buf);
}

/* dir/name into buf (NULL when it does not fit). */
static inline const char *dfx_join(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= size ? NULL : buf;
}

/* Writes text to dir/rel (creating one level of subdirectory when rel has a '/'); 0 on success. */
static inline int dfx_write(const char *dir, const char *rel, const char *text)
{
    char path[PATH_MAX];
    const char *slash = strchr(rel, '/');
    if (slash) {
        int n = snprintf(path, sizeof path, "%s/%.*s", dir, (int)(slash - rel), rel);
        if (n < 0 || (size_t)n >= sizeof path) return -1;
        mkdir(path, 0700);
    }
    if (!dfx_join(path, sizeof path, dir, rel)) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t len = strlen(text);
    int ok = fwrite(text, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static inline int dfx_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes a scratch directory made by dfx_tmpdir and everything in it. */
static inline void dfx_rmdir(const char *dir)
{
    if (strncmp(dir, "/tmp/acms-test-", 15) != 0) return; /* only what dfx_tmpdir made */
    if (nftw(dir, dfx_rm_one, 8, FTW_DEPTH | FTW_PHYS) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

#endif
