/* SPDX-License-Identifier: MIT */
/*
 * fdt.c - just enough flattened device tree reading to find the CPUs
 * (/cpus/<node> with device_type = "cpu": reg = MPIDR affinity) and the
 * PSCI conduit (/psci method = "hvc" | "smc").
 */
#include "board_priv.h"

#define FDT_MAGIC 0xd00dfeedU
#define FDT_BEGIN_NODE 1U
#define FDT_END_NODE 2U
#define FDT_PROP 3U
#define FDT_NOP 4U
#define FDT_END 9U
#define FDT_HDR_SIZE 40U

static unsigned be32(const unsigned char *p)
{
	return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 |
	       (unsigned)p[2] << 8 | (unsigned)p[3];
}

/* "base" or "base@unit". */
static int node_is(const char *name, const char *base)
{
	while (*base && *name == *base) {
		name++;
		base++;
	}
	return *base == 0 && (*name == 0 || *name == '@');
}

static int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* Property value is exactly the string s (with its NUL) or starts with it. */
static int val_is(const unsigned char *v, unsigned len, const char *s)
{
	unsigned i;

	for (i = 0; s[i]; i++)
		if (i >= len || v[i] != (unsigned char)s[i])
			return 0;
	return i < len && v[i] == 0;
}

int board_fdt_valid(const void *blob, unsigned long max_size)
{
	const unsigned char *h = blob;
	unsigned total, off_struct, off_strings, size_strings, version;

	if (max_size < FDT_HDR_SIZE || be32(h) != FDT_MAGIC)
		return 0;
	total = be32(h + 4);
	off_struct = be32(h + 8);
	off_strings = be32(h + 12);
	version = be32(h + 20);
	size_strings = be32(h + 32);
	if (total < FDT_HDR_SIZE || total > max_size || version < 16)
		return 0;
	if (off_struct >= total || off_strings > total ||
	    size_strings > total - off_strings)
		return 0;
	return 1;
}

int board_fdt_scan(const void *blob, unsigned long max_size,
		   struct board_fdt_info *info)
{
	const unsigned char *h = blob, *s, *strings;
	unsigned total, off_struct, size_struct, size_strings, pos = 0;
	unsigned depth = 0;
	int in_cpus = 0, in_psci = 0;
	int is_cpu = 0, has_reg = 0, enabled = 1;
	unsigned long reg = 0;

	info->ncpus = 0;
	info->cpus_seen = 0;
	info->psci_found = 0;
	info->psci_smc = 0;
	if (!board_fdt_valid(blob, max_size))
		return -1;
	total = be32(h + 4);
	off_struct = be32(h + 8);
	strings = h + be32(h + 12);
	size_strings = be32(h + 32);
	size_struct = be32(h + 20) >= 17 ? be32(h + 36) : total - off_struct;
	if (size_struct > total - off_struct)
		return -1;
	s = h + off_struct;

	while (pos + 4 <= size_struct) {
		unsigned tok = be32(s + pos);

		pos += 4;
		switch (tok) {
		case FDT_BEGIN_NODE: {
			const char *name = (const char *)(s + pos);
			unsigned n = 0;

			while (pos + n < size_struct && s[pos + n])
				n++;
			if (pos + n >= size_struct)
				return -1;
			pos += (n + 1 + 3) & ~3U;
			depth++;
			if (depth == 2) {
				in_cpus = node_is(name, "cpus");
				in_psci = node_is(name, "psci");
				if (in_psci)
					info->psci_found = 1;
			} else if (depth == 3 && in_cpus) {
				is_cpu = 0;
				has_reg = 0;
				enabled = 1;
			}
			break;
		}
		case FDT_END_NODE:
			if (depth == 0)
				return -1;
			if (depth == 3 && in_cpus && is_cpu && has_reg &&
			    enabled) {
				if (info->ncpus < BOARD_MAX_CPUS)
					info->mpidr[info->ncpus++] = reg;
				info->cpus_seen++;
			}
			if (depth == 2)
				in_cpus = in_psci = 0;
			depth--;
			break;
		case FDT_PROP: {
			unsigned len, nameoff;
			const unsigned char *v;
			const char *pname;

			if (pos + 8 > size_struct)
				return -1;
			len = be32(s + pos);
			nameoff = be32(s + pos + 4);
			pos += 8;
			if (len > size_struct - pos || nameoff >= size_strings)
				return -1;
			v = s + pos;
			pname = (const char *)(strings + nameoff);
			pos += (len + 3) & ~3U;
			if (depth == 3 && in_cpus) {
				if (str_eq(pname, "device_type"))
					is_cpu = val_is(v, len, "cpu");
				else if (str_eq(pname, "status"))
					enabled = val_is(v, len, "okay") ||
						  val_is(v, len, "ok");
				else if (str_eq(pname, "reg") && len == 4) {
					reg = be32(v);
					has_reg = 1;
				} else if (str_eq(pname, "reg") && len == 8) {
					reg = (unsigned long)be32(v) << 32 |
					      be32(v + 4);
					has_reg = 1;
				}
			} else if (depth == 2 && in_psci &&
				   str_eq(pname, "method")) {
				info->psci_smc = val_is(v, len, "smc");
			}
			break;
		}
		case FDT_NOP:
			break;
		case FDT_END:
			return 0;
		default:
			return -1;
		}
	}
	return -1;
}
