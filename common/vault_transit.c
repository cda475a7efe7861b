/* vault_transit.c: Vault's transit engine (vault.h), which wraps the data keys of encryption at rest
 * when ACMS_MASTER_KEY_TRANSIT names a key. Plain bytes and answers are wiped after use. */
#include "vault_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

int acms_vault_transit(acms_vault *v, const char *op, const char *key, const char *context, const unsigned char *in,
                       size_t len, char *out, size_t out_size, size_t *out_len, char *err, size_t errn)
{
    int enc = !strcmp(op, "encrypt");
    char *b64 = malloc(4 * ((len + 2) / 3) + 1), *body = NULL, *ctx64 = NULL, path[256];
    cJSON *j = NULL;
    int rc = ACMS_ERR;
    if (!b64 || snprintf(path, sizeof path, "transit/%s/%s", enc ? "encrypt" : "decrypt", key) >= (int)sizeof path)
        goto out;
    if (enc)
        EVP_EncodeBlock((unsigned char *)b64, in, (int)len);
    if (context && (ctx64 = malloc(4 * ((strlen(context) + 2) / 3) + 1)))
        EVP_EncodeBlock((unsigned char *)ctx64, (const unsigned char *)context, (int)strlen(context));
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, enc ? "plaintext" : "ciphertext", enc ? b64 : (const char *)in);
    if (ctx64)
        cJSON_AddStringToObject(req, "context", ctx64);
    body = cJSON_PrintUnformatted(req);
    acms_vault__json_free(req);
    long status = 0;
    rc = body ? acms_vault__request(v, path, body, 1, &status, &j, err, errn) : ACMS_ERR_NOMEM;
    if (rc == ACMS_OK && status != 200) {
        snprintf(err, errn, "vault transit refused %s (HTTP %ld)", path, status);
        rc = status == 429 || status >= 500 ? ACMS_ERR_RETRY : ACMS_ERR;
    }
    if (rc != ACMS_OK)
        goto out;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"),
                                                      enc ? "ciphertext" : "plaintext");
    rc = ACMS_ERR;
    if (!cJSON_IsString(r)) {
        snprintf(err, errn, "vault transit answer without data.%s", enc ? "ciphertext" : "plaintext");
    } else if (enc) {
        if (strlen(r->valuestring) < out_size) {
            memcpy(out, r->valuestring, strlen(r->valuestring) + 1);
            rc = ACMS_OK;
        }
    } else {
        size_t n = strlen(r->valuestring);
        unsigned char *tmp = malloc(n / 4 * 3 + 3);
        int k = tmp && n % 4 == 0 ? EVP_DecodeBlock(tmp, (const unsigned char *)r->valuestring, (int)n) : -1;
        while (k > 0 && n > 0 && r->valuestring[n - 1] == '=') {
            n--;
            k--;
        }
        if (k >= 0 && (size_t)k <= out_size) {
            memcpy(out, tmp, (size_t)k);
            *out_len = (size_t)k;
            rc = ACMS_OK;
        }
        if (tmp) {
            explicit_bzero(tmp, n / 4 * 3 + 3);
            free(tmp);
        }
    }
    if (rc != ACMS_OK && !err[0])
        snprintf(err, errn, "vault transit answer does not fit");
out:
    if (j)
        acms_vault__json_free(j);
    if (body) {
        explicit_bzero(body, strlen(body));
        free(body);
    }
    if (b64) {
        explicit_bzero(b64, 4 * ((len + 2) / 3) + 1);
        free(b64);
    }
    free(ctx64);
    return rc;
}
