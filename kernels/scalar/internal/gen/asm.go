package main

import (
	"fmt"
	"strings"
)

// The float32 band loops are written in assembly: in Go, each load at a
// run-time row offset costs two or three address instructions, the loops
// need more vector registers than AVX2 has, and the spills and address
// arithmetic made them three times longer than the arithmetic they do.

// rowOperand addresses row m (0..8) below base, with the row stride in R8
// and 3, 5 and 7 strides in R9, R10 and R11.
func rowOperand(disp int, base string, m int) string {
	d := ""
	if disp != 0 {
		d = fmt.Sprint(disp)
	}
	switch m {
	case 0:
		return fmt.Sprintf("%s(%s)", d, base)
	case 1, 2, 4, 8:
		return fmt.Sprintf("%s(%s)(R8*%d)", d, base, m)
	case 3:
		return fmt.Sprintf("%s(%s)(R9*1)", d, base)
	case 6:
		return fmt.Sprintf("%s(%s)(R9*2)", d, base)
	case 5:
		return fmt.Sprintf("%s(%s)(R10*1)", d, base)
	case 7:
		return fmt.Sprintf("%s(%s)(R11*1)", d, base)
	}
	panic("row out of range")
}

type asmWriter struct{ strings.Builder }

func (w *asmWriter) op(format string, args ...any) {
	fmt.Fprintf(&w.Builder, "\t"+format+"\n", args...)
}

// Offsets in bandYArgs and bandXArgs (band_asm_amd64.go).
const (
	yArgsCoef = 64 // after u, psi, zeta, psin, zetan, wy, n, stride
	xArgsNVec = 72 // after u, psi, zeta, psin, zetan, un, c, w, table
	xArgsRows = 80
	xArgsStr  = 88
)

// strides loads the row stride from off(R14) into R8 and its multiples.
func (w *asmWriter) strides(off int) {
	w.op("MOVQ %d(R14), R8", off)
	w.op("LEAQ (R8)(R8*2), R9")
	w.op("LEAQ (R8)(R8*4), R10")
	w.op("LEAQ (R9)(R8*4), R11")
}

// bandY writes bandYF32A<acc>: the y terms of a y-band row, see
// forwardBandY. Coefficient vectors at R14: 0 ay, 1 by, 2 dby, 3 opby,
// 4 cY, then for each k: d1y, d2y, and the ψ weights of rows y+k and y−k.
func bandY(w *asmWriter, h int) {
	v := func(j int) string { return fmt.Sprintf("%d(R14)", 32*j) }
	kv := func(k, j int) string { return v(5 + 4*(k-1) + j) }
	rowPrologue(w, "bandYF32A", "bandYArgs", h)
	fmt.Fprintf(w, "loopY%d:\n", h)
	w.op("VMOVUPS %s, Y0", rowOperand(0, "AX", h))
	w.op("VMULPS %s, Y0, Y2", v(4))
	w.op("VXORPS Y1, Y1, Y1")
	w.op("VXORPS Y3, Y3, Y3")
	for k := 1; k <= h; k++ {
		w.op("VMOVUPS %s, Y4", rowOperand(0, "AX", h+k))
		w.op("VMOVUPS %s, Y5", rowOperand(0, "AX", h-k))
		w.op("VSUBPS Y5, Y4, Y6")
		w.op("VADDPS Y5, Y4, Y7")
		w.op("VFMADD231PS %s, Y6, Y1", kv(k, 0))
		w.op("VFMADD231PS %s, Y7, Y2", kv(k, 1))
		w.op("VMOVUPS %s, Y8", rowOperand(0, "BX", h+k))
		w.op("VMOVUPS %s, Y9", rowOperand(0, "BX", h-k))
		w.op("VFMADD231PS %s, Y8, Y3", kv(k, 2))
		w.op("VFMADD231PS %s, Y9, Y3", kv(k, 3))
	}
	w.op("VFMADD231PS %s, Y1, Y3", v(2)) // dψ + b'·u_y
	w.op("VFMADD231PS %s, Y2, Y3", v(3)) // tmp
	w.op("VMOVUPS (CX), Y4")
	w.op("VMULPS %s, Y4, Y4", v(0)) // a·ζ
	w.op("VMOVUPS Y4, Y5")
	w.op("VFMADD231PS %s, Y3, Y5", v(3))
	w.op("VMOVUPS Y5, (R12)") // y terms of W
	w.op("VFMADD231PS %s, Y3, Y4", v(1))
	w.op("VMOVUPS Y4, (DI)") // ζ next
	w.op("VMOVUPS %s, Y6", rowOperand(0, "BX", h))
	w.op("VMULPS %s, Y6, Y6", v(0))
	w.op("VFMADD231PS %s, Y1, Y6", v(1))
	w.op("VMOVUPS Y6, (DX)") // ψ next
	for _, r := range []string{"AX", "BX", "CX", "DX", "DI", "R12"} {
		w.op("ADDQ $32, %s", r)
	}
	w.op("DECQ R13")
	w.op("JNZ loopY%d", h)
	w.op("VZEROUPPER")
	w.op("RET")
}

