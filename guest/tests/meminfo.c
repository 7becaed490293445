// SPDX-License-Identifier: MIT
/* meminfo: prints the PVH memory map and the total RAM (type 1) in KiB. */
#include "guest.h"

int main(void)
{
	const struct hvm_memmap_table_entry *e;
	unsigned long long ram = 0;
	unsigned int i, n;

	e = guest_memmap(&n);
	if (!e) {
		printf("meminfo: no memmap in hvm_start_info\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		printf("memmap: addr=0x%llx size=0x%llx type=%u\n", (unsigned long long)e[i].addr,
		       (unsigned long long)e[i].size, e[i].type);
		if (e[i].type == HVM_MEMMAP_RAM)
			ram += e[i].size;
	}
	printf("ram_total_kib=%llu\n", ram >> 10);
	return 0;
}
