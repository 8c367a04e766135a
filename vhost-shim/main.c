/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * main.c - vhost-shim daemon entry point
 *
 * Theory of operation: parse the configuration (file, then command line),
 * start EAL with arguments derived from it, start the dataplane workers,
 * create the configured ports, then run the GLib main loop on the main
 * lcore until SIGTERM/SIGINT (SIGUSR1 logs the counters, SIGHUP reloads
 * the tunnel's key or certificates).  The main loop owns port lifecycle, the
 * control socket and (later) migration state machines; the workers only
 * move frames.  Shutdown removes every port (which quiesces the workers for
 * it), stops the workers and cleans EAL up.  DPDK's vhost thread posts
 * its events to the main loop from before the first port is added until
 * the loop returns; from then on they are dropped (vhost_events.h), so no
 * event is handled while, or after, the ports go.
 *
 * Privileges: the daemon keeps the capabilities it was started with and
 * drops none itself, because port-add at runtime creates uplinks and needs
 * them as much as startup does; run it as its own user with only what the
 * uplinks need (privs.h, docs/hardening.md "Least privilege").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <glib.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "config.h"
#include "config_keys.h"
#include "control.h"
#include "control_mig.h"
#include "dataplane.h"
#include "dp_flow.h"
#include "disc_daemon.h"
#include "handover.h"
#include "log.h"
#include "privs.h"
#include "reach.h"
#include "telemetry.h"
#include "tunnel.h"
#include "util.h"
#include "vhost_port.h"
#include "vm.h"

static GMainLoop *main_loop;

static gboolean main_quit_cb(gpointer data)
{
	vs_log(MAIN, NOTICE, NULL, "signal %s: shutting down", (const char *)data);
	g_main_loop_quit(main_loop);
	return G_SOURCE_CONTINUE;
}

static void main_log_port_stats(struct vs_vm *vm, void *opaque)
{
	const struct vs_port_stats *s = &vm->stats;
	GString *drops = g_string_new(NULL);
	unsigned int i;

	for (i = 0; i < VS_DROP_NUM_REASONS; i++) {
		/* lcore's and main loop's drops, as query-stats adds them */
		uint64_t d = VS_STAT_GET(s->drops[i]) + VS_STAT_GET(s->ctl_drops[i]);

		if (d)
			g_string_append_printf(drops, " %s=%" PRIu64, vs_drop_reason_to_string(i), d);
	}
	vs_log(MAIN, NOTICE, vm->cfg->name,
	       "counters: uplink_rx=%" PRIu64 " rx=%" PRIu64 " vm_tx=%" PRIu64 " tx=%" PRIu64
	       " drops:%s",
	       VS_STAT_GET(s->uplink_rx_pkts), VS_STAT_GET(s->rx_pkts),
	       VS_STAT_GET(s->vm_tx_pkts), VS_STAT_GET(s->tx_pkts),
	       drops->len ? drops->str : " none");
	g_string_free(drops, TRUE);
}

/*
 * Migration events go to every control-socket client.  MIGRATION_EXPECTED
 * also names the incoming VM (migrate-expect's vm-uuid and vm-name, stored
 * on the port before it is armed) in its data and in a log line.
 * BUFFER_OVERFLOW is rate-limited per port (the handover's overflow watch
 * offers one every tick while drops grow); PEER_CONNECTED and PEER_LOST
 * (vm == NULL) are about a tunnel connection, not a port.
 */
static bool main_ho_event_cb(const char *event, struct vs_vm *vm, void *json_obj)
{
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	if (vm && !strcmp(event, "BUFFER_OVERFLOW")) {
		json_node_take_object(n, json_obj);
		return vs_ctl_emit_event_ratelimited(event, vm->cfg->name, n);
	}
	if (vm && !strcmp(event, "MIGRATION_EXPECTED")) {
		vs_ctl_mig_add_identity(vm, json_obj);
		vs_log(MIG, NOTICE, vm->cfg->name,
		       "MIGRATION_EXPECTED: armed for incoming VM uuid=%s name=%s",
		       vm->mig.vm_uuid[0] ? vm->mig.vm_uuid : "-",
		       vm->mig.vm_name[0] ? vm->mig.vm_name : "-");
	}
	json_node_take_object(n, json_obj);
	vs_ctl_emit_event(event, n);
	return true;
}

/*
 * PEER_CONNECTED / PEER_LOST: the tunnel's peer events go to every
 * control-socket client (docs/control-protocol.md)
 */
static void main_tun_peer_event(void *opaque, const struct vs_tun_peer_event *ev)
{
	JsonObject *d = json_object_new();
	JsonArray *a = json_array_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	const char *const *port;

	json_object_set_string_member(d, "peer", ev->peer);
	json_object_set_string_member(d, "address", ev->address);
	json_object_set_string_member(d, "direction", ev->outgoing ? "outgoing" : "incoming");
	for (port = ev->ports; port && *port; port++)
		json_array_add_string_element(a, *port);
	json_object_set_array_member(d, "ports", a);
	if (!ev->up && ev->reason)
		json_object_set_string_member(d, "reason", ev->reason);
	json_node_take_object(n, d);
	vs_ctl_emit_event(ev->up ? "PEER_CONNECTED" : "PEER_LOST", n);
}

/* The tunnel calls the handover for its streams, and main.c for its peers */
static const struct vs_tun_ops main_tun_ops = {
	.stream_open = vs_ho_tun_open,
	.frame = vs_ho_tun_frame,
	.in_event = vs_ho_tun_in_event,
	.out_event = vs_ho_tun_out_event,
	.source_direct = vs_ho_tun_source_direct,
	.source_barrier = vs_ho_tun_source_barrier,
	.conns = vs_ho_tun_conns,
	.expect = vs_ho_tun_expect,
	.peer_event = main_tun_peer_event,
};

/* one range and one default for [tunnel] keepalive-ms and the tunnel's own */
static_assert(VS_DEFAULT_KEEPALIVE_MS == VS_TUN_KEEPALIVE_MS &&
	      VS_DEFAULT_KEEPALIVE_TIMEOUT_MS == VS_TUN_KEEPALIVE_TIMEOUT_MS &&
	      VS_MIN_KEEPALIVE_MS == VS_TUN_KEEPALIVE_MIN_MS &&
	      VS_MAX_KEEPALIVE_MS == VS_TUN_KEEPALIVE_MAX_MS, "keepalive defaults");

/* The tunnel from [tunnel] and [peer NAME]; vs_tun_new() copies what it keeps */
static struct vs_tun *main_tun_new(const struct vs_cfg *cfg, GError **error)
{
	g_autofree struct vs_tun_peer_cfg *peers = g_new0(struct vs_tun_peer_cfg,
							  cfg->peers->len + 1);
	g_autofree char *ca = vs_cfg_tls_file(cfg, VS_TLS_FILE_CA);
	g_autofree char *cert = vs_cfg_tls_file(cfg, VS_TLS_FILE_CERT);
	g_autofree char *key = vs_cfg_tls_file(cfg, VS_TLS_FILE_KEY);
	g_autofree char *crl = vs_cfg_tls_file(cfg, VS_TLS_FILE_CRL);
	struct vs_tun_cfg tc = {
		.node_name = cfg->node_name,
		.listen = cfg->tunnel_listen,
		.key_file = cfg->key_file,
		.tls = cfg->tls == VS_TLS_X509,
		.tls_ca = ca,
		.tls_cert = cert,
		.tls_key = key,
		.tls_crl = crl,
		.tls_crl_optional = vs_cfg_tls_crl_optional(cfg),
		.peers = peers,
		.n_peers = cfg->peers->len,
		.keepalive_ms = cfg->keepalive_ms,
		.keepalive_timeout_ms = cfg->keepalive_timeout_ms,
	};
	guint i;

	for (i = 0; i < cfg->peers->len; i++) {
		const struct vs_peer_cfg *pc = g_ptr_array_index(cfg->peers, i);

		peers[i].name = pc->name;
		peers[i].address = pc->address;
	}
	return vs_tun_new(&tc, &main_tun_ops, NULL, error);
}

static gboolean main_dump_stats_cb(gpointer data)
{
	vs_vm_foreach(main_log_port_stats, NULL);
	return G_SOURCE_CONTINUE;
}

/*
 * SIGHUP: the tunnel reads its key file, or its CA, CRL, certificate and
 * key, again (docs/configuration.md, "Reloading keys and certificates").
 * Established connections keep theirs; a refused reload keeps the old ones.
 */
static gboolean main_reload_cb(gpointer data)
{
	g_autoptr(GError) err = NULL;

	vs_log(MAIN, NOTICE, NULL, "signal SIGHUP: reloading the tunnel's credentials");
	if (!vs_tun_reload(data, &err))
		vs_log(MAIN, ERR, NULL, "%s", err->message);
	return G_SOURCE_CONTINUE;
}

static unsigned long main_free_hugepages(void)
{
	g_autofree char *meminfo = NULL;
	const char *p;

	if (!g_file_get_contents("/proc/meminfo", &meminfo, NULL, NULL))
		return 0;
	p = strstr(meminfo, "HugePages_Free:");
	return p ? strtoul(p + strlen("HugePages_Free:"), NULL, 10) : 0;
}

/*
 * Command-line options.  Those that set one configuration key are
 * generated from the key table (config_keys.h, vs_cfg_cmdline_group()) and
 * override the config file; these are the others.
 */
static char *opt_config;
static char **opt_ports;
static gboolean opt_check;
static char **opt_peers;
static char **opt_policies;

static const GOptionEntry main_options_head[] = {
	{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config,
	  "Configuration file (GKeyFile, see docs/configuration.md)", "FILE" },
	{ "port", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &opt_ports,
	  "Add a port: name=N,socket=PATH,mac=MAC[,mode=client][,queues=Q],uplink=DEVARGS "
	  "(uplink last: it takes the rest)", "SPEC" },
	{ NULL },
};

static const GOptionEntry main_options_tail[] = {
	{ "peer", 'P', 0, G_OPTION_ARG_STRING_ARRAY, &opt_peers,
	  "A peer shim: NAME=HOST:PORT (repeatable)", "PEER" },
	{ "policy", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_policies,
	  "A flow-policy rule: \"name=NAME KEY=VALUE ...\" (repeatable; "
	  "docs/configuration.md, \"Flow policy\")", "RULE" },
	{ "check-config", 0, 0, G_OPTION_ARG_NONE, &opt_check,
	  "Validate the configuration, print it and exit", NULL },
	{ NULL },
};

static gboolean main_build_cfg(struct vs_cfg *cfg, const struct vs_cfg_cmdline *cl,
			       GError **error)
{
	char **spec;

	if (opt_config) {
		g_autofree char *data = NULL;
		gsize len;

		if (!g_file_get_contents(opt_config, &data, &len, error))
			return FALSE;
		if (!vs_cfg_load_keyfile(cfg, data, len, error)) {
			g_prefix_error(error, "%s: ", opt_config);
			return FALSE;
		}
	}
	if (!vs_cfg_cmdline_apply(cl, cfg, error))
		return FALSE;
	for (spec = opt_peers; spec && *spec; spec++) {
		g_auto(GStrv) kv = g_strsplit(*spec, "=", 2);

		if (!kv[0] || !kv[1]) {
			g_set_error(error, VS_CFG_ERROR, 0, "--peer %s: expected NAME=HOST:PORT", *spec);
			return FALSE;
		}
		if (!vs_cfg_add_peer(cfg, kv[0], kv[1], error))
			return FALSE;
	}
	for (spec = opt_policies; spec && *spec; spec++) {
		if (!vs_cfg_add_policy(cfg, *spec, error)) {
			g_prefix_error(error, "--policy: ");
			return FALSE;
		}
	}
	for (spec = opt_ports; spec && *spec; spec++) {
		struct vs_port_cfg *pc = vs_port_cfg_parse_spec(*spec, error);

		if (!pc || !vs_cfg_add_port(cfg, pc, error)) {
			g_prefix_error(error, "--port %s: ", *spec);
			return FALSE;
		}
	}
	return vs_cfg_validate(cfg, error);
}

int main(int argc, char **argv)
{
	struct vs_tun *tun = NULL;
	g_autoptr(GOptionContext) octx = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(vs_cfg_cmdline) cmdline = vs_cfg_cmdline_new();
	g_auto(GStrv) eal_argv = NULL;
	int eal_argc, rc, status = EXIT_FAILURE;
	guint i;

	octx = g_option_context_new("- lossless live-migration vhost-user backend");
	g_option_context_set_main_group(octx, vs_cfg_cmdline_group(cmdline, main_options_head,
								   main_options_tail));
	g_option_context_set_description(octx,
		"Ports come from the config file and --port.  Extra EAL arguments go in\n"
		"[daemon] eal-args.  Documentation: docs/configuration.md");
	if (!g_option_context_parse(octx, &argc, &argv, &error)) {
		fprintf(stderr, "vhost-shim: %s\n", error->message);
		return 2;
	}
	if (argc > 1) {
		fprintf(stderr, "vhost-shim: unexpected argument '%s'\n", argv[1]);
		return 2;
	}
	if (!main_build_cfg(cfg, cmdline, &error)) {
		fprintf(stderr, "vhost-shim: configuration: %s\n", error->message);
		return 2;
	}
	eal_argv = vs_cfg_build_eal_argv(cfg, argv[0], main_free_hugepages());
	if (opt_check) {
		g_autofree char *eal = g_strjoinv(" ", eal_argv);

		printf("configuration OK: %u port(s)\nEAL: %s\n", cfg->ports->len, eal);
		return 0;
	}

	vs_log_install_glib_writer();
	eal_argc = (int)g_strv_length(eal_argv);
	{
		/* rte_eal_init permutes argv: give it a copy of the pointers */
		g_autofree char **args = g_memdup2(eal_argv, sizeof(char *) * (eal_argc + 1));

		rc = rte_eal_init(eal_argc, args);
	}
	if (rc < 0) {
		vs_log(MAIN, ERR, NULL, "EAL init failed: %s", rte_strerror(rte_errno));
		return EXIT_FAILURE;
	}
	vs_log_set_level(cfg->log_level);
	{
		/* Least privilege: say what we run with (docs/hardening.md) */
		g_autofree char *self = vs_priv_describe_self();

		vs_log(MAIN, NOTICE, NULL, "running as %s", self);
	}
	main_loop = g_main_loop_new(NULL, FALSE);

	if (!vs_dp_init(cfg->busy_poll, cfg->idle_sleep_us, &error) || !vs_dp_start(&error)) {
		vs_log(MAIN, ERR, NULL, "%s", error->message);
		goto out;
	}
	/* cfg outlives both: it is freed after vs_ctl_stop() and the ports */
	vs_reach_set_cfg(cfg);
	vs_dp_flow_set_rules(cfg->flow_rules);
	if (!vs_ctl_start(cfg, &error)) {
		vs_log(MAIN, ERR, NULL, "control socket: %s", error->message);
		goto out;
	}
	vs_ho_set_event_cb(main_ho_event_cb);
	if (vs_telemetry_register())
		vs_log(MAIN, WARNING, NULL, "DPDK telemetry endpoints not registered");
	tun = main_tun_new(cfg, &error);
	if (!tun) {
		vs_log(MAIN, ERR, NULL, "%s", error->message);
		goto out;
	}
	vs_ho_set_tunnel(tun);
	vs_ho_set_expect_timeout(cfg->expect_timeout_ms);
	vs_ctl_mig_set_tunnel(tun);
	/* before the first port: a client-mode port may connect at once, and
	 * its events wait for g_main_loop_run() (vhost_events.h) */
	vs_vhost_port_events_start();
	for (i = 0; i < cfg->ports->len; i++) {
		const struct vs_port_cfg *pc = g_ptr_array_index(cfg->ports, i);
		GError *perr = NULL;

		/* the port takes a copy: cfg stays immutable */
		if (!vs_vm_add(vs_port_cfg_copy(pc), &perr)) {
			vs_log(MAIN, ERR, pc->name, "%s", perr->message);
			g_error_free(perr);
			goto out_ports;
		}
	}

	/* after the ports, so that its first sweep finds them */
	if (!vs_disc_daemon_start(cfg, tun, &error)) {
		vs_log(MAIN, ERR, NULL, "%s", error->message);
		goto out_ports;
	}

	g_unix_signal_add(SIGTERM, main_quit_cb, "SIGTERM");
	g_unix_signal_add(SIGINT, main_quit_cb, "SIGINT");
	g_unix_signal_add(SIGUSR1, main_dump_stats_cb, NULL);
	g_unix_signal_add(SIGHUP, main_reload_cb, tun);
	vs_log(MAIN, NOTICE, NULL, "ready: %u port(s), %u worker(s), prefix %s",
	       vs_vm_count(), vs_dp_num_workers(), cfg->file_prefix);
	g_main_loop_run(main_loop);
	status = EXIT_SUCCESS;

out_ports:
	/* First, now that the loop has returned: the queued vhost events and
	 * those posted from now on are dropped, none is handled during the
	 * teardown (vs_disc_daemon_stop() still iterates the context) */
	vs_vhost_port_events_stop();
	vs_disc_daemon_stop();	/* revokes our keys while ports and tunnel still exist */
	vs_vm_foreach(main_log_port_stats, NULL);
	vs_vm_remove_all();
	vs_ho_set_tunnel(NULL);
	vs_ctl_mig_set_tunnel(NULL);
	vs_tun_free(tun);
out:
	vs_ctl_stop();
	vs_reach_set_cfg(NULL);
	vs_dp_stop();
	g_main_loop_unref(main_loop);
	rte_eal_cleanup();
	return status;
}