// prefetchRows is how many rows ahead the x-band loop prefetches.
var prefetchRows = 2

// bandX writes bandXF32A<acc>: rows of an x-band segment outside the y
// band, see forwardBandX. The table at R14 starts with the stencil's
// vectors, cY, cX, 2, then for each k d2y, d1x, d2x; then one block per
// vector of columns: ax, bx, 1+bx, b'x, then for each k the ψ weights of
// columns x+k and x−k. R15 is the block's offset.
func bandX(w *asmWriter, h int) {
	consts := 3 + 3*h
	block := 32 * (4 + 2*h)
	c := func(j int) string { return fmt.Sprintf("%d(R14)", 32*j) }
	kc := func(k, j int) string { return c(3 + 3*(k-1) + j) }
	b := func(j int) string { return fmt.Sprintf("%d(R14)(R15*1)", 32*(consts+j)) }
	segmentPrologue(w, "bandXF32A", "rowX", h, block)
	fmt.Fprintf(w, "loopX%d:\n", h)
	w.op("VMOVUPS %s, Y0", rowOperand(0, "AX", h))
	w.op("VMULPS %s, Y0, Y1", c(0)) // W, y part
	for k := 1; k <= h; k++ {
		w.op("VMOVUPS %s, Y4", rowOperand(0, "AX", h+k))
		w.op("VADDPS %s, Y4, Y4", rowOperand(0, "AX", h-k))
		w.op("VFMADD231PS %s, Y4, Y1", kc(k, 0))
	}
	w.op("VMULPS %s, Y0, Y3", c(1)) // u_xx
	w.op("VXORPS Y2, Y2, Y2")       // u_x
	w.op("VXORPS Y5, Y5, Y5")       // dψ
	for k := 1; k <= h; k++ {
		w.op("VMOVUPS %s, Y4", rowOperand(4*k, "AX", h))
		w.op("VMOVUPS %s, Y6", rowOperand(-4*k, "AX", h))
		w.op("VSUBPS Y6, Y4, Y7")
		w.op("VADDPS Y6, Y4, Y4")
		w.op("VFMADD231PS %s, Y7, Y2", kc(k, 1))
		w.op("VFMADD231PS %s, Y4, Y3", kc(k, 2))
		w.op("VMOVUPS %d(BX), Y6", 4*k)
		w.op("VFMADD231PS %s, Y6, Y5", b(4+2*(k-1)))
		w.op("VMOVUPS %d(BX), Y7", -4*k)
		w.op("VFMADD231PS %s, Y7, Y5", b(5+2*(k-1)))
	}
	w.op("VFMADD231PS %s, Y2, Y5", b(3)) // dψ + b'·u_x
	w.op("VFMADD231PS %s, Y3, Y5", b(2)) // tmp
	w.op("VMOVUPS (CX), Y6")             // ζ
	w.op("VMOVUPS %s, Y7", b(0))         // a
	w.op("VFMADD231PS Y7, Y6, Y1")
	w.op("VFMADD231PS %s, Y5, Y1", b(2)) // W
	w.op("VMULPS Y7, Y6, Y6")
	w.op("VFMADD231PS %s, Y5, Y6", b(1))
	w.op("VMOVUPS Y6, (DI)") // ζ next
	w.op("VMULPS (BX), Y7, Y6")
	w.op("VFMADD231PS %s, Y2, Y6", b(1))
	w.op("VMOVUPS Y6, (DX)") // ψ next
	w.op("TESTQ R13, R13")
	w.op("JZ nostoreX%d", h)
	w.op("VMOVUPS Y1, (R13)")
	w.op("ADDQ $32, R13")
	fmt.Fprintf(w, "nostoreX%d:\n", h)
	w.op("VMULPS %s, Y0, Y0", c(2))
	w.op("VSUBPS (SI), Y0, Y0")
	w.op("VFMADD231PS (R12), Y1, Y0")
	w.op("VMOVUPS Y0, (SI)")
	for _, r := range []string{"AX", "BX", "CX", "DX", "DI", "SI", "R12"} {
		w.op("ADDQ $32, %s", r)
	}
	w.op("ADDQ $%d, R15", block)
	segmentEpilogue(w, "loopX", "rowX", h, true)
}

