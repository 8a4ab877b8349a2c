// Command gen writes the interior kernels of package maxwell, unrolled for
// each stencil order and mode: zz_generated_interior_go.go holds the
// plain-Go kernels (every build; they also finish the cells the vector
// kernels leave), and zz_generated_interior_simd_amd64.go the archsimd
// ones.
//
//	go generate ./kernels/maxwell
//
// Flags: -out DIR writes into DIR (default "."); -check writes nothing and
// fails if a committed file differs from what would be generated.
//
// Each kernel is described once as a list of statements over loads at
// (row, column) offsets from the cell; both backends render the same
// operations in the same order, so their results agree bit for bit.
package main

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/torchwave/torchwave/kernels/internal/genfile"
)

// ex is an expression rendered for both backends.
type ex struct{ g, v string }

// tap is a load of array a at row offset dy and column offset dx.
type tap struct {
	a      string
	dy, dx int
}

func (t tap) name() string {
	s := t.a
	if t.dy != 0 {
		s += "Y" + signed(t.dy)
	}
	if t.dx != 0 {
		s += "X" + signed(t.dx)
	}
	if t.dy == 0 && t.dx == 0 {
		s += "C"
	}
	return s
}

func signed(n int) string {
	if n < 0 {
		return fmt.Sprintf("m%d", -n)
	}
	return fmt.Sprintf("p%d", n)
}

// stmt assigns e to a new variable (to == "") or stores it to array to at
// the cell.
type stmt struct {
	name, to string
	e        ex
}

type body struct {
	taps  map[tap]bool
	coefs map[string]bool
	stmts []stmt
}

func (b *body) ld(a string, dy, dx int) ex {
	t := tap{a, dy, dx}
	b.taps[t] = true
	return ex{t.name() + "[j]", "ld(" + t.a + "," + strconv.Itoa(t.dy) + "," + strconv.Itoa(t.dx) + ")"}
}

func (b *body) coef(name string) ex {
	b.coefs[name] = true
	return ex{name, name}
}

func sub(a, c ex) ex { return ex{"(" + a.g + " - " + c.g + ")", a.v + ".Sub(" + c.v + ")"} }
func add(a, c ex) ex { return ex{a.g + " + " + c.g, a.v + ".Add(" + c.v + ")"} }
func mul(a, c ex) ex { return ex{a.g + "*" + c.g, a.v + ".Mul(" + c.v + ")"} }
func paren(a ex) ex  { return ex{"(" + a.g + ")", a.v} }

// sum adds the terms left to right, as the reference loops accumulate.
func sum(terms []ex) ex {
	s := terms[0]
	for _, t := range terms[1:] {
		s = add(s, t)
	}
	return s
}

func (b *body) let(name string, e ex) ex {
	b.stmts = append(b.stmts, stmt{name: name, e: e})
	return ex{name, name}
}

func (b *body) store(a string, e ex) {
	b.taps[tap{a, 0, 0}] = true
	b.stmts = append(b.stmts, stmt{to: a, e: e})
}

// kernel is one row kernel: which pass, the stencil half-width h and
// whether the stores or gradients are written.
type kernel struct {
	pass string // forwardH, forwardE, backwardE, backwardH
	h    int
	io   bool
}

func (k kernel) mode() string {
	if !k.io {
		return "Plain"
	}
	if strings.HasPrefix(k.pass, "forward") {
		return "Store"
	}
	return "Grad"
}

func (k kernel) name() string { return fmt.Sprintf("%s%s%d", k.pass, k.mode(), 2*k.h) }

func cy(b *body, k int) ex { return b.coef(fmt.Sprintf("cy%d", k)) }
func cx(b *body, k int) ex { return b.coef(fmt.Sprintf("cx%d", k)) }

