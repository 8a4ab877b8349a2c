# torchwave: Go core (c-shared) + Python package.
PYTHON ?= python3
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
PY_DEPS := torch numpy scipy pytest matplotlib tqdm ruff dask distributed
# The type checker of `make lint`, pinned: another version may report otherwise.
MYPY := mypy==2.4.1
LIB := python/torchwave/libtorchwave.so
GOARCH := $(shell $(GO) env GOARCH)
# archsimd vector kernels on amd64; plain Go elsewhere.
ifeq ($(GOARCH),amd64)
GOEXP := GOEXPERIMENT=simd
endif
HASH = $(shell $(PYTHON) python/torchwave/_sourcehash.py .)

.PHONY: all deps build install demo test test-go test-python lint bench fuzz clean

all: build

# Python packages, installed once into the machine's Python (torch is large).
deps:
	@$(PYTHON) -c "import torch, numpy, scipy, pytest, matplotlib, tqdm, dask, distributed" 2>/dev/null || \
		$(PYTHON) -m pip install -q $(PY_DEPS)
	@$(PYTHON) -m ruff --version >/dev/null 2>&1 || $(PYTHON) -m pip install -q ruff
	@$(PYTHON) -m mypy --version 2>/dev/null | grep -q '^mypy $(subst mypy==,,$(MYPY)) ' || \
		$(PYTHON) -m pip install -q $(MYPY)

build:
	$(GOEXP) CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath \
		-ldflags "-s -w -X main.sourceHash=$(HASH)" -o $(LIB) ./goexport
	rm -f python/torchwave/libtorchwave.h

# Without build isolation pip uses this Python's setuptools: pyproject.toml's
# license fields (PEP 639) need 77 or later.
install:
	@$(PYTHON) -c "import setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) < 77)" 2>/dev/null || \
		$(PYTHON) -m pip install -q "setuptools>=77"
	$(PYTHON) -m pip install -e . --no-build-isolation

demo: deps build
	PYTHONPATH=python $(PYTHON) examples/fwi_demo.py

test: deps build lint test-go test-python

test-go:
	$(GOEXP) $(GO) vet ./...
	$(GOEXP) $(GO) test ./...
	GOEXPERIMENT= $(GO) test ./kernels/...

test-python:
	PYTHONPATH=python $(PYTHON) -m pytest -q python/tests

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files -o --exclude-standard '*.go'))"
	$(PYTHON) -m ruff check python examples bench setup.py
	$(PYTHON) -m mypy  # the public-API modules in pyproject.toml's [tool.mypy] files

# Every bench/bench_*.py in its smoke-sized --quick mode, one after another,
# each followed by its wall time; the full runs are in docs/benchmarks.md.
BENCHES := $(sort $(wildcard bench/bench_*.py))

bench: deps build
	@$(PYTHON) -c "import deepwave" 2>/dev/null || $(PYTHON) -m pip install -q deepwave==0.0.27
	@for b in $(BENCHES); do \
		echo "== $$b --quick"; start=$$(date +%s); \
		PYTHONPATH=python $(PYTHON) $$b --quick || exit 1; \
		echo "== $$b: $$(( $$(date +%s) - start )) s"; echo; \
	done

fuzz:
	$(GOEXP) $(GO) test -run XXX -fuzz FuzzScalarArguments -fuzztime 60s ./goexport

clean:
	rm -f $(LIB) python/torchwave/libtorchwave.h
