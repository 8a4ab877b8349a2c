# torchwave: Go core (c-shared) + Python package.
PYTHON ?= python3
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
PY_DEPS := torch numpy scipy pytest matplotlib tqdm ruff dask distributed
# What the tests need besides: torchwave.io and the wheel; Deepwave 0.0.27,
# the reference the agreement tests compare with (it takes the torch above).
TEST_DEPS := segyio build auditwheel deepwave==0.0.27
# What `make docs` needs.
DOCS_DEPS := mkdocs-material "mkdocstrings[python]"
# The type checker of `make lint`, pinned: another version may report otherwise.
MYPY := mypy==2.4.1
LIB := python/torchwave/libtorchwave.so
GOARCH := $(shell $(GO) env GOARCH)
# archsimd vector kernels on amd64; plain Go elsewhere.
ifeq ($(GOARCH),amd64)
GOEXP := GOEXPERIMENT=simd
endif
HASH = $(shell $(PYTHON) python/torchwave/_sourcehash.py .)
# staticcheck, installed into GOBIN (or GOPATH/bin) when missing or at
# another version.
STATICCHECK_VERSION := 0.8.2
STATICCHECK = $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)/staticcheck
# The fuzz targets of goexport; go test fuzzes one target per run.
FUZZ_TARGETS = $(shell grep -ho '^func Fuzz[A-Za-z0-9_]*' goexport/*_test.go | cut -c6-)
# Packages whose kernels are written by their internal/gen.
GENERATORS = $(patsubst %/,%,$(dir $(shell git grep -l '^//go:generate go run ./internal/gen' -- '*.go')))

.PHONY: all deps build install demo docs wheel test test-go test-python lint generate generate-check bench fuzz fuzz-quick clean

all: build

# Python packages, installed once into the machine's Python (torch is large:
# pip shows its progress).
deps:
	@$(PYTHON) -c "import torch, numpy, scipy, pytest, matplotlib, tqdm, dask, distributed" 2>/dev/null || { \
		echo "== installing $(PY_DEPS) into $$($(PYTHON) -c 'import sys; print(sys.prefix)')"; \
		echo "== (PyTorch and its libraries are a few GB: this takes minutes)"; \
		$(PYTHON) -m pip install $(PY_DEPS); }
	@$(PYTHON) -c "import segyio, build, auditwheel, deepwave" 2>/dev/null || { \
		echo "== installing $(TEST_DEPS)"; $(PYTHON) -m pip install $(TEST_DEPS); }
	@$(PYTHON) -m ruff --version >/dev/null 2>&1 || $(PYTHON) -m pip install -q ruff
	@$(PYTHON) -m mypy --version 2>/dev/null | grep -q '^mypy $(subst mypy==,,$(MYPY)) ' || \
		$(PYTHON) -m pip install -q $(MYPY)

# GOBUILDFLAGS=-v lists each package as it compiles (make demo does).
build:
	@test -f $(LIB) || echo "== building the Go core into $(LIB) (a first build compiles every package: a minute or two)"
	$(GOEXP) CGO_ENABLED=1 $(GO) build $(GOBUILDFLAGS) -buildmode=c-shared -trimpath \
		-ldflags "-s -w -X main.sourceHash=$(HASH)" -o $(LIB) ./goexport
	rm -f python/torchwave/libtorchwave.h

# Without build isolation pip uses this Python's setuptools: pyproject.toml's
# license fields (PEP 639) need 77 or later.
install:
	@$(PYTHON) -c "import setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) < 77)" 2>/dev/null || \
		$(PYTHON) -m pip install -q "setuptools>=77"
	$(PYTHON) -m pip install -e . --no-build-isolation

demo: GOBUILDFLAGS = -v
demo: deps build
	@echo "== running examples/fwi_demo.py (about two minutes on two cores)"
	PYTHONPATH=python $(PYTHON) examples/fwi_demo.py

# The documentation site (mkdocs-material + mkdocstrings) into site/, every
# warning an error. docs/make_figures.py redraws its figures.
docs:
	@$(PYTHON) -c "import mkdocs, material, mkdocstrings_handlers.python" 2>/dev/null || { \
		echo "== installing $(DOCS_DEPS)"; $(PYTHON) -m pip install $(DOCS_DEPS); }
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict

# The sdist and the py3-none-manylinux_2_34 wheel into dist/ (needs Go).
wheel:
	$(PYTHON) -m build --outdir dist .

test: deps build lint test-go fuzz-quick test-python

test-go:
	$(GOEXP) $(GO) vet ./...
	$(GOEXP) $(GO) test ./...
	GOEXPERIMENT= $(GO) test ./kernels/...

test-python:
	PYTHONPATH=python $(PYTHON) -m pytest -q python/tests

lint: generate-check
	test -z "$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files -o --exclude-standard '*.go'))"
	@$(STATICCHECK) -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION))' || \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION)
	$(GOEXP) $(STATICCHECK) ./...
	GOEXPERIMENT= $(STATICCHECK) ./kernels/...
	$(PYTHON) -m ruff check python examples bench setup.py build_backend docs/make_figures.py docs/_hooks
	$(PYTHON) -m ruff format --check python examples bench setup.py build_backend docs/make_figures.py docs/_hooks
	$(PYTHON) -m mypy  # the public-API modules in pyproject.toml's [tool.mypy] files

# Every bench/bench_*.py in its smoke-sized --quick mode, one after another,
# each followed by its wall time; the full runs are in docs/benchmarks.md.
BENCHES := $(sort $(wildcard bench/bench_*.py))

generate:
	$(GOEXP) $(GO) generate ./...

# Fails, naming the files, if a generated file is not what its
# generator writes.
generate-check:
	@for d in $(GENERATORS); do \
		echo "(cd $$d && go run ./internal/gen -check)"; \
		(cd $$d && $(GOEXP) $(GO) run ./internal/gen -check) || exit 1; \
	done

bench: deps build
	@$(PYTHON) -c "import deepwave" 2>/dev/null || $(PYTHON) -m pip install -q deepwave==0.0.27
	@for b in $(BENCHES); do \
		echo "== $$b --quick"; start=$$(date +%s); \
		PYTHONPATH=python $(PYTHON) $$b --quick || exit 1; \
		echo "== $$b: $$(( $$(date +%s) - start )) s"; echo; \
	done

# fuzz_each runs every fuzz target for $(1) executions. A count, not a
# duration: Go 1.26's fuzz coordinator can report a spurious "context
# deadline exceeded" failure when a -fuzztime duration ends under load
# (golang/go#75804, fixed in Go 1.27).
define fuzz_each
	@for t in $(FUZZ_TARGETS); do \
		echo "go test -run '^$$' -fuzz '^$$t$$' -fuzztime $(1) ./goexport"; \
		$(GOEXP) $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(1) ./goexport || exit 1; \
	done
endef

fuzz-quick:
	$(call fuzz_each,20000x)

fuzz:
	$(call fuzz_each,500000x)

clean:
	rm -f $(LIB) python/torchwave/libtorchwave.h
	rm -rf site dist build
