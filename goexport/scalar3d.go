package main

import (
	"fmt"

	"github.com/torchwave/torchwave/kernels/scalar"
)

// The 3D scalar family (ndim = 3): not built yet.

var err3D = fmt.Errorf("%w: 3D scalar propagation", errUnsupported)

func runScalar3D[T scalar.Float](a scalarCall, backward bool) error     { return err3D }
func runBoundary3D[T scalar.Float](a boundaryCall, backward bool) error { return err3D }
func boundaryCells3D[T scalar.Float](a scalarCall, n *int) error        { return err3D }
