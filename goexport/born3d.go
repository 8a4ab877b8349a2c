package main

import "github.com/torchwave/torchwave/kernels/scalar"

// Born modelling in 3D (ndim = 3): not built yet.

func runBorn3D[T scalar.Float](a bornCall, backward bool) error { return err3D }
