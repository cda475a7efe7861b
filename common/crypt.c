/* crypt.c: envelope encryption (crypt.h) with libcrypto's AES-256-GCM. Invariant: a data key or a
 * master key never leaves this file; both are wiped (OPENSSL_cleanse) once used. */
#include "crypt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define MAX_KEYS 8
#define WRAP_MAX 512
/* The one error for an envelope that does not open as the object asked for. */
#define NOT_THIS_OBJECT "cannot decrypt %s %s@%u: sealed for another id, version or kind, or altered"

typedef struct master {
    char id[80];
    unsigned char key[KEY_LEN]; /* file keys */
    char transit[64];           /* transit: the Vault key name ("" for a file key) */
} master;

struct acms_crypt {
    master keys[MAX_KEYS]; /* keys[0] is the current one */
    size_t n;
    acms_vault *vault; /* borrowed, transit only */
};

/* --- keys ------------------------------------------------------------------------------------- */

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* 32 raw bytes, or 64 hex digits (a trailing newline allowed). */
static int load_key_file(master *m, const char *path, char *errstr, size_t errstr_size)
{
    unsigned char buf[130];
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errstr_size, "master key file %s: %s", path, strerror(errno));
        return ACMS_ERR_INVALID;
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int rc = ACMS_OK;
    if (n == KEY_LEN) {
        memcpy(m->key, buf, KEY_LEN);
    } else {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        rc = n == 2 * KEY_LEN ? ACMS_OK : ACMS_ERR_INVALID;
        for (size_t i = 0; rc == ACMS_OK && i < KEY_LEN; i++) {
            int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
            if (hi < 0 || lo < 0)
                rc = ACMS_ERR_INVALID;
            else
                m->key[i] = (unsigned char)(hi << 4 | lo);
        }
        if (rc != ACMS_OK)
            snprintf(errstr, errstr_size, "master key file %s: expected 32 bytes (or 64 hex digits)", path);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    if (rc != ACMS_OK)
        return rc;
    unsigned char md[32];
    unsigned int mdlen = 32;
    EVP_Digest(m->key, KEY_LEN, md, &mdlen, EVP_sha256(), NULL);
    int k = snprintf(m->id, sizeof m->id, "f-");
    for (int i = 0; i < 8; i++)
        k += snprintf(m->id + k, sizeof m->id - (size_t)k, "%02x", md[i]);
    return ACMS_OK;
}

static int add_files(acms_crypt *c, const char *list, char *errstr, size_t errstr_size)
{
    char path[1024];
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0 && n < sizeof path) {
            if (c->n == MAX_KEYS) {
                snprintf(errstr, errstr_size, "more than %d master keys", MAX_KEYS);
                return ACMS_ERR_INVALID;
            }
            memcpy(path, p, n);
            path[n] = '\0';
            if (load_key_file(&c->keys[c->n], path, errstr, errstr_size) != ACMS_OK)
                return ACMS_ERR_INVALID;
            c->n++;
        }
        p = e ? e + 1 : p + n;
    }
    return ACMS_OK;
}

int acms_crypt_from_files(acms_crypt **out, const char *primary, const char *previous, char *errstr, size_t errstr_size)
{
    *out = NULL;
    acms_crypt *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errstr, errstr_size, "out of memory");
        return ACMS_ERR_NOMEM;
    }
    if (add_files(c, primary, errstr, errstr_size) != ACMS_OK ||
        add_files(c, previous, errstr, errstr_size) != ACMS_OK) {
        acms_crypt_free(c);
        return ACMS_ERR_INVALID;
    }
    *out = c;
    return ACMS_OK;
}

int acms_crypt_from_env(acms_crypt **out, acms_vault *vault, char *errstr, size_t errstr_size)
{
    const char *file = getenv("ACMS_MASTER_KEY_FILE"), *prev = getenv("ACMS_MASTER_KEY_FILE_PREVIOUS");
    const char *transit = getenv("ACMS_MASTER_KEY_TRANSIT");
    *out = NULL;
    if (transit && *transit) {
        if (!vault) {
            snprintf(errstr, errstr_size, "ACMS_MASTER_KEY_TRANSIT needs Vault (VAULT_ADDR)");
            return ACMS_ERR_INVALID;
        }
        acms_crypt *c = calloc(1, sizeof *c);
        if (!c)
            return ACMS_ERR_NOMEM;
        c->vault = vault;
        snprintf(c->keys[0].transit, sizeof c->keys[0].transit, "%s", transit);
        snprintf(c->keys[0].id, sizeof c->keys[0].id, "t-%s", transit);
        c->n = 1;
        if (add_files(c, file, errstr, errstr_size) != ACMS_OK || add_files(c, prev, errstr, errstr_size) != ACMS_OK) {
            acms_crypt_free(c);
            return ACMS_ERR_INVALID;
        }
        *out = c;
        return ACMS_OK;
    }
    if (!file || !*file)
        return ACMS_OK;
    return acms_crypt_from_files(out, file, prev, errstr, errstr_size);
}

