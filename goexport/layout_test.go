package main

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/maxwell"
	"github.com/torchwave/torchwave/kernels/scalar"
)

type layoutField struct {
	Name   string `json:"name"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
}

type layout struct {
	Version int                        `json:"version"`
	Status  map[string]int             `json:"status"`
	Dtype   map[string]int             `json:"dtype"`
	SIMD    map[string]int             `json:"simd"`
	Structs map[string]json.RawMessage `json:"structs"`
}

type layoutStruct struct {
	Size   int64         `json:"size"`
	Fields []layoutField `json:"fields"`
}

func decodeLayout(t *testing.T) (layout, map[string]layoutStruct) {
	t.Helper()
	var doc layout
	if err := json.Unmarshal([]byte(layoutDocument()), &doc); err != nil {
		t.Fatalf("tw_abi_layout's document is not JSON: %v", err)
	}
	structs := map[string]layoutStruct{}
	for name, raw := range doc.Structs {
		var s layoutStruct
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		structs[name] = s
	}
	return doc, structs
}

func TestLayoutConstants(t *testing.T) {
	doc, _ := decodeLayout(t)
	if doc.Version != int(tw_abi_version()) {
		t.Errorf("version %d, tw_abi_version %d", doc.Version, tw_abi_version())
	}
	want := map[string]map[string]int{
		"status": {"TW_OK": 0, "TW_EINVAL": 1, "TW_EPANIC": 2, "TW_EUNSUPPORTED": 3},
		"dtype":  {"TW_FLOAT32": 0, "TW_FLOAT64": 1},
		"simd":   {"TW_SIMD_SCALAR": 1, "TW_SIMD_MAXWELL": 2},
	}
	for group, got := range map[string]map[string]int{"status": doc.Status, "dtype": doc.Dtype, "simd": doc.SIMD} {
		if !reflect.DeepEqual(got, want[group]) {
			t.Errorf("%s: got %v, want %v", group, got, want[group])
		}
	}
	mask := 0
	if scalar.SIMD {
		mask |= doc.SIMD["TW_SIMD_SCALAR"]
	}
	if maxwell.SIMD {
		mask |= doc.SIMD["TW_SIMD_MAXWELL"]
	}
	if got := int(tw_simd()); got != mask {
		t.Errorf("tw_simd() = %d, want %d", got, mask)
	}
}

func TestLayoutStructs(t *testing.T) {
	_, structs := decodeLayout(t)
	if len(structs) != len(abiStructs) {
		t.Errorf("the document lists %d structs, abiStructs %d", len(structs), len(abiStructs))
	}
	for _, a := range abiStructs {
		s, ok := structs[a.name]
		if !ok {
			t.Errorf("%s is missing", a.name)
			continue
		}
		if s.Size != int64(a.sizeof) || uintptr(s.Size) != a.typ.Size() {
			t.Errorf("%s: size %d, C sizeof %d, Go %d", a.name, s.Size, a.sizeof, a.typ.Size())
		}
		if len(s.Fields) == 0 {
			t.Errorf("%s has no fields", a.name)
		}
		end := int64(0)
		for _, f := range s.Fields {
			if f.Name == "" || f.Name == "_" || f.Size <= 0 {
				t.Errorf("%s: field %+v", a.name, f)
			}
			if f.Offset < end {
				t.Errorf("%s.%s at %d overlaps the field before, which ends at %d", a.name, f.Name, f.Offset, end)
			}
			end = f.Offset + f.Size
			if sf, ok := a.typ.FieldByName(f.Name); !ok || int64(sf.Offset) != f.Offset || int64(sf.Type.Size()) != f.Size {
				t.Errorf("%s.%s: %+v, cgo's field %+v", a.name, f.Name, f, sf)
			}
		}
		if end > s.Size {
			t.Errorf("%s: fields end at %d, past its size %d", a.name, end, s.Size)
		}
	}
	// A nested struct is one field of the nested struct's size.
	for _, n := range []struct{ outer, field, inner string }{
		{"tw_scalar_boundary_args", "base", "tw_scalar_args"},
		{"tw_scalar_born_args", "bg", "tw_scalar_args"},
	} {
		f := fieldNamed(t, structs[n.outer], n.field)
		if f.Offset != 0 || f.Size != structs[n.inner].Size {
			t.Errorf("%s.%s: %+v, want offset 0 and %s's size %d", n.outer, n.field, f, n.inner, structs[n.inner].Size)
		}
	}
}

func fieldNamed(t *testing.T, s layoutStruct, name string) layoutField {
	t.Helper()
	for _, f := range s.Fields {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no field %s", name)
	return layoutField{}
}

// headerStructs parses torchwave.h's typedef structs: their names and
// their fields' names in order.
func headerStructs(t *testing.T) map[string][]string {
	t.Helper()
	text, err := os.ReadFile("torchwave.h")
	if err != nil {
		t.Fatal(err)
	}
	src := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(text), "")
	defs := regexp.MustCompile(`(?s)typedef\s+struct\s*\{(.*?)\n\}\s*(\w+)\s*;`).FindAllStringSubmatch(src, -1)
	if n := strings.Count(src, "typedef struct"); n != len(defs) {
		t.Fatalf("torchwave.h has %d typedef structs, the test parses %d", n, len(defs))
	}
	declarator := regexp.MustCompile(`(\w+)\s*(\[\s*\w+\s*\])?\s*$`)
	structs := map[string][]string{}
	for _, d := range defs {
		var fields []string
		for _, decl := range strings.Split(d[1], ";") {
			if strings.TrimSpace(decl) == "" {
				continue
			}
			for _, part := range strings.Split(decl, ",") {
				m := declarator.FindStringSubmatch(part)
				if m == nil {
					t.Fatalf("%s: cannot parse %q", d[2], part)
				}
				fields = append(fields, m[1])
			}
		}
		structs[d[2]] = fields
	}
	return structs
}

// Every struct of the header is in the document, with the header's
// fields in the header's order.
func TestLayoutCoversHeader(t *testing.T) {
	_, structs := decodeLayout(t)
	header := headerStructs(t)
	if len(header) == 0 {
		t.Fatal("no typedef struct found in torchwave.h")
	}
	for name, want := range header {
		s, ok := structs[name]
		if !ok {
			t.Errorf("%s is in torchwave.h but not in tw_abi_layout", name)
			continue
		}
		var got []string
		for _, f := range s.Fields {
			got = append(got, f.Name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: fields %v, torchwave.h %v", name, got, want)
		}
	}
	for name := range structs {
		if _, ok := header[name]; !ok {
			t.Errorf("%s is in tw_abi_layout but not in torchwave.h", name)
		}
	}
}

func TestCopyLayout(t *testing.T) {
	doc := layoutDocument()
	need := int64(len(doc))
	if got := copyLayout(nil, 0); got != need {
		t.Fatalf("copyLayout(nil, 0) = %d, want %d", got, need)
	}
	const fill = 0xa5
	buf := make([]byte, need+8)
	for _, n := range []int64{1, need / 2, need} {
		for i := range buf {
			buf[i] = fill
		}
		if got := copyLayout(unsafe.Pointer(&buf[0]), n); got != need {
			t.Errorf("n = %d: returned %d, want %d", n, got, need)
		}
		for i, c := range buf {
			if c != fill {
				t.Fatalf("n = %d, too small: byte %d was written", n, i)
			}
		}
	}
	for i := range buf {
		buf[i] = fill
	}
	if got := copyLayout(unsafe.Pointer(&buf[0]), need+1); got != need {
		t.Errorf("n = %d: returned %d, want %d", need+1, got, need)
	}
	if string(buf[:need]) != doc || buf[need] != 0 {
		t.Errorf("the document was not written with its NUL")
	}
	for i := need + 1; i < int64(len(buf)); i++ {
		if buf[i] != fill {
			t.Errorf("byte %d past the NUL was written", i)
		}
	}
}
