/* SPDX-License-Identifier: MIT */
/*
 * Device types (DESIGN.md §1.3): each type of device registers one
 * descriptor, in its own file, with MVM_DEVICE_TYPE(). The descriptor owns
 * the type's name, its creation order, its option table and how to create
 * an instance. Everything else is derived from it:
 *
 *   - `mvm run --<cli> VALUE` and its --help text (src/cli/run.c),
 *   - the API's PUT/PATCH /<api>[/{id}] body validation and the
 *     GET /vm/config echo (src/api/devtype_json.c),
 *   - the config file's "<api>" section (src/api/config_file.c),
 *   - vm_create(), which creates every configured instance type by type in
 *     creation order, and the platform devices the arch lists.
 *
 * Types, never instances, are registered: many VMs may live in a process.
 * An instance's option values live in a fixed-size blob inside struct
 * mvm_config (struct mvm_devcfg), so a configuration is copied by value and
 * owns its strings.
 */
#ifndef MVM_DEVTYPE_H
#define MVM_DEVTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vm;
struct mvm_config;
struct platform_device_desc;

enum mvm_opt_kind {
	MVM_OPT_BOOL,	/* bool; CLI: "key" alone is true, or key=on|off|true|false */
	MVM_OPT_UINT,	/* uint64_t in [min, max] */
	MVM_OPT_STR,	/* char[max + 1] inside the blob; at most max bytes */
	MVM_OPT_ENUM,	/* unsigned int: index into choices */
	MVM_OPT_MAC,	/* uint8_t[6]; "aa:bb:cc:dd:ee:ff" */
	MVM_OPT_OBJECT, /* a nested table (sub) at offset; CLI keys are "name.field" */
	/* Known to the API/config file, refused with `help` as the reason. */
	MVM_OPT_UNSUPPORTED,
};

/* Option flags. */
#define MVM_OPT_REQUIRED   0x01 /* must be given (API and CLI) */
#define MVM_OPT_POSITIONAL 0x02 /* CLI: the leading value without "key=" */
#define MVM_OPT_ID	   0x04 /* the instance's id: unique per type, the API's {id} */
#define MVM_OPT_CLI_ONLY   0x08 /* not an API/config-file field */
#define MVM_OPT_API_ONLY   0x10 /* not a CLI key */
#define MVM_OPT_PATCH	   0x20 /* may be changed after boot (PATCH) */
#define MVM_OPT_HOST_FILE  0x40 /* STR: a host file that must exist and not be a FIFO */
#define MVM_OPT_DEPRECATED 0x80 /* API: taken, answered "Deprecation: true" and logged */

struct mvm_opt_choice {
	const char *cli; /* CLI spelling */
	const char *api; /* API spelling; NULL: same as cli */
};

struct mvm_opt {
	const char *name; /* CLI key */
	const char *api;  /* API / config-file field; NULL: same as name */
	enum mvm_opt_kind kind;
	unsigned int flags;
	size_t offset;			      /* of the value in the type's config struct */
	uint64_t min;			      /* UINT */
	uint64_t max;			      /* UINT: largest value; STR: longest length */
	const char *def;		      /* default, in CLI spelling; NULL: zero */
	const char *api_def;		      /* default through the API / config file; NULL: def */
	const struct mvm_opt_choice *choices; /* ENUM; ended by { NULL } */
	const struct mvm_opt *sub;	      /* OBJECT; ended by { NULL } */
	size_t set_offset; /* OBJECT: a bool in the blob set when the object is given; 0: none */
	const char *help;
};

/* The leading fields of an option table entry: { MVM_OPT(...), .max = 64, .help = "..." }. */
#define MVM_OPT(name_, api_, kind_, flags_, offset_) \
	.name = (name_), .api = (api_), .kind = (kind_), .flags = (flags_), .offset = (offset_)
#define MVM_OPT_END          \
	{                    \
		.name = NULL \
	}

/* Creation orders of the kinds of device (a type may use any value). */
#define MVM_ORDER_PLATFORM 10 /* the arch's fixed devices */
#define MVM_ORDER_BUS	   20 /* bus hosts (PCI) */
#define MVM_ORDER_VIRTIO   50 /* virtio devices, on the VM's transport */

/* Largest option blob of any type; a type's config_size is checked against it. */
#define MVM_DEVCFG_SIZE 4608
#define MVM_MAX_DEVICES 32

struct mvm_device_type {
	const char *name;    /* the listing's type: "virtio-blk", "serial8250" */
	const char *summary; /* one line for --help */
	/* Creation order: lower first (platform devices, the PCI host, then buses' devices). */
	unsigned int order;

	/* Front ends; each NULL when the type has none. */
	const char *cli;      /* `mvm run --<cli>`; e.g. "disk" */
	const char *cli_arg;  /* how the positional value reads in --help: "PATH" */
	const char *api;      /* API resource and config-file section: "drives" */
	const char *api_noun; /* in messages: "drive" */
	bool singleton;	      /* API: PUT /<api> without {id}; config file: an object */
	unsigned int max;     /* instances per VM (0: MVM_MAX_DEVICES) */