// interior writes interiorF32A<acc>, forwardInterior for float32 with W
// stored when a.w is not nil, or with grad interiorGradF32A<acc>,
// backwardInterior with the gradient g += W·μ (W read from a.w, g at a.g).
// The weights stay in registers: Y15 the centre, Y14 2, Y6+2(k−1) d2y[k]
// and Y7+2(k−1) d2x[k].
func interior(w *asmWriter, h int, grad bool) {
	name, loop := "interiorF32A", "loopI"
	if grad {
		name, loop = "interiorGradF32A", "loopG"
	}
	fmt.Fprintf(w, "\n// func %s%d(a *interiorArgs)\nTEXT ·%s%d(SB), NOSPLIT, $0-8\n", name, 2*h, name, 2*h)
	w.op("MOVQ a+0(FP), R14")
	w.op("MOVQ 0(R14), AX") // u, row −h
	w.op("MOVQ 8(R14), BX")
	w.op("MOVQ 16(R14), CX")
	w.op("MOVQ 24(R14), DX")
	w.op("MOVQ 32(R14), SI")
	w.op("MOVQ 40(R14), DI")
	if grad {
		w.op("MOVQ 56(R14), R12")
	}
	w.strides(48)
	w.op("VMOVUPS 0(SI), Y15")
	w.op("VMOVUPS 32(SI), Y14")
	cy := func(k int) string { return fmt.Sprintf("Y%d", 6+2*(k-1)) }
	cx := func(k int) string { return fmt.Sprintf("Y%d", 7+2*(k-1)) }
	for k := 1; k <= h; k++ {
		w.op("VMOVUPS %d(SI), %s", 64+64*(k-1), cy(k))
		w.op("VMOVUPS %d(SI), %s", 96+64*(k-1), cx(k))
	}
	fmt.Fprintf(w, "%s%d:\n", loop, h)
	w.op("VMOVUPS %s, Y0", rowOperand(0, "AX", h))
	w.op("VMULPS Y15, Y0, Y1")
	w.op("VMOVUPS %s, Y3", rowOperand(4, "AX", h))
	w.op("VADDPS %s, Y3, Y3", rowOperand(-4, "AX", h))
	w.op("VMULPS %s, Y3, Y2", cx(1))
	for k := 1; k <= h; k++ {
		w.op("VMOVUPS %s, Y3", rowOperand(0, "AX", h+k))
		w.op("VADDPS %s, Y3, Y3", rowOperand(0, "AX", h-k))
		w.op("VFMADD231PS %s, Y3, Y1", cy(k))
		if k > 1 {
			w.op("VMOVUPS %s, Y4", rowOperand(4*k, "AX", h))
			w.op("VADDPS %s, Y4, Y4", rowOperand(-4*k, "AX", h))
			w.op("VFMADD231PS %s, Y4, Y2", cx(k))
		}
	}
	w.op("VADDPS Y2, Y1, Y1")
	advance := []string{"AX", "BX", "CX"}
	if grad {
		w.op("VMOVUPS (R12), Y4")
		w.op("VFMADD231PS (DX), Y0, Y4")
		w.op("VMOVUPS Y4, (R12)") // g += W·μ
		advance = append(advance, "DX", "R12")
	} else {
		w.op("TESTQ DX, DX")
		w.op("JZ nostoreI%d", h)
		w.op("VMOVUPS Y1, (DX)")
		w.op("ADDQ $32, DX")
		fmt.Fprintf(w, "nostoreI%d:\n", h)
	}
	w.op("VMULPS Y14, Y0, Y0")
	w.op("VSUBPS (BX), Y0, Y0")
	w.op("VFMADD231PS (CX), Y1, Y0")
	w.op("VMOVUPS Y0, (BX)")
	for _, r := range advance {
		w.op("ADDQ $32, %s", r)
	}
	w.op("DECQ DI")
	w.op("JNZ %s%d", loop, h)
	w.op("VZEROUPPER")
	w.op("RET")
}

