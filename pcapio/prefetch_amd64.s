#include "textflag.h"

// func prefetchWrite(p unsafe.Pointer)
TEXT ·prefetchWrite(SB), NOSPLIT, $0-8
	MOVQ	p+0(FP), DI
	// PREFETCHW (DI); PREFETCHW 64(DI): the assembler has no mnemonic.
	BYTE	$0x0f; BYTE $0x0d; BYTE $0x0f
	BYTE	$0x0f; BYTE $0x0d; BYTE $0x4f; BYTE $0x40
	RET

// func cpuHasPrefetchW() bool
TEXT ·cpuHasPrefetchW(SB), NOSPLIT, $0-1
	MOVL	$0x80000000, AX
	XORL	CX, CX
	CPUID
	CMPL	AX, $0x80000001
	JB	no
	MOVL	$0x80000001, AX
	XORL	CX, CX
	CPUID
	SHRL	$8, CX
	ANDL	$1, CX
	MOVB	CX, ret+0(FP)
	RET
no:
	MOVB	$0, ret+0(FP)
	RET