void acms_crypt_free(acms_crypt *c)
{
    if (c) {
        OPENSSL_cleanse(c, sizeof *c);
        free(c);
    }
}

const char *acms_crypt_key_id(const acms_crypt *c)
{
    return c && c->n ? c->keys[0].id : "";
}

int acms_crypt_is_envelope(const char *data, size_t len)
{
    return data && len >= sizeof ACMS_CRYPT_PREFIX - 1 &&
           !memcmp(data, ACMS_CRYPT_PREFIX, sizeof ACMS_CRYPT_PREFIX - 1);
}

/* --- AES-256-GCM ------------------------------------------------------------------------------ */

static int gcm(int enc, const unsigned char *key, const unsigned char *nonce, const char *aad, size_t aadlen,
               const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int ok = x && EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
             EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
             EVP_CipherInit_ex(x, NULL, NULL, key, nonce, enc) == 1;
    int l = 0;
    if (ok && aadlen)
        ok = EVP_CipherUpdate(x, NULL, &l, (const unsigned char *)aad, (int)aadlen) == 1;
    if (ok && len)
        ok = EVP_CipherUpdate(x, out, &l, in, (int)len) == 1;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
    if (ok)
        ok = EVP_CipherFinal_ex(x, out + (len ? l : 0), &l) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(x);
    return ok ? 0 : -1;
}

static char *aad_of(acms_arena *a, const char *what, const char *kind, const char *id, uint32_t version,
                    const char *key_id)
{
    return acms_arena_printf(a, "acms1|%s|%s|%s|%u|%s", what, kind, id, (unsigned)version, key_id ? key_id : "");
}

static char *b64(acms_arena *a, const unsigned char *in, size_t len)
{
    char *o = acms_arena_alloc(a, 4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)o, in, (int)len);
    return o;
}

/* Decodes base64 text s[0..n) into out (capacity cap). Returns the length or -1. */
static long unb64(const char *s, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 || n / 4 * 3 > cap)
        return -1;
    int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (k < 0)
        return -1;
    while (n > 0 && s[n - 1] == '=') {
        n--;
        k--;
    }
    return k;
}

/* --- data key wrapping ------------------------------------------------------------------------- */

static int wrap(const acms_crypt *c, acms_arena *a, const char *aad, const unsigned char *dek, char **out, char *errstr,
                size_t errstr_size)
{
    const master *m = &c->keys[0];
    if (m->transit[0]) {
        char ct[WRAP_MAX];
        int rc = acms_vault_transit(c->vault, "encrypt", m->transit, NULL, dek, KEY_LEN, ct, sizeof ct, NULL, errstr,
                                    errstr_size);
        if (rc == ACMS_OK)
            *out = b64(a, (const unsigned char *)ct, strlen(ct));
        return rc;
    }
    unsigned char w[NONCE_LEN + KEY_LEN + TAG_LEN];
    if (RAND_bytes(w, NONCE_LEN) != 1 ||
        gcm(1, m->key, w, aad, strlen(aad), dek, KEY_LEN, w + NONCE_LEN, w + NONCE_LEN + KEY_LEN) != 0) {
        snprintf(errstr, errstr_size, "cannot wrap the data key (libcrypto)");
        return ACMS_ERR;
    }
    *out = b64(a, w, sizeof w);
    return ACMS_OK;
}

static const master *find_key(const acms_crypt *c, const char *id, size_t idlen)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (strlen(c->keys[i].id) == idlen && !memcmp(c->keys[i].id, id, idlen))
            return &c->keys[i];
    return NULL;
}

