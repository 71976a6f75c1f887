/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Entry of a flat 32-bit test guest. vdev-vmm enters here in protected
 * mode with flat 4 GiB segments already loaded but no GDT or IDT in guest
 * memory: load our own (an interrupt reloads CS from the GDT), then call
 * guest_main() and report its result on the exit port.
 */
#define EXIT_PORT 0xf4

	.section .text.start, "ax"
	.code32
	.globl _start
_start:
	cli
	lgdt	gdt_desc
	ljmp	$0x08, $1f
1:	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movl	$0x80000, %esp
	call	guest_setup_idt
	lidt	idt_desc
	call	guest_main
	movw	$EXIT_PORT, %dx
	outl	%eax, %dx
2:	cli
	hlt
	jmp	2b

	.section .note.GNU-stack, "", @progbits
	.previous

/* One stub per vector 0..47: push a dummy error code where the CPU does
 * not, then the vector number. */
	.macro	stub vec
	.align	16
	.if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || \
	    (\vec == 13) || (\vec == 14) || (\vec == 17)
	.else
	pushl	$0
	.endif
	pushl	$\vec
	jmp	common_stub
	.endm

	.align	16
	.globl	guest_stubs
guest_stubs:
	.irp	vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23, \
		24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
	stub	\vec
	.endr

common_stub:
	pushal
	pushl	%esp
	call	guest_trap
	addl	$4, %esp
	popal
	addl	$8, %esp
	/*
	 * Return without iret: kvm_pvm emulates guest code with KVM's
	 * instruction emulator, which handles iret only in real mode. With no
	 * privilege change the frame is EIP, CS, EFLAGS: turn it into
	 * EFLAGS, EIP and use popf; ret.
	 */
	pushl	%eax
	movl	12(%esp), %eax
	movl	%eax, 8(%esp)
	movl	4(%esp), %eax
	movl	%eax, 12(%esp)
	popl	%eax
	addl	$4, %esp
	popfl
	ret

	.section .data
	.align	8
gdt:
	.quad	0
	.quad	0x00cf9b000000ffff	/* 0x08: code, flat, 32-bit */
	.quad	0x00cf93000000ffff	/* 0x10: data, flat */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt
	.globl	idt_desc
idt_desc:
	.word	48 * 8 - 1
	.long	guest_idt
