// SPDX-License-Identifier: MIT
#include <string.h>

#include "mvm/config.h"

void mvm_config_init(struct mvm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = MVM_DEFAULT_MEM;
	cfg->cpus = 1;
	cfg->console_in = -1;
	cfg->console_out = 1;
}