// build describes the kernel; the formulas are forwardH, forwardE,
// backwardE and backwardH away from the CPML.
func (k kernel) build() *body {
	b := &body{taps: map[tap]bool{}, coefs: map[string]bool{}}
	h := k.h
	var tz, tx []ex
	switch k.pass {
	case "forwardH":
		for i := 1; i <= h; i++ {
			tz = append(tz, mul(cy(b, i), sub(b.ld("ey", i, 0), b.ld("ey", -(i-1), 0))))
			tx = append(tx, mul(cx(b, i), sub(b.ld("ey", 0, i), b.ld("ey", 0, -(i-1)))))
		}
		dz := b.let("dz", sum(tz))
		dx := b.let("dx", sum(tx))
		if k.io {
			b.store("storeZ", dz)
			b.store("storeX", dx)
		}
		cq := b.ld("cq", 0, 0)
		b.store("hx", sub(b.ld("hx", 0, 0), mul(cq, dz)))
		b.store("hz", add(b.ld("hz", 0, 0), mul(cq, dx)))
	case "forwardE":
		for i := 1; i <= h; i++ {
			tz = append(tz, mul(cy(b, i), sub(b.ld("hx", i-1, 0), b.ld("hx", -i, 0))))
			tx = append(tx, mul(cx(b, i), sub(b.ld("hz", 0, i-1), b.ld("hz", 0, -i))))
		}
		ez := b.let("ez", sum(tz))
		ex1 := b.let("ex", sum(tx))
		curl := b.let("curl", sub(ex1, ez))
		ey := b.ld("ey", 0, 0)
		if k.io {
			b.store("storeEy", ey)
			b.store("storeCurl", curl)
		}
		b.store("ey", add(mul(b.ld("ca", 0, 0), ey), mul(b.ld("cb", 0, 0), curl)))
	case "backwardE":
		g := func(dy, dx int) ex { return mul(b.ld("cb", dy, dx), b.ld("ey", dy, dx)) }
		for i := 1; i <= h; i++ {
			tz = append(tz, mul(cy(b, i), sub(g(i, 0), g(-(i-1), 0))))
			tx = append(tx, mul(cx(b, i), sub(g(0, -(i-1)), g(0, i))))
		}
		dz := b.let("dz", sum(tz))
		dx := b.let("dx", sum(tx))
		b.store("hx", add(b.ld("hx", 0, 0), dz))
		b.store("hz", add(b.ld("hz", 0, 0), dx))
		lam := b.ld("ey", 0, 0)
		if k.io {
			b.store("gCA", add(b.ld("gCA", 0, 0), mul(lam, b.ld("storeEy", 0, 0))))
			b.store("gCB", add(b.ld("gCB", 0, 0), mul(lam, b.ld("storeCurl", 0, 0))))
		}
		b.store("eyn", mul(b.ld("ca", 0, 0), lam))
	case "backwardH":
		q := func(a string, dy, dx int) ex { return mul(b.ld("cq", dy, dx), b.ld(a, dy, dx)) }
		var t []ex
		for i := 1; i <= h; i++ {
			t = append(t, mul(cy(b, i), sub(q("hx", i-1, 0), q("hx", -i, 0))))
		}
		for i := 1; i <= h; i++ {
			t = append(t, mul(cx(b, i), sub(q("hz", 0, -i), q("hz", 0, i-1))))
		}
		d := b.let("d", sum(t))
		b.store("eyn", add(b.ld("eyn", 0, 0), d))
		if k.io {
			hz, hx := b.ld("hz", 0, 0), b.ld("hx", 0, 0)
			b.store("gCQ", add(b.ld("gCQ", 0, 0), paren(sub(mul(hz, b.ld("storeX", 0, 0)), mul(hx, b.ld("storeZ", 0, 0))))))
		}
	}
	return b
}

func (b *body) sortedTaps() []tap {
	var ts []tap
	for t := range b.taps {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].name() < ts[j].name() })
	return ts
}

