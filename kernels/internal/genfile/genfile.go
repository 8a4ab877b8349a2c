// Package genfile writes the files of the kernel generators. Every
// generator takes the same flags:
//
//	-out DIR  directory to write the files into (default ".")
//	-check    write nothing; exit 1 naming each file whose content
//	          differs from what would be generated
package genfile

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"strings"
)

// A File is one generated file: its name in the output directory and
// its content. Go sources are gofmt'ed before they are written.
type File struct {
	Name string
	Data []byte
}

// Main parses the flags, runs generate and writes or checks its files.
func Main(generate func() ([]File, error)) {
	log.SetFlags(0)
	log.SetPrefix(filepath.Base(os.Args[0]) + ": ")
	out := flag.String("out", ".", "directory to write the generated files into")
	check := flag.Bool("check", false, "write nothing; fail naming each file that differs from what would be generated")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	files, err := generate()
	if err != nil {
		log.Fatal(err)
	}
	var stale []string
	for _, f := range files {
		path := filepath.Join(*out, f.Name)
		data := f.Data
		if strings.HasSuffix(f.Name, ".go") {
			src, err := format.Source(data)
			if err != nil {
				// Leave the unformatted source where it would have gone,
				// so the error's line numbers can be read against it.
				if !*check {
					os.WriteFile(path, data, 0o644)
				}
				log.Fatalf("%s: %v", path, err)
			}
			data = src
		}
		if *check {
			if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, data) {
				stale = append(stale, path)
			}
			continue
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if len(stale) > 0 {
		for _, path := range stale {
			fmt.Fprintf(os.Stderr, "%s is not what the generator writes\n", path)
		}
		log.Fatal("stale generated files: run go generate")
	}
}
