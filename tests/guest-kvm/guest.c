/* SPDX-License-Identifier: BSD-3-Clause */
/* Runtime of the test guests: console, IDT, PIC, interrupt bookkeeping. */
#include "guest.h"

#define COM1 0x3f8

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t zero;
	uint8_t type;
	uint16_t off_hi;
} __attribute__((packed));

struct trap_frame {
	uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t eip, cs, eflags;
};

struct idt_gate guest_idt[48];
volatile unsigned irq_count[16];
void (*irq_hook)(unsigned irq);
extern char guest_stubs[];

void guest_setup_idt(void);
void guest_trap(struct trap_frame *f);

/* volatile: a compiler must not turn these loops into calls to
 * themselves. */
void *memset(void *d, int c, size_t n)
{
	volatile unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	volatile unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p < *q ? -1 : 1;
	return 0;
}

static void putc_(char c)
{
	/* Wait for THR empty, as on real hardware. */
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

void put_hex(uint32_t v)
{
	puts_("0x");
	for (int i = 7; i >= 0; i--)
		putc_("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

int fail(int code, const char *what, uint32_t got, uint32_t want)
{
	puts_("FAIL: ");
	puts_(what);
	puts_(" (got ");
	put_hex(got);
	puts_(", want ");
	put_hex(want);
	puts_(")\n");
	return code;
}

void guest_setup_idt(void)
{
	for (unsigned i = 0; i < 48; i++) {
		uint32_t h = (uint32_t)guest_stubs + 16 * i;

		guest_idt[i].off_lo = (uint16_t)h;
		guest_idt[i].sel = 0x08;
		guest_idt[i].zero = 0;
		/* Present, ring 0, 32-bit interrupt gate. */
		guest_idt[i].type = 0x8e;
		guest_idt[i].off_hi = (uint16_t)(h >> 16);
	}
}

void guest_trap(struct trap_frame *f)
{
	if (f->vector >= 0x20 && f->vector < 0x30) {
		unsigned irq = f->vector - 0x20;

		irq_count[irq]++;
		if (irq_hook)
			irq_hook(irq);
		if (irq >= 8)
			outb(0xa0, 0x20);
		outb(0x20, 0x20);
		return;
	}
	puts_("FAIL: exception ");
	put_hex(f->vector);
	puts_(" error ");
	put_hex(f->error);
	puts_(" eip ");
	put_hex(f->eip);
	puts_("\n");
	outl(0xf4, 0x100 + f->vector);
	for (;;)
		__asm__ __volatile__("cli; hlt");
}

void pic_init(unsigned irq)
{
	uint16_t mask = (uint16_t)~(1u << irq);

	if (irq >= 8)
		mask &= (uint16_t)~(1u << 2); /* the cascade */
	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, 0x20);
	outb(0xa1, 0x28);
	outb(0x21, 4);
	outb(0xa1, 2);
	outb(0x21, 1);
	outb(0xa1, 1);
	outb(0x21, (uint8_t)mask);
	outb(0xa1, (uint8_t)(mask >> 8));
}

unsigned wait_irq(unsigned irq, unsigned seen, unsigned spins)
{
	while (irq_count[irq] == seen && spins--)
		__asm__ __volatile__("sti; hlt; cli" ::: "memory");
	return irq_count[irq];
}