// bandAsm is zz_generated_band_amd64.s.
func bandAsm() string {
	var w asmWriter
	w.WriteString("// Code generated by kernels/scalar/internal/gen; DO NOT EDIT.\n\n")
	w.WriteString("//go:build goexperiment.simd && amd64\n\n#include \"textflag.h\"\n")
	for h := 1; h <= 4; h++ {
		interior(&w, h, false)
		interior(&w, h, true)
		bandY(&w, h)
		bandX(&w, h)
		backwardY(&w, h)
		backwardX(&w, h)
	}
	return w.String()
}

// backwardY writes backwardYF32A<acc>: the y terms of backwardCPML on a
// y-band row, into a.sum; see backwardBandY. Coefficient vectors at R14:
// 0 ay, 1 (1+by)·cY, 2 1+by, 3 by, then for each k: 1+b and b of row y+k,
// 1+b and b of row y−k, and the weights of t₊ and t₋ (rows y±k) in the
// second derivative, in the first (b'), of ψ on rows y±k, and of t₊ and
// t₋ in ψ's update (d1y, −d1y).
func backwardY(w *asmWriter, h int) {
	v := func(j int) string { return fmt.Sprintf("%d(R14)", 32*j) }
	kv := func(k, j int) string { return v(4 + 12*(k-1) + j) }
	rowPrologue(w, "backwardYF32A", "backwardYArgs", h)
	fmt.Fprintf(w, "loopBY%d:\n", h)
	w.op("VMOVUPS %s, Y0", rowOperand(0, "AX", h)) // μ
	w.op("VMOVUPS %s, Y1", rowOperand(0, "CX", h)) // ζ
	w.op("VMULPS %s, Y1, Y2", v(3))
	w.op("VFMADD231PS %s, Y0, Y2", v(2))
	w.op("VMULPS %s, Y2, Y2", v(1)) // second derivative
	w.op("VXORPS Y3, Y3, Y3")       // first derivative
	w.op("VXORPS Y4, Y4, Y4")       // ψ's term
	for k := 1; k <= h; k++ {
		w.op("VMOVUPS %s, Y5", rowOperand(0, "CX", h+k))
		w.op("VMULPS %s, Y5, Y5", kv(k, 1))
		w.op("VMOVUPS %s, Y6", rowOperand(0, "AX", h+k))
		w.op("VFMADD231PS %s, Y6, Y5", kv(k, 0)) // t₊
		w.op("VMOVUPS %s, Y6", rowOperand(0, "CX", h-k))
		w.op("VMULPS %s, Y6, Y6", kv(k, 3))
		w.op("VMOVUPS %s, Y7", rowOperand(0, "AX", h-k))
		w.op("VFMADD231PS %s, Y7, Y6", kv(k, 2)) // t₋
		w.op("VFMADD231PS %s, Y5, Y2", kv(k, 4))
		w.op("VFMADD231PS %s, Y6, Y2", kv(k, 5))
		w.op("VFMADD231PS %s, Y5, Y3", kv(k, 6))
		w.op("VFMADD231PS %s, Y6, Y3", kv(k, 8))
		w.op("VMOVUPS %s, Y7", rowOperand(0, "BX", h+k))
		w.op("VFMADD231PS %s, Y7, Y3", kv(k, 7))
		w.op("VMOVUPS %s, Y7", rowOperand(0, "BX", h-k))
		w.op("VFMADD231PS %s, Y7, Y3", kv(k, 9))
		w.op("VFMADD231PS %s, Y5, Y4", kv(k, 10))
		w.op("VFMADD231PS %s, Y6, Y4", kv(k, 11))
	}
	w.op("VSUBPS Y3, Y2, Y2")
	w.op("VMOVUPS Y2, (R12)") // y terms of the sum
	w.op("VMOVUPS %s, Y5", rowOperand(0, "BX", h))
	w.op("VSUBPS Y4, Y5, Y5")
	w.op("VMULPS %s, Y5, Y5", v(0))
	w.op("VMOVUPS Y5, (DX)") // ψ next
	w.op("VADDPS Y1, Y0, Y0")
	w.op("VMULPS %s, Y0, Y0", v(0))
	w.op("VMOVUPS Y0, (DI)") // ζ next
	for _, r := range []string{"AX", "BX", "CX", "DX", "DI", "R12"} {
		w.op("ADDQ $32, %s", r)
	}
	w.op("DECQ R13")
	w.op("JNZ loopBY%d", h)
	w.op("VZEROUPPER")
	w.op("RET")
}

