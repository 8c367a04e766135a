/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * telemetry.h - the same counters through DPDK telemetry
 *
 * Theory of operation: registers /vhost_shim/ports and
 * /vhost_shim/stats,<port> with rte_telemetry, so dpdk-telemetry.py (shipped
 * with DPDK) reads them from the instance's telemetry socket
 * (/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2).  Callbacks run on the
 * telemetry thread: they read the port registry under its lock and the
 * counters with relaxed loads, like the control socket.
 */
#ifndef VS_TELEMETRY_H
#define VS_TELEMETRY_H

/**
 * vs_telemetry_register() - register the endpoints
 *
 * Return: 0 on success, -1 if a registration failed
 */
int vs_telemetry_register(void);

#endif /* VS_TELEMETRY_H */
