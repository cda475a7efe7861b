/* exec_spawn.c: the child side of a local step, between clone and exec, and the clone itself.
 * Invariant: between clone and exec the child only makes async-signal-safe calls and writes only its
 * own stack (and errno): it shares the coordinator's memory, and the coordinator's thread is
 * suspended until it execs or exits. */
#include "exec_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static void child_fail(int fd, int stage)
{
    int msg[2] = {stage, errno};
    ssize_t w = write(fd, msg, sizeof msg);
    (void)w;
    _exit(127);
}

static int child_main(void *arg)
{
    const child_args *a = arg;
    sigset_t none;
    sigemptyset(&none);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (setsid() < 0)
        child_fail(a->report_fd, STAGE_SETSID);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != a->parent)
        _exit(127); /* the coordinator died before prctl */
    int stage = coord_child_join_cgroup(&a->sandbox);
    if (stage)
        child_fail(a->report_fd, stage);
    if (dup2(a->in_fd, 0) < 0 || dup2(a->out_fd, 1) < 0 || dup2(a->err_fd, 2) < 0)
        child_fail(a->report_fd, STAGE_DUP);
    for (int fd = 0; fd < 3; fd++)
        fcntl(fd, F_SETFD, 0);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &rl);
    if (a->as_bytes) {
        rl.rlim_cur = rl.rlim_max = a->as_bytes;
        if (setrlimit(RLIMIT_AS, &rl) < 0)
            child_fail(a->report_fd, STAGE_RLIMIT);
    }
    if (a->cpu_s) {
        rl.rlim_cur = a->cpu_s;
        rl.rlim_max = a->cpu_s + 2; /* SIGXCPU first, SIGKILL if it is ignored */
        if (setrlimit(RLIMIT_CPU, &rl) < 0)
            child_fail(a->report_fd, STAGE_RLIMIT);
    }
    if (a->cwd && chdir(a->cwd) < 0) /* as root: the step's directory even under untraversable parents */
        child_fail(a->report_fd, STAGE_CHDIR);
    if ((stage = coord_child_confine(&a->sandbox)))
        child_fail(a->report_fd, stage);
    if (a->report_fd > 3)
        close_range(3, (unsigned)a->report_fd - 1, 0);
    close_range((unsigned)a->report_fd + 1, ~0U, 0);
    execve(a->exe, a->argv, a->envp);
    child_fail(a->report_fd, STAGE_EXEC);
    return 127;
}

enum { STACK = 64 * 1024 };

#if defined(__x86_64__) && defined(SYS_clone3)
/* clone3 for a child that shares our memory: the kernel starts it on args->stack, where no C frame
 * of ours exists, so the child side is assembly that calls fn(arg) and exits with its result. The
 * parent gets the child's pid, or -1 with errno. (What glibc's clone() does for clone; glibc 2.36
 * has no public clone3.) */
static pid_t clone3_call(struct clone_args *ca, int (*fn)(void *), void *arg)
{
    long ret;
    register long r12 __asm__("r12") = (long)fn;
    register long r13 __asm__("r13") = (long)arg;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "mov %%r13, %%rdi\n\t"
                     "call *%%r12\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov $60, %%eax\n\t" /* SYS_exit */
                     "syscall\n\t"
                     "hlt\n\t"
                     "1:\n\t"
                     : "=a"(ret)
                     : "a"((long)SYS_clone3), "D"(ca), "S"(sizeof *ca), "r"(r12), "r"(r13)
                     : "rcx", "r11", "memory");
    if (ret < 0) {
        errno = (int)-ret;
        return -1;
    }
    return (pid_t)ret;
}
#define HAVE_CLONE3_CALL 1
#endif

/* The child starts with every signal blocked in this thread across the clone, so none of our
 * handlers can run in it before it restores default dispositions. */
pid_t coord_spawn_child(child_args *a, int cgroup_fd, int *into)
{
    char *stack = malloc(STACK);
    if (!stack) {
        errno = ENOMEM;
        return -1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = -1;
    *into = 0;
#ifdef HAVE_CLONE3_CALL
    if (cgroup_fd >= 0) {
        int fds[COORD_CG_NCTRL];
        memcpy(fds, a->sandbox.cg_fds, sizeof fds);
        for (int c = 0; c < COORD_CG_NCTRL; c++)
            a->sandbox.cg_fds[c] = -1; /* born inside: nothing to join */
        struct clone_args ca = {.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP,
                                .exit_signal = SIGCHLD,
                                .stack = (uint64_t)(uintptr_t)stack,
                                .stack_size = STACK,
                                .cgroup = (uint64_t)cgroup_fd};
        pid = clone3_call(&ca, child_main, a);
        if (pid >= 0)
            *into = 1;
        else
            memcpy(a->sandbox.cg_fds, fds, sizeof fds); /* ENOSYS, E2BIG, ...: join by writing */
    }
#else
    (void)cgroup_fd;
#endif
    if (!*into)
        pid = clone(child_main, stack + STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)a);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(stack);
    errno = e;
    return pid;
}