// backwardX writes backwardXF32A<acc>: backwardCPML on the x-band segment
// of rows outside the y band, without the gradient (the caller adds it).
// The table at R14 starts with cY, 2, then for each k d2y, d1x, −d1x;
// then one block per vector of columns: ax, (1+bx)·cX, 1+bx, bx, then
// for each k 1+b and b of column x+k, 1+b and b of column x−k, and the
// weights of t₊ and t₋ in the second derivative, in the first (b'), and
// of ψ on columns x±k. R15 is the block's offset.
func backwardX(w *asmWriter, h int) {
	consts := 2 + 3*h
	block := 32 * (4 + 10*h)
	c := func(j int) string { return fmt.Sprintf("%d(R14)", 32*j) }
	kc := func(k, j int) string { return c(2 + 3*(k-1) + j) }
	b := func(j int) string { return fmt.Sprintf("%d(R14)(R15*1)", 32*(consts+j)) }
	kb := func(k, j int) string { return b(4 + 10*(k-1) + j) }
	segmentPrologue(w, "backwardXF32A", "rowBX", h, block)
	fmt.Fprintf(w, "loopBX%d:\n", h)
	w.op("VMOVUPS %s, Y0", rowOperand(0, "AX", h)) // μ
	w.op("VMULPS %s, Y0, Y1", c(0))                // sum, y part
	for k := 1; k <= h; k++ {
		w.op("VMOVUPS %s, Y4", rowOperand(0, "AX", h+k))
		w.op("VADDPS %s, Y4, Y4", rowOperand(0, "AX", h-k))
		w.op("VFMADD231PS %s, Y4, Y1", kc(k, 0))
	}
	w.op("VMOVUPS (CX), Y8") // ζ
	w.op("VMULPS %s, Y8, Y2", b(3))
	w.op("VFMADD231PS %s, Y0, Y2", b(2))
	w.op("VMULPS %s, Y2, Y2", b(1)) // second derivative
	w.op("VXORPS Y3, Y3, Y3")       // first derivative
	w.op("VXORPS Y5, Y5, Y5")       // ψ's term
	for k := 1; k <= h; k++ {
		w.op("VMOVUPS %d(CX), Y6", 4*k)
		w.op("VMULPS %s, Y6, Y6", kb(k, 1))
		w.op("VMOVUPS %s, Y7", rowOperand(4*k, "AX", h))
		w.op("VFMADD231PS %s, Y7, Y6", kb(k, 0)) // t₊
		w.op("VMOVUPS %d(CX), Y7", -4*k)
		w.op("VMULPS %s, Y7, Y7", kb(k, 3))
		w.op("VMOVUPS %s, Y9", rowOperand(-4*k, "AX", h))
		w.op("VFMADD231PS %s, Y9, Y7", kb(k, 2)) // t₋
		w.op("VFMADD231PS %s, Y6, Y2", kb(k, 4))
		w.op("VFMADD231PS %s, Y7, Y2", kb(k, 5))
		w.op("VFMADD231PS %s, Y6, Y3", kb(k, 6))
		w.op("VFMADD231PS %s, Y7, Y3", kb(k, 8))
		w.op("VMOVUPS %d(BX), Y9", 4*k)
		w.op("VFMADD231PS %s, Y9, Y3", kb(k, 7))
		w.op("VMOVUPS %d(BX), Y9", -4*k)
		w.op("VFMADD231PS %s, Y9, Y3", kb(k, 9))
		w.op("VFMADD231PS %s, Y6, Y5", kc(k, 1))
		w.op("VFMADD231PS %s, Y7, Y5", kc(k, 2))
	}
	w.op("VSUBPS Y3, Y2, Y2")
	w.op("VADDPS Y2, Y1, Y1")
	w.op("VMOVUPS %s, Y4", b(0)) // a
	w.op("VMOVUPS (BX), Y9")
	w.op("VSUBPS Y5, Y9, Y9")
	w.op("VMULPS Y4, Y9, Y9")
	w.op("VMOVUPS Y9, (DX)") // ψ next
	w.op("VADDPS Y8, Y0, Y9")
	w.op("VMULPS Y4, Y9, Y9")
	w.op("VMOVUPS Y9, (DI)") // ζ next
	w.op("VMULPS %s, Y0, Y0", c(1))
	w.op("VSUBPS (SI), Y0, Y0")
	w.op("VFMADD231PS (R12), Y1, Y0")
	w.op("VMOVUPS Y0, (SI)")
	for _, r := range []string{"AX", "BX", "CX", "DX", "DI", "SI", "R12"} {
		w.op("ADDQ $32, %s", r)
	}
	w.op("ADDQ $%d, R15", block)
	segmentEpilogue(w, "loopBX", "rowBX", h, false)
}

