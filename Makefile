# torchwave: Go core (c-shared) + Python package.
PYTHON ?= python3
GO ?= go
LIB := python/torchwave/libtorchwave.so
GOARCH := $(shell $(GO) env GOARCH)
# archsimd vector kernels on amd64; plain Go elsewhere.
ifeq ($(GOARCH),amd64)
GOEXP := GOEXPERIMENT=simd
endif
HASH = $(shell $(PYTHON) python/torchwave/_sourcehash.py .)

.PHONY: all build install demo test test-go test-python lint bench clean

all: build

build:
	$(GOEXP) CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath \
		-ldflags "-s -w -X main.sourceHash=$(HASH)" -o $(LIB) ./goexport
	rm -f python/torchwave/libtorchwave.h

install:
	$(PYTHON) -m pip install -e . --no-build-isolation

demo: build
	PYTHONPATH=python $(PYTHON) examples/fwi_demo.py

test: build test-go test-python

test-go:
	$(GOEXP) $(GO) vet ./...
	$(GOEXP) $(GO) test ./...
	GOEXPERIMENT= $(GO) test ./kernels/...

test-python:
	PYTHONPATH=python $(PYTHON) -m pytest -q python/tests

lint:
	test -z "$$(gofmt -l goexport kernels)"
	$(PYTHON) -m ruff check python examples bench setup.py

bench: build
	PYTHONPATH=python $(PYTHON) bench/bench_scalar.py

clean:
	rm -f $(LIB) python/torchwave/libtorchwave.h
