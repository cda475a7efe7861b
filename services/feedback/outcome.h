/* outcome.h: the OutcomeAnalyzer. What one step of one run cost and how well it was sized, from its
 * StepResult: success, attempts and their causes, memory slack (limit - peak) / limit and CPU slack
 * (vcpu x wall - cpu) / (vcpu x wall) of the successful (else the last) attempt, instance-hours
 * (instances x wall over every attempt), wasted instance-hours (failed attempts' hours + the
 * successful attempt's hours x its memory slack: memory is what sizes an instance), cost from the
 * catalogue's price_per_hour of the step's instance type. StepResult carries no instance count, so
 * one instance is assumed. Pure. */
#ifndef FEEDBACK_OUTCOME_H
#define FEEDBACK_OUTCOME_H

#include "catalog.h"

typedef struct feedback_outcome {
    const char *step;
    int success;
    uint32_t attempts;
    const char **causes; /* "attempt 1: memory (killed ...)" per failed attempt */
    size_t ncauses;
    int has_memory_slack, has_cpu_slack;
    double memory_slack, cpu_slack;
    double instance_hours, wasted_instance_hours, cost_usd;
    uint64_t peak_rss_kb, mem_limit_mb, wall_ms, cpu_ms;
    double vcpu;
    int resource_killed; /* any attempt ended MEMORY, TIME or CPU_TIME */
    int killed_memory;
    double killed_peak_mb; /* largest peak at a memory kill (its limit when the peak is unknown) */
    int killed_time;
    uint32_t killed_runtime_s; /* largest max_runtime_s an attempt was killed at */
    int observed;              /* a successful attempt: counted in the history, its usage (where
                                      measured) feeds it */
    int censored_memory;       /* killed for memory with no measured success: the need was above
                                      killed_peak_mb, a censored observation for the size fits */
    /* input-aware sizing (StepResult.sizing, filled by the adapter): what this run's needs follow */
    const char *input_name; /* the declared input ("ROWS", "--rows", "input_size_bytes"); "" none */
    double input_value;     /* this run's value (0 = none or unresolved) */
    int64_t t_ms;           /* when it ran: the step's start (the service sets the run's start) */
    /* the step as configured, for recommendations */
    const char *instance_type;
    uint64_t configured_memory_mb;
    uint32_t configured_runtime_s;
    double configured_vcpu;
    uint32_t gpus;
} feedback_outcome;

/* Analyses s. cat may be NULL (no cost). Strings point into s or the arena. ACMS_OK. */
int feedback_outcome_analyze(acms_arena *a, const Acms__V1__StepResult *s, const acms_catalog *cat,
                             feedback_outcome *out);
/* The StepOutcome message of o (arena). */
Acms__V1__StepOutcome *feedback_outcome_to_pb(acms_arena *a, const feedback_outcome *o);
/* Short name of an exit reason: ok nonzero signal memory time cpu_time spawn_failed unreachable
 * cancelled lost unspecified. */
const char *feedback_exit_reason_name(Acms__V1__ExitReason r);
/* Why a decoded ExecutionResult or ValidationResultEvent cannot be real: a result without steps (the
 * coordinator never runs a pipeline without any) or with a nameless step, a validation event without
 * its result. NULL when plausible (other message types too); the service dead-letters the event. */
const char *feedback_input_problem(const ProtobufCMessage *msg);
/* Median of v[0..n) (v is sorted in place); 0 when n == 0. */
double feedback_median(double *v, size_t n);

#endif
