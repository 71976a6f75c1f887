/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A 16550A UART at 0x3f8 (COM1), enough for a polling console (Linux's
 * earlyprintk/console=ttyS0 and the test guests): transmit goes to
 * stdout, the line status always says "transmitter empty", nothing is
 * ever received and no interrupt is raised.
 */
#include <stdio.h>
#include <string.h>

#include "vmm.h"

#define COM1 0x3f8

#define UART_LCR_DLAB 0x80
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_IIR_NONE 0x01
#define UART_IIR_THRI 0x02
#define UART_IER_THRI 0x02
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_DCD 0x80

void serial_init(struct vmm_serial *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->lcr = 0x03; /* 8n1 */
}

static uint8_t serial_read(struct vmm_serial *s, unsigned reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case 0:
		return dlab ? s->dll : 0;
	case 1:
		return dlab ? s->dlm : s->ier;
	case 2:
		/* FIFOs enabled (0xc0); the only interrupt source that can
		 * be pending is "transmitter empty". */
		return 0xc0 | ((s->ier & UART_IER_THRI) ? UART_IIR_THRI :
							   UART_IIR_NONE);
	case 3:
		return s->lcr;
	case 4:
		return s->mcr;
	case 5:
		return UART_LSR_THRE | UART_LSR_TEMT;
	case 6:
		return UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
	default:
		return s->scr;
	}
}

static void serial_write(struct vmm_serial *s, unsigned reg, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case 0:
		if (dlab) {
			s->dll = v;
		} else {
			fputc(v, stdout);
			if (v == '\n')
				fflush(stdout);
		}
		break;
	case 1:
		if (dlab)
			s->dlm = v;
		else
			s->ier = v & 0x0f;
		break;
	case 3:
		s->lcr = v;
		break;
	case 4:
		s->mcr = v & 0x1f;
		break;
	case 7:
		s->scr = v;
		break;
	default: /* FCR, read-only LSR/MSR */
		break;
	}
}

bool serial_io(struct vmm_serial *s, uint16_t port, uint8_t *data,
	       bool is_write)
{
	if (port < COM1 || port > COM1 + 7)
		return false;
	pthread_mutex_lock(&s->lock);
	if (is_write)
		serial_write(s, port - COM1, *data);
	else
		*data = serial_read(s, port - COM1);
	pthread_mutex_unlock(&s->lock);
	return true;
}
