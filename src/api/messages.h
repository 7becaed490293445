/* SPDX-License-Identifier: MIT */
/*
 * Every fault_message the API sends, in one table. Where Firecracker has a
 * message for the same fault, the text is Firecracker's (its clients and
 * tests match on it); mvm's own faults (what it does not implement, its
 * extensions) follow the same style. Formats, so that the compiler checks
 * each use's arguments.
 */
#ifndef MVM_API_MESSAGES_H
#define MVM_API_MESSAGES_H

/* ---- requests the router refuses ---- */
/* An unknown path, or a method the path does not have: 400, as Firecracker. */
#define MSG_INVALID_PATH_METHOD "Invalid request method and/or path: %s %.200s."
#define MSG_EMPTY_PUT		"Empty PUT request."
#define MSG_EMPTY_PATCH		"Empty PATCH request."
#define MSG_GET_WITH_BODY	"GET request cannot have a body."
#define MSG_PAYLOAD_TOO_LARGE \
	"Request payload with size %zu is larger than the limit of %zu allowed by server."
#define MSG_NOT_IMPLEMENTED "%s (%s %s) is not supported by mvm yet"
#define MSG_EMPTY_ID	    "The ID cannot be empty."
#define MSG_INVALID_ID	    "API Resource IDs can only contain alphanumeric characters and underscores."

/* ---- bodies: serde_json's wording, inside Firecracker's frame ---- */
#define MSG_DESERIALIZE	    "An error occurred when deserializing the json body of a request: %s%s."
#define MSG_JSON_SYNTAX	    "%s at line %d column %d"
#define MSG_JSON_EOF	    "EOF while parsing a value at line %d column %d"
#define MSG_MISSING_FIELD   "missing field `%s`"
#define MSG_UNKNOWN_FIELD   "unknown field `%.64s`, expected %s"
#define MSG_INVALID_TYPE    "invalid type: %s, expected %s"
#define MSG_INVALID_VALUE   "invalid value: integer `%lld`, expected %s"
#define MSG_UNKNOWN_VARIANT "unknown variant `%.64s`, expected %s"
#define MSG_NUL_IN_STRING   "invalid value: string with a NUL character, expected a string"
#define MSG_STRING_TOO_LONG "invalid length %zu, expected a string of at most %d bytes"
#define MSG_DUPLICATE_FIELD "duplicate field `%s`"
#define MSG_AT_POSITION	    " at line %d column %d"

/* ---- state ---- */
#define MSG_PREBOOT_ONLY  "The requested operation is not supported after starting the microVM."
#define MSG_POSTBOOT_ONLY "The requested operation is not supported before starting the microVM."
#define MSG_VM_STOPPED	  "The microVM has stopped."

/* ---- boot source, machine configuration ---- */
#define MSG_KERNEL_OPEN "Boot source error: The kernel file cannot be opened: %s (os error %d)"
#define MSG_INITRD_OPEN                                                                       \
	"Boot source error: The initrd file cannot be opened due to invalid path or invalid " \
	"permissions. %s (os error %d)"
#define MSG_NO_KERNEL	 "Start microvm error: Cannot start microvm without kernel configuration."
#define MSG_START_FAILED "Start microvm error: %s"
#define MSG_MEM_SIZE                                                                     \
	"Machine config error: The memory size (MiB) is either 0, or not a multiple of " \
	"the configured page size."
#define MSG_VCPU_COUNT                                                                        \
	"Machine config error: The number of vCPUs must be greater than 0, less than 32 and " \
	"must be 1 or an even number if SMT is enabled."
#define MSG_MEM_TOO_SMALL	    "Machine config error: mvm needs at least %lld MiB of guest memory."
#define MSG_MEM_TOO_LARGE	    "Machine config error: mvm takes at most %lld MiB of guest memory."
#define MSG_MC_UNSUPPORTED	    "Machine config error: %s is not supported by mvm yet."
#define MSG_CPU_TEMPLATE_DEPRECATED "%s /machine-config: cpu_template field is deprecated."

/* ---- drives and other devices ---- */
#define MSG_ROOT_DEVICE	   "Drive config error: A root block device already exists!"
#define MSG_DEVICE_UPDATE  "Unable to patch the %s: %s Please verify the request arguments."
#define MSG_DEVICE_UNKNOWN "Device not found"
#define MSG_ID_MISMATCH	   "The id from the path does not match the id from the body!"

/* ---- serial ---- */
#define MSG_SERIAL_OPEN		"Failed to open the serial output file: %s (os error %d)"
#define MSG_SERIAL_RATE_LIMITER "rate limiting the serial output is not supported by mvm yet"

