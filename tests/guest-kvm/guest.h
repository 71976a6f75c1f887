/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Runtime of the freestanding test guests (32-bit protected mode, no libc):
 * port and MMIO access, a serial console, the 8259 PIC and an IDT, and the
 * exit port vdev-vmm turns into its exit status.
 *
 * The machine they expect is vdev-vmm's: RAM from 0, code at 0x10000,
 * stack below 0x80000, virtio-mmio devices from 0xd0000000 on GSIs 5, 6, 7,
 * files given with --load at the addresses the test names.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The device under test: vdev-vmm's device number DEV_INDEX (0 unless the
 * build says otherwise). */
#ifndef DEV_INDEX
#define DEV_INDEX 0
#endif
#define GUEST_MMIO_BASE (0xd0000000u + 0x1000u * DEV_INDEX)
#define GUEST_MMIO_GSI  (DEV_INDEX == 0 ? 5u : DEV_INDEX == 1 ? 6u : 7u)
/* Where the runner loads the bytes the test expects (--load FILE@ADDR). */
#define GUEST_DATA_ADDR 0x200000u
/* Free RAM for rings and buffers. */
#define GUEST_HEAP_ADDR 0x300000u

#define barrier() __asm__ __volatile__("" ::: "memory")

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t mmio_rd(uint32_t addr)
{
	uint32_t v = *(volatile uint32_t *)addr;

	barrier();
	return v;
}

static inline void mmio_wr(uint32_t addr, uint32_t v)
{
	barrier();
	*(volatile uint32_t *)addr = v;
}

void puts_(const char *s);
void put_hex(uint32_t v);
/* Prints "FAIL: <what> (got 0x.., want 0x..)" and returns @code. */
int fail(int code, const char *what, uint32_t got, uint32_t want);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* Remaps the PIC to vectors 0x20-0x2f and unmasks @irq (only). */
void pic_init(unsigned irq);
/* Interrupts of each IRQ line received so far. */
extern volatile unsigned irq_count[16];
/* Called for each IRQ before the EOI, as a driver's handler runs. */
extern void (*irq_hook)(unsigned irq);
/* Sleeps (sti; hlt) until irq_count[@irq] exceeds @seen or about @spins
 * wake-ups passed; returns the new count. */
unsigned wait_irq(unsigned irq, unsigned seen, unsigned spins);

/* The test. Returns 0 for pass, a nonzero failure code otherwise. */
int guest_main(void);

#endif
