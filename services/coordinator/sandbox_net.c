/* sandbox_net.c: network isolation for a step: a new network namespace whose only interface is its
 * own loopback, brought up so the step can still talk to itself (127.0.0.1 inside the namespace is
 * not the host's). Invariant: coord_net_isolate runs in the child between clone and exec, so it
 * makes raw system calls only and touches only its stack. */
#include "sandbox.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int coord_net_isolate(void)
{
    if (unshare(CLONE_NEWNET) < 0)
        return -1;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(s);
    errno = e;
    return rc < 0 ? -1 : 0;
}

int coord_net_probe(char *why, size_t why_size)
{
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_size, "fork: %s", strerror(errno));
        return 0;
    }
    if (pid == 0)
        _exit(coord_net_isolate() == 0 ? 0 : errno & 0x7f);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    snprintf(why, why_size, "no network namespaces: %s",
             WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "probe killed");
    return 0;
}