// segmentPrologue starts an x-band segment loop over bandXArgs: the row
// count, the block offset at a row's end and the step from a row's end to
// the next row's start in the frame, the operands in AX (u, row y−h), BX,
// CX, DX, DI, SI, R12, R13 (W, or nil) and R14 (the table), the strides
// in R8–R11; then, at each row's start, a prefetch of the row
// prefetchRows ahead (of u, the row its stencil then adds), which the
// hardware prefetchers do not follow at a stride of a few vectors per
// row, and R15, the block offset, cleared.
func segmentPrologue(w *asmWriter, name, row string, h, block int) {
	fmt.Fprintf(w, "\n// func %s%d(a *bandXArgs)\nTEXT ·%s%d(SB), NOSPLIT, $24-8\n", name, 2*h, name, 2*h)
	w.op("MOVQ a+0(FP), R14")
	w.op("MOVQ %d(R14), AX", xArgsNVec)
	w.op("IMULQ $%d, AX", block)
	w.op("MOVQ AX, end-24(SP)")
	w.op("MOVQ %d(R14), AX", xArgsRows)
	w.op("MOVQ AX, rows-8(SP)")
	w.op("MOVQ %d(R14), AX", xArgsNVec)
	w.op("SHLQ $5, AX")
	w.op("NEGQ AX")
	w.op("ADDQ %d(R14), AX", xArgsStr)
	w.op("MOVQ AX, adv-16(SP)")
	w.strides(xArgsStr)
	for i, r := range []string{"AX", "BX", "CX", "DX", "DI", "SI", "R12", "R13", "R14"} {
		w.op("MOVQ %d(R14), %s", 8*i, r)
	}
	fmt.Fprintf(w, "%s%d:\n", row, h)
	for _, r := range []string{"BX", "CX", "DX", "DI", "SI", "R12"} {
		w.op("PREFETCHT0 %s", rowOperand(0, r, prefetchRows))
		w.op("PREFETCHT0 %s", rowOperand(64, r, prefetchRows))
	}
	base, m := "AX", 2*h+prefetchRows
	if m > 8 {
		w.op("LEAQ %s, R15", rowOperand(0, "AX", 8))
		base, m = "R15", m-8
	}
	w.op("PREFETCHT0 %s", rowOperand(0, base, m))
	w.op("PREFETCHT0 %s", rowOperand(64, base, m))
	w.op("XORQ R15, R15")
}

// segmentEpilogue ends a segment loop: the next vector, the next row
// (W's pointer in R13 too, when withW and it is not nil), return.
func segmentEpilogue(w *asmWriter, loop, row string, h int, withW bool) {
	w.op("CMPQ R15, end-24(SP)")
	w.op("JLT %s%d", loop, h)
	w.op("MOVQ adv-16(SP), R15")
	for _, r := range []string{"AX", "BX", "CX", "DX", "DI", "SI", "R12"} {
		w.op("ADDQ R15, %s", r)
	}
	if withW {
		w.op("TESTQ R13, R13")
		w.op("JZ next%s%d", row, h)
		w.op("ADDQ R15, R13")
		fmt.Fprintf(w, "next%s%d:\n", row, h)
	}
	w.op("DECQ rows-8(SP)")
	w.op("JNZ %s%d", row, h)
	w.op("VZEROUPPER")
	w.op("RET")
}

// rowPrologue starts a y-band row loop over bandYArgs or backwardYArgs
// (same layout): its six pointers in AX, BX, CX, DX, DI and R12, the
// vector count in R13, the strides in R8–R11 and the coefficient vectors
// at R14.
func rowPrologue(w *asmWriter, name, args string, h int) {
	fmt.Fprintf(w, "\n// func %s%d(a *%s)\nTEXT ·%s%d(SB), NOSPLIT, $0-8\n", name, 2*h, args, name, 2*h)
	w.op("MOVQ a+0(FP), R14")
	for i, r := range []string{"AX", "BX", "CX", "DX", "DI", "R12", "R13"} {
		w.op("MOVQ %d(R14), %s", 8*i, r)
	}
	w.strides(56)
	w.op("ADDQ $%d, R14", yArgsCoef)
}