static int unwrap(const acms_crypt *c, const master *m, const char *aad, const char *w64, size_t wlen,
                  unsigned char *dek, char *errstr, size_t errstr_size)
{
    unsigned char w[WRAP_MAX];
    long n = unb64(w64, wlen, w, sizeof w - 1);
    if (n < 0) {
        snprintf(errstr, errstr_size, "malformed envelope (wrapped key)");
        return ACMS_ERR;
    }
    if (m->transit[0]) {
        w[n] = '\0';
        size_t got = 0;
        int rc = acms_vault_transit(c->vault, "decrypt", m->transit, NULL, (const unsigned char *)w, (size_t)n,
                                    (char *)dek, KEY_LEN, &got, errstr, errstr_size);
        if (rc == ACMS_OK && got != KEY_LEN) {
            OPENSSL_cleanse(dek, KEY_LEN);
            snprintf(errstr, errstr_size, "Vault transit returned a data key of %zu bytes", got);
            return ACMS_ERR;
        }
        return rc;
    }
    if (n != NONCE_LEN + KEY_LEN + TAG_LEN ||
        gcm(0, m->key, w, aad, strlen(aad), w + NONCE_LEN, KEY_LEN, dek, w + NONCE_LEN + KEY_LEN) != 0) {
        OPENSSL_cleanse(dek, KEY_LEN);
        snprintf(errstr, errstr_size, "cannot decrypt (master key %s)", m->id); /* envelope_key says why */
        return ACMS_ERR_INVALID;
    }
    return ACMS_OK;
}

/* --- envelopes --------------------------------------------------------------------------------- */

int acms_crypt_seal(const acms_crypt *c, acms_arena *a, const char *kind, const char *id, uint32_t version,
                    const void *plain, size_t len, char **out, size_t *out_len, char *errstr, size_t errstr_size)
{
    unsigned char dek[KEY_LEN], nonce[NONCE_LEN];
    unsigned char *ct = acms_arena_alloc(a, len + TAG_LEN + 1);
    char *wrapped = NULL;
    int rc = ACMS_ERR;
    if (RAND_bytes(dek, KEY_LEN) != 1 || RAND_bytes(nonce, NONCE_LEN) != 1 ||
        gcm(1, dek, nonce, aad_of(a, "data", kind, id, version, NULL),
            strlen(aad_of(a, "data", kind, id, version, NULL)), plain, len, ct, ct + len) != 0) {
        snprintf(errstr, errstr_size, "cannot encrypt (libcrypto)");
        goto out;
    }
    rc = wrap(c, a, aad_of(a, "key", kind, id, version, c->keys[0].id), dek, &wrapped, errstr, errstr_size);
    if (rc != ACMS_OK)
        goto out;
    *out = acms_arena_printf(a, ACMS_CRYPT_PREFIX "%s:%s:%s:%s", c->keys[0].id, wrapped, b64(a, nonce, NONCE_LEN),
                             b64(a, ct, len + TAG_LEN));
    *out_len = strlen(*out);
out:
    OPENSSL_cleanse(dek, sizeof dek);
    return rc;
}

typedef struct parts {
    const char *key_id, *wrapped, *nonce, *ct;
    size_t key_id_len, wrapped_len, nonce_len, ct_len;
} parts;

static int split(const char *env, size_t len, parts *p)
{
    const char *s = env + sizeof ACMS_CRYPT_PREFIX - 1, *end = env + len;
    const char **field[] = {&p->key_id, &p->wrapped, &p->nonce, &p->ct};
    size_t *flen[] = {&p->key_id_len, &p->wrapped_len, &p->nonce_len, &p->ct_len};
    for (int i = 0; i < 4; i++) {
        const char *e = i < 3 ? memchr(s, ':', (size_t)(end - s)) : end;
        if (!e || e == s)
            return -1;
        *field[i] = s;
        *flen[i] = (size_t)(e - s);
        s = e + 1;
    }
    return 0;
}

/* The data key of an envelope (parts p), through the key ring. */
static int envelope_key(const acms_crypt *c, acms_arena *a, const char *kind, const char *id, uint32_t version,
                        const parts *p, unsigned char *dek, char *errstr, size_t errstr_size)
{
    if (!c) {
        snprintf(errstr, errstr_size,
                 "encrypted at rest (master key %.*s) but no master key is set "
                 "(ACMS_MASTER_KEY_FILE or ACMS_MASTER_KEY_TRANSIT)",
                 (int)p->key_id_len, p->key_id);
        return ACMS_ERR_INVALID;
    }
    const master *m = find_key(c, p->key_id, p->key_id_len);
    if (!m) {
        snprintf(errstr, errstr_size,
                 "encrypted with master key %.*s, which is not configured (the current key is %s; "
                 "give the old one in ACMS_MASTER_KEY_FILE_PREVIOUS)",
                 (int)p->key_id_len, p->key_id, c->keys[0].id);
        return ACMS_ERR_INVALID;
    }
    int rc = unwrap(c, m, aad_of(a, "key", kind, id, version, m->id), p->wrapped, p->wrapped_len, dek, errstr,
                    errstr_size);
    if (rc == ACMS_ERR_INVALID) /* the key is the one named (its id is its hash): the binding or the bytes differ */
        snprintf(errstr, errstr_size, NOT_THIS_OBJECT, kind, id, (unsigned)version);
    return rc;
}

