# A stand-in bcryptprimitives.dll for Wine 8.0, whose own lacks
# ProcessPrng: every Go 1.22+ Windows binary calls it at start and dies
# without it. ProcessPrng(PBYTE buf, SIZE_T len) -> BOOL forwards to
# advapi32!SystemFunction036 (RtlGenRandom: PVOID, ULONG -> BOOLEAN),
# len truncated to 32 bits (Go asks for small buffers). Test lane only.
	.text
	.globl	DllMain
DllMain:
	movl	$1, %eax
	ret

	.globl	ProcessPrng
ProcessPrng:
	subq	$40, %rsp
	call	*__imp_SystemFunction036(%rip)
	addq	$40, %rsp
	movzbl	%al, %eax
	ret
