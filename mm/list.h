/* SPDX-License-Identifier: MIT */
/*
 * list.h - the one intrusive doubly linked list: a NULL-terminated list
 * reached through a head pointer, nodes embedded in what they link (slabs
 * on their shard's lists, superslabs on the heap's). O(1) push and delete;
 * the caller holds the lock that guards the list.
 */
#ifndef HAKMEM_MM_LIST_H
#define HAKMEM_MM_LIST_H

#include <stddef.h>

struct hak_list {
	struct hak_list *next, *prev;
};

static inline void hak_list_push(struct hak_list **head, struct hak_list *n)
{
	n->prev = NULL;
	n->next = *head;
	if (n->next)
		n->next->prev = n;
	*head = n;
}

static inline void hak_list_del(struct hak_list **head, struct hak_list *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		*head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

/* The object a node is embedded in, or NULL for no node. */
#define hak_list_entry(n, type, member)                                        \
	((n) ? (type *)(void *)((char *)(n) -                                  \
				__builtin_offsetof(type, member))             \
	     : (type *)NULL)

#endif /* HAKMEM_MM_LIST_H */
