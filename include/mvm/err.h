/* SPDX-License-Identifier: MIT */
/*
 * Error conventions of libmvm, as in the kernel: functions returning int give
 * 0 or -errno; functions returning a pointer give the object or ERR_PTR(-errno),
 * never NULL.
 */
#ifndef MVM_ERR_H
#define MVM_ERR_H

#include <stdbool.h>
#include <stdint.h>

#define MAX_ERRNO 4095

static inline void *ERR_PTR(long error)
{
	return (void *)error;
}

static inline long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}

static inline bool IS_ERR(const void *ptr)
{
	return (uintptr_t)ptr >= (uintptr_t)-MAX_ERRNO;
}

/* 0 for a pointer, the error of an ERR_PTR: for creators that return int. */
static inline int PTR_ERR_OR_ZERO(const void *ptr)
{
	return IS_ERR(ptr) ? (int)PTR_ERR(ptr) : 0;
}

static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || IS_ERR(ptr);
}

#endif
