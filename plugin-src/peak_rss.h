/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * peak_rss.h - the process's peak resident set, for the plugins' reports
 * (the benchmark compares it between a lockstep side and a single run).
 */
#ifndef LOCKSTEP_PEAK_RSS_H
#define LOCKSTEP_PEAK_RSS_H

#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* VmHWM from /proc/self/status, in kB, or -1. */
static inline long peak_rss_kb(void)
{
    g_autofree char *status = NULL;
    const char *hwm;

    if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL)) {
        return -1;
    }
    hwm = strstr(status, "VmHWM:");
    return hwm ? strtol(hwm + 6, NULL, 10) : -1;
}

#endif /* LOCKSTEP_PEAK_RSS_H */
