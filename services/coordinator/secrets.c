/* secrets.c: the coordinator's side of secret references. It trusts no reference it is handed: a
 * run's references are checked against the scopes of the coordinator's own environment profile
 * before anything of the run starts, and each is checked again (common/secret.c) when an attempt
 * resolves it. Nothing here logs or returns a resolved value. */
#include "exec.h"

#include <stdio.h>
#include <string.h>

const char *coord_secret_check(const Acms__V1__Pipeline *p, const Acms__V1__Environment *env, const acms_secret_ctx *sc,
                               char *buf, size_t size)
{
    for (size_t i = 0; p && i < p->n_steps; i++) {
        const Acms__V1__Step *s = p->steps[i];
        for (size_t k = 0; k < s->n_env; k++) {
            const char *v = s->env[k]->value;
            acms_secret_ref r;
            const char *why = NULL;
            if (!acms_secret_is_ref(v))
                continue;
            if (acms_secret_parse(v, &r, &why) != ACMS_OK)
                why = why ? why : "malformed";
            else if (r.kind == ACMS_SECRET_ENV && acms_secret_env_denied(sc ? sc->env_deny : NULL, r.path))
                why = "one of the services' own variables";
            else if (!acms_secret_in_scope(&r, env->secret_scopes, env->n_secret_scopes))
                why = "outside the secret scopes of the coordinator's environment profile";
            if (why) {
                coord_fmt(buf, size, "step %.64s env %.64s: secret reference %.200s refused: %s", s->name,
                          s->env[k]->name, v, why);
                return buf;
            }
        }
    }
    return NULL;
}

int coord_secret_resolve(const coord_exec_req *req, const char *ref, char *buf, size_t size, char *errstr,
                         size_t errstr_size)
{
    return acms_secret_resolve(req->secrets, ref, req->secret_scopes, req->nsecret_scopes, buf, size, errstr,
                               errstr_size);
}