	size_t config_size;	    /* of its option blob; <= MVM_DEVCFG_SIZE */
	const struct mvm_opt *opts; /* ended by MVM_OPT_END */

	/*
	 * Optional: checks an instance against the rest of the configuration
	 * (the instance itself is not in cfg yet, or is at `self`). 0, or
	 * -EINVAL with a message for the user in msg.
	 */
	int (*check)(const struct mvm_config *cfg, const void *blob, int self, char *msg,
		     size_t len);
	/*
	 * Creates and registers one instance in vm (listed, owned by the VM).
	 * blob: its options; for a platform type, the arch's table entry.
	 * 0 or -errno (the VM's unwind releases what was registered).
	 */
	int (*create)(struct vm *vm, const void *blob, unsigned int index);
	/*
	 * Optional: guest-physical memory an instance needs (a host file mapped
	 * as a memory slot, vm_memory_map_file()), reserved by vm_create()
	 * right after RAM and before the irqchip: a slot added later costs an
	 * SRCU grace period. What it maps belongs to vm->mem. 0 or -errno.
	 */
	int (*reserve_memory)(struct vm *vm, const void *blob, unsigned int index);
	/* Platform type: created once per entry of the arch's table that names it. */
	bool platform;
	/* Optional: whether the platform device is wanted in this VM. */
	bool (*wanted)(const struct mvm_config *cfg);
	/* Optional: post-boot change of the MVM_OPT_PATCH options (PATCH /<api>/{id}). */
	int (*update)(struct vm *vm, const char *id, const void *blob, char *msg, size_t len);
};

/* Registers a type; put one at file scope in the type's own file. */
#define MVM_DEVICE_TYPE(var)                            \
	_Static_assert(sizeof(var) > 0, "device type"); \
	static const struct mvm_device_type *var##_ref  \
		__attribute__((used, section("mvm_devtype_section"))) = &var

/* One configured instance. */
struct mvm_devcfg {
	const struct mvm_device_type *type;
	_Alignas(8) unsigned char blob[MVM_DEVCFG_SIZE];
};

/* Every registered type, in creation order (then by name). */
unsigned int mvm_device_types(const struct mvm_device_type ***types);
const struct mvm_device_type *mvm_device_type_find(const char *name);
/* The type that serves API resource `api` ("drives"), or NULL. */
const struct mvm_device_type *mvm_device_type_by_api(const char *api);

/* Value of option o inside blob. */
static inline void *mvm_opt_ptr(const void *blob, const struct mvm_opt *o)
{
	return (unsigned char *)blob + o->offset;
}

/* Fills blob with the type's defaults (zero, then each option's def or api_def). */
void mvm_opts_defaults(const struct mvm_device_type *t, void *blob, bool api);
/*
 * Sets option o from its CLI spelling. 0, or -EINVAL with a message naming
 * the option and what it takes.
 */
int mvm_opt_set_str(const struct mvm_opt *o, void *blob, const char *value, char *msg, size_t len);
/* Formats option o's value in its CLI spelling. */
void mvm_opt_format(const struct mvm_opt *o, const void *blob, char *buf, size_t len);
/*
 * The option called `name` (CLI key; "a.b" reaches into an object), or
 * NULL. *base gets the offset of its object (add it to the option's); *set
 * (when not NULL) the offset of the object's "given" flag, 0 for none.
 */
const struct mvm_opt *mvm_opt_find(const struct mvm_opt *opts, const char *name, size_t *base,
				   size_t *set);
/* The type's id option, or NULL. */
const struct mvm_opt *mvm_type_id_opt(const struct mvm_device_type *t);
/* An instance's id ("" when the type has none). */
const char *mvm_devcfg_id(const struct mvm_devcfg *d);

/*
 * Parses a CLI value "POSITIONAL,key=value,flag,..." into a new instance of
 * t appended to cfg (defaults first, then the values, then the required and
 * the type's own checks). 0, or -EINVAL/-ENOSPC with a message in msg.
 */
int mvm_config_parse_device(struct mvm_config *cfg, const struct mvm_device_type *t,
			    const char *arg, char *msg, size_t len);
/*
 * Adds the instance `blob` of t to cfg, replacing the one with the same id
 * (API PUT semantics): checks required options, id uniqueness, the type's
 * maximum and check(); api: messages name the API's fields. 0, or
 * -EINVAL/-ENOSPC with a message.
 */
int mvm_config_put_device(struct mvm_config *cfg, const struct mvm_device_type *t, const void *blob,
			  bool api, char *msg, size_t len);
/* The instance of t with this id (any instance when the type has no id), or NULL. */
struct mvm_devcfg *mvm_config_find_device(struct mvm_config *cfg, const struct mvm_device_type *t,
					  const char *id);
/* Number of instances of t in cfg. */
unsigned int mvm_config_count(const struct mvm_config *cfg, const struct mvm_device_type *t);

/* --help text of every type with a CLI option. */
void mvm_device_types_usage(FILE *f);

#endif
