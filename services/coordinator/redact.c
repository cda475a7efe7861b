/* redact.c: masking of an attempt's resolved secret values (redact.h). Patterns are kept longest
 * first, so a value containing another is masked whole. */
#include "redact.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define REDACT_FILE_MAX (64L * 1024 * 1024)

struct coord_redact {
    char **p;
    size_t *len;
    size_t n, cap;
};

coord_redact *coord_redact_new(void)
{
    return calloc(1, sizeof(coord_redact));
}

void coord_redact_free(coord_redact *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        explicit_bzero(r->p[i], r->len[i]);
        free(r->p[i]);
    }
    free(r->p);
    free(r->len);
    free(r);
}

int coord_redact_empty(const coord_redact *r)
{
    return !r || r->n == 0;
}

/* Adds one pattern (copied), keeping the list longest first; duplicates are skipped. */
static int add_one(coord_redact *r, const char *s, size_t n)
{
    if (n < COORD_REDACT_MIN)
        return 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->len[i] == n && !memcmp(r->p[i], s, n))
            return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        char **p = realloc(r->p, cap * sizeof *p);
        if (!p)
            return -1;
        r->p = p;
        size_t *l = realloc(r->len, cap * sizeof *l);
        if (!l)
            return -1;
        r->len = l;
        r->cap = cap;
    }
    char *c = malloc(n);
    if (!c)
        return -1;
    memcpy(c, s, n);
    size_t at = r->n;
    while (at > 0 && r->len[at - 1] < n)
        at--;
    memmove(r->p + at + 1, r->p + at, (r->n - at) * sizeof *r->p);
    memmove(r->len + at + 1, r->len + at, (r->n - at) * sizeof *r->len);
    r->p[at] = c;
    r->len[at] = n;
    r->n++;
    return 0;
}

/* base64 of v (standard); url != 0: '-' '_' alphabet. Padding dropped when nopad. */
static int add_b64(coord_redact *r, const char *v, size_t n, int url, int nopad)
{
    size_t cap = 4 * ((n + 2) / 3) + 1;
    char *b = malloc(cap);
    if (!b)
        return -1;
    int k = EVP_EncodeBlock((unsigned char *)b, (const unsigned char *)v, (int)n);
    size_t m = k > 0 ? (size_t)k : 0;
    for (size_t i = 0; url && i < m; i++)
        b[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
    while (nopad && m > 0 && b[m - 1] == '=')
        m--;
    int rc = add_one(r, b, m);
    explicit_bzero(b, cap);
    free(b);
    return rc;
}

/* Percent-encoding of every byte outside [A-Za-z0-9-._~] (upper-case hex; lower-case too), and
 * the form-encoding where a space is '+'. */
static int add_pct(coord_redact *r, const char *v, size_t n, int lower, int plus)
{
    static const char up[] = "0123456789ABCDEF", lo[] = "0123456789abcdef";
    const char *hex = lower ? lo : up;
    char *b = malloc(3 * n + 1);
    if (!b)
        return -1;
    size_t m = 0;
    int changed = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
            b[m++] = (char)c;
        } else if (plus && c == ' ') {
            b[m++] = '+';
            changed = 1;
        } else {
            b[m++] = '%';
            b[m++] = hex[c >> 4];
            b[m++] = hex[c & 15];
            changed = 1;
        }
    }
    int rc = changed ? add_one(r, b, m) : 0;
    explicit_bzero(b, 3 * n + 1);
    free(b);
    return rc;
}

int coord_redact_add(coord_redact *r, const char *value)
{
    size_t n = value ? strlen(value) : 0;
    if (!r || n < COORD_REDACT_MIN)
        return 0;
    if (add_one(r, value, n) || add_b64(r, value, n, 0, 0) || add_b64(r, value, n, 0, 1) ||
        add_b64(r, value, n, 1, 1) || add_pct(r, value, n, 0, 0) || add_pct(r, value, n, 1, 0) ||
        add_pct(r, value, n, 0, 1))
        return -1;
    return 0;
}

size_t coord_redact_buf(const coord_redact *r, char *buf, size_t len)
{
    static const size_t ml = sizeof COORD_REDACT_MASK - 1;
    for (size_t i = 0; r && i < r->n; i++) {
        size_t pl = r->len[i], at = 0;
        char *hit;
        while (at + pl <= len && (hit = memmem(buf + at, len - at, r->p[i], pl)) != NULL) {
            size_t off = (size_t)(hit - buf);
            memcpy(hit, COORD_REDACT_MASK, ml);
            memmove(hit + ml, hit + pl, len - off - pl);
            len -= pl - ml;
            at = off + ml;
        }
    }
    return len;
}

void coord_redact_str(const coord_redact *r, char *s)
{
    if (!s || coord_redact_empty(r))
        return;
    size_t n = coord_redact_buf(r, s, strlen(s));
    s[n] = '\0';
}

int coord_redact_file(const coord_redact *r, const char *path)
{
    if (coord_redact_empty(r))
        return 0;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct stat st;
    char *buf = NULL;
    size_t alloc = 0;
    int rc = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if (st.st_size > REDACT_FILE_MAX) {
        static const char note[] = "[acms: log removed: too large to mask the step's secrets in it]\n";
        rc = ftruncate(fd, 0) == 0 && pwrite(fd, note, sizeof note - 1, 0) == (ssize_t)(sizeof note - 1) ? 0 : -1;
        goto out;
    }
    size_t n = (size_t)st.st_size, got = 0;
    if (!(buf = malloc(n + 1)))
        goto out;
    alloc = n + 1;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    size_t m = coord_redact_buf(r, buf, got);
    if (m == got) {
        rc = 0;
        goto out;
    }
    rc = pwrite(fd, buf, m, 0) == (ssize_t)m && ftruncate(fd, (off_t)m) == 0 ? 0 : -1;
out:
    if (buf) {
        explicit_bzero(buf, alloc);
        free(buf);
    }
    close(fd);
    return rc;
}
