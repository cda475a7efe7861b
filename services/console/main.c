/* main.c: acms-console wiring: configuration, logging, the console (page, Redis connections), the
 * HTTP server on ACMS_HTTP_ADDR:ACMS_HTTP_PORT, then sleep until SIGTERM/SIGINT and tear down.
 * It consumes no topic and writes nothing: a web console, a separate process so that it scales,
 * restarts and is exposed apart from the services that do the work. */
#include <curl/curl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console/console.h"
#include "log.h"

#define NAME "acms-console"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static const char *const extra_help =
    "  ACMS_HTTP_PORT          the console's port (0 or unset: 8090); ACMS_HTTP_ADDR its address\n"
    "  ACMS_CONSOLE_TOKEN      when set, /api/ requests need Authorization: Bearer <token>\n"
    "  ACMS_CONSOLE_WEB_DIR    the page's files (default: share/acms/console beside the program)\n"
    "  ACMS_CONSOLE_THREADS    server threads and Redis connections (4)\n"
    "  ACMS_CONSOLE_MAX_CONNECTIONS  connections at once (64); ACMS_CONSOLE_TIMEOUT_S idle timeout (15)\n"
    "  ACMS_CONFIG_STORE       where stored configurations live (redis | http://host:port[/base])\n"
    "  ACMS_MASTER_KEY_FILE    opens encrypted configurations (or ACMS_MASTER_KEY_TRANSIT with VAULT_ADDR\n"
    "                          and VAULT_TOKEN, AppRole or Kubernetes login: docs/security.md)\n";

/* The program's directory, to find the page beside it. */
static void exe_dir(char *out, size_t size)
{
    char path[1024];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
    snprintf(out, size, "%s", n > 0 ? dirname(path) : ".");
}

static int serve(const acms_cfg *cfg, console *c, acms_metrics *m)
{
    char err[512] = "";
    acms_http_opts ho = {.addr = cfg->http_addr,
                         .port = cfg->http_port > 0 ? cfg->http_port : CONSOLE_DEFAULT_PORT,
                         .threads = c->opts.threads,
                         .max_connections = c->opts.max_connections,
                         /* behind an Ingress or a port-forward every browser shares one address */
                         .per_ip_limit = c->opts.max_connections,
                         .timeout_s = c->opts.timeout_s,
                         .handler = console_handle,
                         .handler_ud = c};
    acms_http_probes probes = {.ready = console_ready, .ud = c};
    acms_http *h = acms_http_start_opts(&ho, m, &probes, err, sizeof err);
    if (!h) {
        acms_log_error(NULL, NULL, "%s", err);
        return 1;
    }
    acms_log_info(NULL, NULL, "console on http://%s:%d/ (page %s, %u threads, token %s)", ho.addr, ho.port,
                  c->opts.web_dir, c->opts.threads, c->opts.token[0] ? "required" : "not set");
    while (!stop_requested)
        usleep(100 * 1000);
    acms_log_info(NULL, NULL, "shutting down (requested)");
    acms_http_stop(h);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        acms_cfg_print_help(NAME, "the read-only web console: runs, the live DAG, adaptations, validation", extra_help);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("%s %s (schema acms.v1, version %d)\n", NAME, ACMS_VERSION, ACMS_SCHEMA_VERSION);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "%s: unknown argument '%s' (configuration is by environment; see --help)\n", NAME, argv[1]);
        return 2;
    }
    acms_cfg cfg;
    console_opts o;
    char err[1024] = "", dir[1024], red[512];
    exe_dir(dir, sizeof dir);
    if (acms_cfg_load(&cfg, NAME, err, sizeof err) != ACMS_OK || console_opts_load(&o, dir, err, sizeof err)) {
        fprintf(stderr, "%s: configuration error: %s\n", NAME, err);
        return 2;
    }
    acms_log_init(NAME, cfg.log_level);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    acms_metrics *m = acms_metrics_new(NAME);
    acms_log_info(NULL, NULL, "starting %s %s: redis %s", NAME, ACMS_VERSION,
                  acms_cfg_redacted_url(cfg.redis_url, red, sizeof red));
    int rc = 1;
    console *c = console_new(&o, cfg.redis_url, m, err, sizeof err);
    explicit_bzero(o.token, sizeof o.token);
    if (!c)
        acms_log_error(NULL, NULL, "%s", err);
    else
        rc = serve(&cfg, c, m);
    console_free(c);
    acms_metrics_free(m);
    curl_global_cleanup();
    acms_log_info(NULL, NULL, "stopped");
    return rc;
}