func (b *body) sortedCoefs() []string {
	var cs []string
	for c := range b.coefs {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	return cs
}

// arrays lists the arrays a kernel touches, each with its offset range.
func (b *body) arrays() (names []string, lo, hi map[string]string) {
	lo, hi = map[string]string{}, map[string]string{}
	minOff, maxOff := map[string]tap{}, map[string]tap{}
	off := func(t tap) int { return t.dy*1_000_000 + t.dx } // rows dominate
	for _, t := range b.sortedTaps() {
		if _, ok := minOff[t.a]; !ok {
			names = append(names, t.a)
			minOff[t.a], maxOff[t.a] = t, t
		}
		if off(t) < off(minOff[t.a]) {
			minOff[t.a] = t
		}
		if off(t) > off(maxOff[t.a]) {
			maxOff[t.a] = t
		}
	}
	sort.Strings(names)
	for _, a := range names {
		lo[a], hi[a] = cellOffset(minOff[a]), cellOffset(maxOff[a])
	}
	return names, lo, hi
}

// cellOffset is the flat offset of a tap in cells, as Go source.
func cellOffset(t tap) string {
	s := ""
	if t.dy != 0 {
		s = fmt.Sprintf("%+d*nx", t.dy)
	}
	if t.dx != 0 {
		s += fmt.Sprintf("%+d", t.dx)
	}
	return s
}

var passes = []string{"forwardH", "forwardE", "backwardE", "backwardH"}

// ioField is the view field whose presence selects a kernel's io mode.
var ioField = map[string]string{"forwardH": "storeZ", "forwardE": "storeEy", "backwardE": "gCA", "backwardH": "gCQ"}

func genGo(w *bytes.Buffer) {
	w.WriteString(`// Code generated by kernels/maxwell/internal/gen; DO NOT EDIT.

package maxwell

`)
	for _, pass := range passes {
		fmt.Fprintf(w, "// %sInteriorGo runs %s on cells [i0, i1) of one row away from the CPML.\n", pass, pass)
		fmt.Fprintf(w, "func %sInteriorGo[T Float](s *stencil[T], v *view[T], i0, i1, nx int) {\n", pass)
		fmt.Fprintf(w, "\tio := v.%s != nil\n\tswitch {\n", ioField[pass])
		for h := 1; h <= 4; h++ {
			for _, io := range []bool{false, true} {
				k := kernel{pass, h, io}
				fmt.Fprintf(w, "\tcase s.h == %d && %sio:\n\t\t%s(s, v, i0, i1, nx)\n", h, map[bool]string{true: "", false: "!"}[io], k.name())
			}
		}
		w.WriteString("\t}\n}\n\n")
	}
	for _, pass := range passes {
		for h := 1; h <= 4; h++ {
			for _, io := range []bool{false, true} {
				k := kernel{pass, h, io}
				b := k.build()
				fmt.Fprintf(w, "func %s[T Float](s *stencil[T], v *view[T], i0, i1, nx int) {\n", k.name())
				w.WriteString("\tn := i1 - i0\n\tif n <= 0 {\n\t\treturn\n\t}\n")
				for _, c := range b.sortedCoefs() {
					fmt.Fprintf(w, "\t%s := s.%s[%s]\n", c, c[:2], c[2:])
				}
				w.WriteString("\t// Each tap is resliced to exactly n cells, so the loop needs no\n\t// bounds checks.\n")
				for _, t := range b.sortedTaps() {
					fmt.Fprintf(w, "\t%s := v.%s[i0%s:][:n]\n", t.name(), t.a, cellOffset(t))
				}
				w.WriteString("\tfor j := 0; j < n; j++ {\n")
				for _, s := range b.stmts {
					if s.to == "" {
						fmt.Fprintf(w, "\t\t%s := %s\n", s.name, s.e.g)
					} else {
						fmt.Fprintf(w, "\t\t%s[j] = %s\n", tap{s.to, 0, 0}.name(), s.e.g)
					}
				}
				w.WriteString("\t}\n}\n\n")
			}
		}
	}
}

type vtype struct {
	t, vec, sfx string
	lanes       int
}

var vtypes = []vtype{{"float32", "Float32x8", "F32", 8}, {"float64", "Float64x4", "F64", 4}}

func genSIMD(w *bytes.Buffer) {
	w.WriteString(`// Code generated by kernels/maxwell/internal/gen; DO NOT EDIT.

//go:build goexperiment.simd && amd64

package maxwell

import (
	"simd/archsimd"
	"unsafe"
)

// SIMD reports whether the interior kernels use archsimd vector code.
const SIMD = true

`)
	for _, pass := range passes {
		fmt.Fprintf(w, "func %sInterior[T Float](s *stencil[T], v *view[T], i0, i1, nx int) {\n", pass)
		w.WriteString("\tif i1 <= i0 {\n\t\treturn\n\t}\n\ti := i0\n\tswitch s := any(s).(type) {\n")
		for _, vt := range vtypes {
			fmt.Fprintf(w, "\tcase *stencil[%s]:\n\t\tv := any(v).(*view[%s])\n\t\tio := v.%s != nil\n\t\tswitch {\n", vt.t, vt.t, ioField[pass])
			for h := 1; h <= 4; h++ {
				for _, io := range []bool{false, true} {
					k := kernel{pass, h, io}
					fmt.Fprintf(w, "\t\tcase s.h == %d && %sio:\n\t\t\ti = %s%s(s, v, i0, i1, nx)\n", h, map[bool]string{true: "", false: "!"}[io], k.name(), vt.sfx)
				}
			}
			w.WriteString("\t\t}\n")
		}
		w.WriteString("\t}\n\tarchsimd.ClearAVXUpperBits()\n")
		fmt.Fprintf(w, "\t%sInteriorGo(s, v, i, i1, nx)\n}\n\n", pass)
	}
	fmt.Fprintf(w, `// vecCoef holds the stencil weights broadcast to vectors.
type vecCoef[V any] struct{ cy, cx [5]V }

func vectorCoefficients[T Float](s *stencil[T]) any {
	switch s := any(s).(type) {
	case *stencil[float32]:
		v := &vecCoef[archsimd.Float32x8]{}
		for k := 1; k <= s.h; k++ {
			v.cy[k], v.cx[k] = archsimd.BroadcastFloat32x8(s.cy[k]), archsimd.BroadcastFloat32x8(s.cx[k])
		}
		return v
	case *stencil[float64]:
		v := &vecCoef[archsimd.Float64x4]{}
		for k := 1; k <= s.h; k++ {
			v.cy[k], v.cx[k] = archsimd.BroadcastFloat64x4(s.cy[k]), archsimd.BroadcastFloat64x4(s.cx[k])
		}
		return v
	}
	return nil
}

`)
	for _, vt := range vtypes {
		for _, pass := range passes {
			for h := 1; h <= 4; h++ {
				for _, io := range []bool{false, true} {
					k := kernel{pass, h, io}
					genVec(w, k, vt)
				}
			}
		}
	}
}

// genVec writes one vector kernel: whole vectors of cells from i0 while
// they fit before i1; it returns where it stopped.
func genVec(w *bytes.Buffer, k kernel, vt vtype) {
	b := k.build()
	fmt.Fprintf(w, "func %s%s(s *stencil[%s], v *view[%s], i0, i1, nx int) int {\n", k.name(), vt.sfx, vt.t, vt.t)
	names, lo, hi := b.arrays()
	w.WriteString("\t// One bounds check per array: the extreme cells any load or store\n\t// touches; the loop then uses unchecked loads.\n")
	for _, a := range names {
		fmt.Fprintf(w, "\t_ = v.%s[i0%s]\n\t_ = v.%s[i1-1%s]\n", a, lo[a], a, hi[a])
	}
	vc := fmt.Sprintf("s.vec.(*vecCoef[archsimd.%s])", vt.vec)
	fmt.Fprintf(w, "\tvc := %s\n", vc)
	for _, c := range b.sortedCoefs() {
		fmt.Fprintf(w, "\t%s := vc.%s[%s]\n", c, c[:2], c[2:])
	}
	fmt.Fprintf(w, "\tconst size = int(unsafe.Sizeof(%s(0)))\n", vt.t)
	fmt.Fprintf(w, "\tld := func(p unsafe.Pointer) archsimd.%s { return archsimd.Load%s((*[%d]%s)(p)) }\n", vt.vec, vt.vec, vt.lanes, vt.t)
	w.WriteString("\t// One pointer per array, advanced a vector at a time; taps are byte\n\t// offsets from it.\n")
	for _, a := range names {
		fmt.Fprintf(w, "\t%s := unsafe.Pointer(&v.%s[i0])\n", a, a)
	}
	rows := map[int]bool{}
	for _, t := range b.sortedTaps() {
		if t.dy != 0 {
			rows[t.dy] = true
		}
	}
	var dys []int
	for dy := range rows {
		dys = append(dys, dy)
	}
	sort.Ints(dys)
	for _, dy := range dys {
		fmt.Fprintf(w, "\to%s := %d * nx * size\n", tap{dy: dy}.name(), dy)
	}
	fmt.Fprintf(w, "\tconst step = %d * size\n\ti := i0\n\tfor ; i+%d <= i1; i += %d {\n", vt.lanes, vt.lanes, vt.lanes)
	for _, s := range b.stmts {
		v := vecLoads(s.e.v)
		if s.to == "" {
			fmt.Fprintf(w, "\t\t%s := %s\n", s.name, v)
		} else {
			fmt.Fprintf(w, "\t\t%s.Store((*[%d]%s)(%s))\n", v, vt.lanes, vt.t, s.to)
		}
	}
	for _, a := range names {
		fmt.Fprintf(w, "\t\t%s = unsafe.Add(%s, step)\n", a, a)
	}
	w.WriteString("\t}\n\treturn i\n}\n\n")
}

var ldRE = regexp.MustCompile(`ld\((\w+),(-?\d+),(-?\d+)\)`)

// vecLoads renders the loads of a vector expression as offsets from each
// array's pointer: row offsets are variables, column offsets constants.
func vecLoads(e string) string {
	return ldRE.ReplaceAllStringFunc(e, func(m string) string {
		g := ldRE.FindStringSubmatch(m)
		dy, _ := strconv.Atoi(g[2])
		dx, _ := strconv.Atoi(g[3])
		switch {
		case dy != 0:
			return fmt.Sprintf("ld(unsafe.Add(%s, o%s))", g[1], tap{dy: dy}.name())
		case dx != 0:
			return fmt.Sprintf("ld(unsafe.Add(%s, %d*size))", g[1], dx)
		}
		return "ld(" + g[1] + ")"
	})
}

func main() {
	genfile.Main(func() ([]genfile.File, error) {
		var g, v bytes.Buffer
		genGo(&g)
		genSIMD(&v)
		return []genfile.File{
			{Name: "zz_generated_interior_go.go", Data: g.Bytes()},
			{Name: "zz_generated_interior_simd_amd64.go", Data: v.Bytes()},
		}, nil
	})
}