int acms_crypt_open(const acms_crypt *c, acms_arena *a, const char *kind, const char *id, uint32_t version,
                    const char *env, size_t env_len, char **plain, size_t *plain_len, char *errstr, size_t errstr_size)
{
    parts p;
    unsigned char dek[KEY_LEN], nonce[NONCE_LEN + 4];
    if (!acms_crypt_is_envelope(env, env_len) || split(env, env_len, &p) != 0 ||
        unb64(p.nonce, p.nonce_len, nonce, sizeof nonce) != NONCE_LEN) {
        snprintf(errstr, errstr_size, "malformed envelope");
        return ACMS_ERR;
    }
    unsigned char *ct = acms_arena_alloc(a, p.ct_len / 4 * 3 + 1);
    long n = unb64(p.ct, p.ct_len, ct, p.ct_len / 4 * 3 + 1);
    if (n < TAG_LEN) {
        snprintf(errstr, errstr_size, "malformed envelope (ciphertext)");
        return ACMS_ERR;
    }
    int rc = envelope_key(c, a, kind, id, version, &p, dek, errstr, errstr_size);
    if (rc != ACMS_OK)
        return rc;
    size_t len = (size_t)n - TAG_LEN;
    char *out = acms_arena_alloc(a, len + 1);
    const char *aad = aad_of(a, "data", kind, id, version, NULL);
    if (gcm(0, dek, nonce, aad, strlen(aad), ct, len, (unsigned char *)out, ct + len) != 0) {
        snprintf(errstr, errstr_size, NOT_THIS_OBJECT, kind, id, (unsigned)version);
        rc = ACMS_ERR_INVALID;
    } else {
        out[len] = '\0';
        *plain = out;
        *plain_len = len;
    }
    OPENSSL_cleanse(dek, sizeof dek);
    return rc;
}

int acms_crypt_rewrap(const acms_crypt *c, acms_arena *a, const char *kind, const char *id, uint32_t version,
                      const char *env, size_t env_len, char **out, size_t *out_len, int *changed, char *errstr,
                      size_t errstr_size)
{
    parts p;
    *changed = 0;
    if (!c) {
        snprintf(errstr, errstr_size, "no master key is set (ACMS_MASTER_KEY_FILE or ACMS_MASTER_KEY_TRANSIT)");
        return ACMS_ERR_INVALID;
    }
    if (!acms_crypt_is_envelope(env, env_len)) { /* stored before encryption was on: seal it now */
        *changed = 1;
        return acms_crypt_seal(c, a, kind, id, version, env, env_len, out, out_len, errstr, errstr_size);
    }
    if (split(env, env_len, &p) != 0) {
        snprintf(errstr, errstr_size, "malformed envelope");
        return ACMS_ERR;
    }
    if (p.key_id_len == strlen(c->keys[0].id) && !memcmp(p.key_id, c->keys[0].id, p.key_id_len)) {
        *out = (char *)env;
        *out_len = env_len;
        return ACMS_OK;
    }
    unsigned char dek[KEY_LEN];
    int rc = envelope_key(c, a, kind, id, version, &p, dek, errstr, errstr_size);
    char *wrapped = NULL;
    if (rc == ACMS_OK)
        rc = wrap(c, a, aad_of(a, "key", kind, id, version, c->keys[0].id), dek, &wrapped, errstr, errstr_size);
    OPENSSL_cleanse(dek, sizeof dek);
    if (rc != ACMS_OK)
        return rc;
    *out = acms_arena_printf(a, ACMS_CRYPT_PREFIX "%s:%s:%.*s:%.*s", c->keys[0].id, wrapped, (int)p.nonce_len, p.nonce,
                             (int)p.ct_len, p.ct);
    *out_len = strlen(*out);
    *changed = 1;
    return ACMS_OK;
}