/* ---- logger, metrics, actions ---- */
#define MSG_LOGGER_OPEN	  "Logger error: Failed to open target file: %s (os error %d)"
#define MSG_LOGGER_LEVEL  "Logger error: Failed to parse string to level filter: %.32s"
#define MSG_LOGGER_MODULE "Logger error: filtering by module is not supported by mvm yet."
#define MSG_METRICS_INIT \
	"Metrics error: Cannot initialize the metrics system due to bad user input: %s"
#define MSG_METRICS_TWICE "Reinitialization of metrics not allowed."
#define MSG_METRICS_OPEN  "Failed to open target file: %s (os error %d)"
#define MSG_METRICS_EXTRA "emit_id and properties are not supported by mvm yet"
#define MSG_METRICS_FLUSH "Internal VMM error: Metrics error: %s"
#define MSG_CTRL_ALT_DEL  "Internal VMM error: %s"
#define MSG_VM_PAUSE	  "Internal VMM error: %s the VM: %s"

/* ---- snapshots (Firecracker's texts, their variable parts mvm's) ---- */
#define MSG_SNAP_CREATE "Create snapshot error: %s"
#define MSG_SNAP_RUNNING                                                                \
	"Create snapshot error: Cannot save the microVM state: Operation not allowed: " \
	"save/restore unavailable while running"
#define MSG_SNAP_NO_SUPPORT                                                             \
	"Create snapshot error: Cannot save the microVM state: Operation not allowed: " \
	"Devices without snapshot support are present: %s"
#define MSG_SNAP_LOAD_NOT_ALLOWED                                                        \
	"Load snapshot error: Loading a microVM snapshot not allowed after configuring " \
	"boot-specific resources."
#define MSG_SNAP_LOAD "Load snapshot error: Failed to restore from snapshot: %s"
#define MSG_SNAP_LOAD_FILE                                                     \
	"Load snapshot error: Failed to restore from snapshot: Failed to get " \
	"snapshot state from file: Failed to load snapshot state from file: %s"
#define MSG_SNAP_UNKNOWN_NET                                                   \
	"Load snapshot error: Failed to restore from snapshot: Failed to get " \
	"snapshot state from file: Unknown Network Device."
#define MSG_SNAP_UNKNOWN_VSOCK                                                 \
	"Load snapshot error: Failed to restore from snapshot: Failed to get " \
	"snapshot state from file: Unknown Vsock Device."
#define MSG_SNAP_RESUME	     "Load snapshot error: Failed to resume microVM: %s"
#define MSG_SNAP_MISSING_MEM "missing field: either `mem_backend` or `mem_file_path` is required"
#define MSG_SNAP_TOO_MANY_MEM                                                   \
	"too many fields: either `mem_backend` or `mem_file_path` exclusively " \
	"is required"
#define MSG_SNAP_LOAD_DEPRECATED \
	"PUT /snapshot/load: mem_file_path and enable_diff_snapshots fields are deprecated."
#define MSG_SNAP_UNSUPPORTED "Load snapshot error: %s is not supported by mvm yet"

/* ---- the API socket (stderr / the log) ---- */
#define MSG_SOCKET_IN_USE "Failed to open the API socket at: %s. Check that it is not already used."

/* ---- the log's lines about requests (Info; errors at Error) ---- */
#define MSG_LOG_REQUEST	     "The API server received a %s request on %s."
#define MSG_LOG_REQUEST_BODY "The API server received a %s request on %s with body %s."
#define MSG_LOG_OK	     "The request was executed successfully. Status code: 200 OK."
#define MSG_LOG_NO_CONTENT   "The request was executed successfully. Status code: 204 No Content."
#define MSG_LOG_ERROR	     "Received Error. Status code: %u %s. Message: %s"

/* ---- PUT /cpu-config: Firecracker's CPU template parser (serde custom errors) ---- */
#define MSG_CPU_NUMBER_PREFIX                                                                \
	"No supported number system prefix found in value [%.64s]. Make sure to prefix the " \
	"number with '0x' for hexadecimal numbers or '0b' for binary numbers."
#define MSG_CPU_NUMBER	    "Failed to parse string [%.64s] as a number for CPU template - %s"
#define MSG_CPU_BITMAP_LONG "Failed to parse string [%.80s] as a bitmap - string is too long"
#define MSG_CPU_BITMAP_CHAR "Failed to parse string [%.80s] as a bitmap - unknown character: %u"
#define MSG_CPU_CAPABILITY \
	"Failed to parse string [%.64s] as a kvm capability - can not convert to numeric: %s"
#define MSG_CPU_REGISTER "Invalid CPUID register. Must be one of [eax, ebx, ecx, edx]"
#define MSG_CPU_TOO_MANY "mvm takes at most %d %s" /* mvm's own limit */

/* ---- mvm's own ---- */
#define MSG_OUT_OF_MEMORY   "out of memory"
#define MSG_INTERNAL	    "internal error: %s gave no answer"
#define MSG_NOTHING_STARTED "%s needs a started VM: send InstanceStart first"

#endif
