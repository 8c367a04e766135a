/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config_eal.c - the EAL command line of a configuration
 *
 * Theory of operation: rte_eal_init() takes an argv; vs_cfg_build_eal_argv()
 * derives it from the validated configuration with the defaults of
 * docs/configuration.md: the lcores, a per-instance --file-prefix so that
 * two daemons can share a host, hugepages when some are free (only the
 * memory asked for) and --no-huge otherwise, and the PCI bus only for
 * uplinks given by PCI address (never probing NICs nobody asked for).
 * The operator's eal-args come last and win.
 */
#include <string.h>

#include "config.h"

static bool cfg_extra_has_pci(const struct vs_cfg *cfg)
{
	char **a;

	for (a = cfg->extra_eal_args; a && *a; a++)
		if (!strcmp(*a, "-a") || !strcmp(*a, "--allow") || !strcmp(*a, "-b") ||
		    !strcmp(*a, "--block") || g_str_has_prefix(*a, "--allow="))
			return true;
	return false;
}

char **vs_cfg_build_eal_argv(const struct vs_cfg *cfg, const char *argv0,
			     unsigned long hugepages_free)
{
	g_autoptr(GStrvBuilder) b = g_strv_builder_new();
	bool huge = cfg->hugepages == VS_HUGEPAGES_YES ||
		    (cfg->hugepages == VS_HUGEPAGES_AUTO && hugepages_free > 0);
	g_autofree char *mem = g_strdup_printf("%u", cfg->memory_mb);
	bool pci = false;
	char **extra;
	guint i;

	g_strv_builder_add(b, argv0);
	g_strv_builder_add_many(b, "-l", cfg->lcores, "--file-prefix", cfg->file_prefix, NULL);
	if (huge) {
		/* Hugepages are shared with other DPDK processes: take only what we need */
		g_strv_builder_add_many(b, "--socket-mem", mem, NULL);
	} else {
		g_strv_builder_add_many(b, "--no-huge", "-m", mem, NULL);
	}
	/*
	 * Never probe PCI devices nobody asked for: on a host, EAL would take
	 * every NIC bound to vfio/uio.  Uplinks given by PCI address are
	 * allowed explicitly; without any, the PCI bus is off (runtime ports
	 * with a NIC need "eal-args=-a ADDR").
	 */
	for (i = 0; i < cfg->ports->len; i++) {
		const struct vs_port_cfg *pc = g_ptr_array_index(cfg->ports, i);
		g_autofree char *addr = vs_port_cfg_pci_address(pc);

		if (addr) {
			g_strv_builder_add_many(b, "-a", pc->uplink, NULL);
			pci = true;
		}
	}
	if (!pci && !cfg_extra_has_pci(cfg))
		g_strv_builder_add(b, "--no-pci");
	for (extra = cfg->extra_eal_args; extra && *extra; extra++)
		g_strv_builder_add(b, *extra);
	return g_strv_builder_end(b);
}
