package main

import (
	"fmt"

	"github.com/torchwave/torchwave/kernels/scalar"
)

// The 1D scalar family (ndim = 1): not built yet.

var err1D = fmt.Errorf("%w: 1D scalar propagation", errUnsupported)

func runScalar1D[T scalar.Float](a scalarCall, backward bool) error     { return err1D }
func runBorn1D[T scalar.Float](a bornCall, backward bool) error         { return err1D }
func runBoundary1D[T scalar.Float](a boundaryCall, backward bool) error { return err1D }
func boundaryCells1D[T scalar.Float](a scalarCall, n *int) error        { return err1D }
